//! Proving, before every scan, that the scanner sees the target and only the target.
//!
//! The evidence is a handful of file identities (device, inode) gathered on both sides: by the
//! agent (the pinned root descriptor, its own `/`, `/proc/<pid>/exe`, a marker file only the
//! scanner has) and *through the view* the scan will use (for `cinc`: a probe program run with the
//! very PRoot command line the scan uses; for `builtin`: paths resolved beneath the descriptor).
//! [`check`] compares them; any mismatch ends the run (exit 3) before a result can be produced.

use crate::agent::root::FileId;
use serde::{Deserialize, Serialize};

/// What both sides saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    /// The scanner's own `/`.
    pub scanner_root: FileId,
    /// The pinned target root descriptor (`fstat`).
    pub target_root: FileId,
    /// `/` as seen through the view.
    pub view_root: FileId,
    /// The target's `/` entries read through the descriptor, sorted.
    pub target_entries: Vec<String>,
    /// `/` entries listed through the view, sorted.
    pub view_entries: Vec<String>,
    /// Names the view may add to the target's `/` (its own mount points: the scanner prefix,
    /// `proc`, `dev`, `sys`).
    pub view_extras: Vec<String>,
    /// The target's executable (`stat /proc/<pid>/exe`) and its path (`readlink`), when the
    /// path still names it (not `(deleted)`).
    pub target_exe: Option<(String, FileId)>,
    /// That path resolved through the view.
    pub target_exe_in_view: Option<FileId>,
    /// A marker only the scanner has: its scanner-side path and identity.
    pub marker: (String, FileId),
    /// The marker's scanner-side path resolved through the view (must not be the marker).
    pub marker_in_view: Option<FileId>,
    /// The marker reached through the scanner's prefix in the view (`cinc` only: the tool finds
    /// its own files there); `None` when not applicable.
    pub marker_through_prefix: Option<Option<FileId>>,
}

/// Checks the evidence; the error says what the view showed instead.
pub fn check(e: &Evidence) -> Result<(), String> {
    if e.target_root == e.scanner_root {
        return Err(format!(
            "the target's root is the scanner's own root (device {}, inode {}): the target \
             process shares the scanner's filesystem, so nothing would tell them apart",
            e.scanner_root.0, e.scanner_root.1
        ));
    }
    if e.view_root != e.target_root {
        let whose = if e.view_root == e.scanner_root {
            "the scanner's own root"
        } else {
            "neither the target's nor the scanner's root"
        };
        return Err(format!(
            "the view's / is {whose} (device {}, inode {}), not the target's (device {}, inode {})",
            e.view_root.0, e.view_root.1, e.target_root.0, e.target_root.1
        ));
    }
    let missing: Vec<&String> = e
        .target_entries
        .iter()
        .filter(|n| !e.view_entries.contains(n))
        .collect();
    let foreign: Vec<&String> = e
        .view_entries
        .iter()
        .filter(|n| !e.target_entries.contains(n) && !e.view_extras.contains(n))
        .collect();
    if !missing.is_empty() || !foreign.is_empty() {
        return Err(format!(
            "the view's / lists [{}], the target's root [{}]",
            e.view_entries.join(", "),
            e.target_entries.join(", ")
        ));
    }
    if let Some((path, exe)) = &e.target_exe
        && e.target_exe_in_view != Some(*exe)
    {
        return Err(match e.target_exe_in_view {
            None => format!("the target's executable {path} is not visible in the view"),
            Some(_) => format!("{path} in the view is not the target's executable"),
        });
    }
    if e.marker_in_view == Some(e.marker.1) {
        return Err(format!(
            "the scanner's marker {} is visible at its own path in the view: the view shows \
             the scanner's files",
            e.marker.0
        ));
    }
    if let Some(through_prefix) = e.marker_through_prefix
        && through_prefix != Some(e.marker.1)
    {
        return Err(format!(
            "the scanner's marker {} is not reachable under the scanner prefix in the view",
            e.marker.0
        ));
    }
    Ok(())
}

/// The target's path of its executable. The kernel prints `/proc/<pid>/exe` relative to the
/// *reader's* root: for a target `chroot`ed beneath the scanner's root that is the full
/// scanner-side path (`/proc/<pid>/root` then reads back as its directory), for a `pivot_root`ed
/// one the path inside the target (`/proc/<pid>/root` reads back as `/`). `None` for a deleted
/// executable or a path outside the root.
pub fn exe_in_target(exe_link: &str, root_link: &str) -> Option<String> {
    if exe_link.ends_with(" (deleted)") || !exe_link.starts_with('/') {
        return None;
    }
    let root = root_link.trim_end_matches('/');
    if root.is_empty() {
        return Some(exe_link.to_string());
    }
    let rest = exe_link.strip_prefix(root)?;
    rest.starts_with('/').then(|| rest.to_string())
}

/// What the probe program (`sidescan-runner probe-view`) prints from inside the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub root: FileId,
    pub entries: Vec<String>,
    /// Each asked path with its identity, `None` when it does not exist.
    pub stats: std::collections::BTreeMap<String, Option<FileId>>,
}

/// The probe itself: run inside the view, it looks at `/` and at each of `paths`.
pub fn probe(paths: &[String]) -> std::io::Result<ProbeReport> {
    let root = crate::agent::root::file_id(&std::fs::metadata("/")?);
    let mut entries: Vec<String> = std::fs::read_dir("/")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    entries.sort();
    let stats = paths
        .iter()
        .map(|p| {
            let id = std::fs::metadata(p)
                .ok()
                .map(|m| crate::agent::root::file_id(&m));
            (p.clone(), id)
        })
        .collect();
    Ok(ProbeReport {
        root,
        entries,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCANNER: FileId = (1, 2);
    const TARGET: FileId = (7, 2);

    fn good() -> Evidence {
        Evidence {
            scanner_root: SCANNER,
            target_root: TARGET,
            view_root: TARGET,
            target_entries: vec!["app".into(), "etc".into()],
            view_entries: vec![".sidescan-scanner".into(), "app".into(), "etc".into()],
            view_extras: vec![".sidescan-scanner".into(), "proc".into()],
            target_exe: Some(("/app/server".into(), (7, 40))),
            target_exe_in_view: Some((7, 40)),
            marker: ("/results/.work/r/view-marker".into(), (5, 9)),
            marker_in_view: None,
            marker_through_prefix: Some(Some((5, 9))),
        }
    }

    #[test]
    fn the_targets_view_passes() {
        assert_eq!(check(&good()), Ok(()));
        let builtin = Evidence {
            marker_through_prefix: None,
            ..good()
        };
        assert_eq!(check(&builtin), Ok(()));
    }

    #[test]
    fn the_scanners_own_root_is_refused() {
        // What a canonicalized /proc/<pid>/root of a pivot_root'ed target gives.
        let e = Evidence {
            view_root: SCANNER,
            ..good()
        };
        let err = check(&e).unwrap_err();
        assert!(err.contains("the scanner's own root"), "{err}");
    }

    #[test]
    fn a_target_sharing_the_scanners_root_is_refused() {
        let e = Evidence {
            target_root: SCANNER,
            view_root: SCANNER,
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("shares the scanner's filesystem")
        );
    }

    #[test]
    fn other_listings_and_missing_executables_are_refused() {
        let e = Evidence {
            view_entries: vec!["bin".into(), "usr".into()],
            ..good()
        };
        assert!(check(&e).unwrap_err().contains("lists [bin, usr]"));
        let e = Evidence {
            target_exe_in_view: None,
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("/app/server is not visible")
        );
        let e = Evidence {
            target_exe_in_view: Some((7, 41)),
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("not the target's executable")
        );
        // A deleted executable (replaced after start) is not evidence either way.
        let e = Evidence {
            target_exe: None,
            target_exe_in_view: None,
            ..good()
        };
        assert_eq!(check(&e), Ok(()));
    }

    #[test]
    fn executable_paths_in_the_target() {
        assert_eq!(
            exe_in_target("/app/server", "/"),
            Some("/app/server".into())
        );
        assert_eq!(
            exe_in_target("/var/roots/t1/app/server", "/var/roots/t1"),
            Some("/app/server".into())
        );
        assert_eq!(exe_in_target("/var/roots/t10/x", "/var/roots/t1"), None);
        assert_eq!(exe_in_target("/app/server (deleted)", "/"), None);
    }

    #[test]
    fn a_visible_scanner_marker_is_refused() {
        let e = Evidence {
            marker_in_view: Some((5, 9)),
            ..good()
        };
        assert!(check(&e).unwrap_err().contains("shows the scanner's files"));
        let e = Evidence {
            marker_through_prefix: Some(None),
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("not reachable under the scanner prefix")
        );
    }
}
