//! Proving, before every scan, that the scanner sees the target and only the target.
//!
//! The evidence is a handful of file identities (device, inode) gathered on both sides: by the
//! agent (the pinned root descriptor, its own `/`, `/proc/<pid>/exe`, a marker file only the
//! scanner has) and *through the view* the scan will use (for `cinc`: a probe program run with the
//! very PRoot command line the scan uses; for `builtin`: paths resolved beneath the descriptor).
//! [`check`] compares them; any mismatch ends the run (exit 3) before a result can be produced.
//! For `cinc` the probe also tries the metadata calls Landlock does not govern on a file of the
//! scanner's own (each a no-op were it allowed): every one must be refused with `EPERM`.

use crate::root::FileId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// What each metadata call on the marker gave in the view (`cinc` only; must all be
    /// `EPERM`); `None` when not applicable.
    pub metadata_in_view: Option<BTreeMap<String, String>>,
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
    if let Some(calls) = &e.metadata_in_view {
        let allowed: Vec<String> = calls
            .iter()
            .filter(|(_, outcome)| outcome.as_str() != "EPERM")
            .map(|(call, outcome)| format!("{call}: {outcome}"))
            .collect();
        if calls.is_empty() || !allowed.is_empty() {
            return Err(format!(
                "the view does not refuse metadata calls ({}): the scan could change the \
                 target's modes, owners, timestamps or extended attributes",
                if calls.is_empty() {
                    "none was tried".to_string()
                } else {
                    allowed.join(", ")
                }
            ));
        }
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

/// What the probe program (`sidescan-agent probe-view`) prints from inside the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub root: FileId,
    pub entries: Vec<String>,
    /// Each asked path with its identity, `None` when it does not exist.
    pub stats: BTreeMap<String, Option<FileId>>,
    /// The outcome of each metadata call tried ([`try_metadata_calls`]).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// Tries the metadata calls Landlock does not govern on `path` (a file of the caller's own),
/// each in a form that changes nothing when allowed: `chmod` and `fchmod` to the current mode,
/// `chown` and `fchown` to -1/-1, `utimensat` with both times omitted, `setxattr` replacing and
/// `removexattr` removing an attribute that does not exist. Returns `ok` or the errno's name per
/// call: in the view all must be `EPERM`.
pub fn try_metadata_calls(path: &str) -> BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut outcomes = BTreeMap::new();
    let Ok(c_path) = std::ffi::CString::new(path) else {
        return outcomes;
    };
    let (file, mode) = match std::fs::File::open(path).and_then(|f| {
        let mode = f.metadata()?.mode() & 0o7777;
        Ok((f, mode))
    }) {
        Ok(found) => found,
        Err(e) => {
            outcomes.insert(
                "open".to_string(),
                errno_name(e.raw_os_error().unwrap_or(0)),
            );
            return outcomes;
        }
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let p = c_path.as_ptr();
    let name = c"user.sidescan-probe".as_ptr();
    let omit = [libc::timespec {
        tv_sec: 0,
        tv_nsec: libc::UTIME_OMIT,
    }; 2];
    let mut attempt = |call: &str, f: &dyn Fn() -> libc::c_int| {
        let outcome = if f() == 0 {
            "ok".to_string()
        } else {
            errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        };
        outcomes.insert(call.to_string(), outcome);
    };
    // SAFETY (each): a system call with a valid C string, an open descriptor, integers.
    attempt("chmod", &|| unsafe { libc::chmod(p, mode) });
    attempt("fchmod", &|| unsafe { libc::fchmod(fd, mode) });
    attempt("chown", &|| unsafe { libc::chown(p, u32::MAX, u32::MAX) });
    attempt("fchown", &|| unsafe {
        libc::fchown(fd, u32::MAX, u32::MAX)
    });
    attempt("utimensat", &|| unsafe {
        libc::utimensat(libc::AT_FDCWD, p, omit.as_ptr(), 0)
    });
    attempt("setxattr", &|| unsafe {
        libc::setxattr(p, name, c"".as_ptr().cast(), 0, libc::XATTR_REPLACE)
    });
    attempt("removexattr", &|| unsafe { libc::removexattr(p, name) });
    outcomes
}

/// The symbolic name of an errno the probe may see.
fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::ENODATA => "ENODATA".into(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".into(),
        libc::EROFS => "EROFS".into(),
        other => format!("errno {other}"),
    }
}

/// The probe itself: run inside the view, it looks at `/` and at each of `paths`, and tries the
/// metadata calls on `metadata` when given.
pub fn probe(paths: &[String], metadata: Option<&str>) -> std::io::Result<ProbeReport> {
    let root = crate::root::file_id(&std::fs::metadata("/")?);
    let mut entries: Vec<String> = std::fs::read_dir("/")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    entries.sort();
    let stats = paths
        .iter()
        .map(|p| {
            let id = std::fs::metadata(p).ok().map(|m| crate::root::file_id(&m));
            (p.clone(), id)
        })
        .collect();
    Ok(ProbeReport {
        root,
        entries,
        stats,
        metadata: metadata.map(try_metadata_calls).unwrap_or_default(),
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
            metadata_in_view: Some(refused()),
        }
    }

    fn refused() -> BTreeMap<String, String> {
        ["chmod", "chown", "utimensat", "setxattr"]
            .into_iter()
            .map(|call| (call.to_string(), "EPERM".to_string()))
            .collect()
    }

    #[test]
    fn a_view_that_allows_metadata_calls_is_refused() {
        let mut calls = refused();
        calls.insert("chmod".into(), "ok".into());
        calls.insert("setxattr".into(), "ENODATA".into());
        let e = Evidence {
            metadata_in_view: Some(calls),
            ..good()
        };
        let err = check(&e).unwrap_err();
        assert!(
            err.contains("does not refuse metadata calls (chmod: ok, setxattr: ENODATA)"),
            "{err}"
        );
        let e = Evidence {
            metadata_in_view: Some(BTreeMap::new()),
            ..good()
        };
        assert!(check(&e).unwrap_err().contains("none was tried"));
        // builtin: nothing runs in a view, nothing to try.
        let e = Evidence {
            metadata_in_view: None,
            ..good()
        };
        assert_eq!(check(&e), Ok(()));
    }

    #[test]
    fn metadata_calls_are_no_ops_when_allowed() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("marker");
        std::fs::write(&path, "m").unwrap();
        let before = std::fs::metadata(&path).unwrap();
        let outcomes = try_metadata_calls(path.to_str().unwrap());
        let calls: Vec<&str> = outcomes.keys().map(String::as_str).collect();
        assert_eq!(
            calls,
            [
                "chmod",
                "chown",
                "fchmod",
                "fchown",
                "removexattr",
                "setxattr",
                "utimensat"
            ]
        );
        for call in ["chmod", "fchmod", "chown", "fchown", "utimensat"] {
            assert_eq!(outcomes[call], "ok", "{call}");
        }
        // No such attribute (or none on this file system): never EPERM without a filter.
        for call in ["setxattr", "removexattr"] {
            assert!(
                ["ENODATA", "EOPNOTSUPP"].contains(&outcomes[call].as_str()),
                "{call}: {}",
                outcomes[call]
            );
        }
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (
                after.mode(),
                after.uid(),
                after.gid(),
                after.mtime(),
                after.mtime_nsec()
            ),
            (
                before.mode(),
                before.uid(),
                before.gid(),
                before.mtime(),
                before.mtime_nsec()
            )
        );
        assert_eq!(try_metadata_calls("/nonexistent/marker")["open"], "ENOENT");
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
