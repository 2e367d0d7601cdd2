//! The run's files on the shared volume: `<results dir>/<run folder>/hdf.json` and
//! `metadata.json`, the folder named as in the object store (`sidescan_core::layout`).
//! Files are created once (never overwritten) and never deleted by the agent.

use serde::Serialize;
use sidescan_core::{ResultFile, RunLocation};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `metadata.json` records about a run.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    pub run_id: String,
    pub namespace: String,
    pub target: String,
    pub pod: Option<String>,
    pub node: Option<String>,
    pub container: Option<String>,
    pub image: Option<String>,
    pub image_digest: Option<String>,
    pub container_id: Option<String>,
    pub pid: u32,
    /// How the target process was found (`container-id`, `pattern`, `heuristic`, `pid`).
    pub identified_by: String,
    pub target_uid: Option<u32>,
    pub backend: String,
    pub profile: Option<String>,
    /// Tool versions: the runner, and the scanner (`cinc-auditor --version`) when known.
    pub versions: BTreeMap<String, String>,
    pub started: String,
    pub finished: String,
    /// Milliseconds per phase (`identify`, `verify`, `scan`, ...).
    pub timings_ms: BTreeMap<String, u64>,
    pub os_release: BTreeMap<String, String>,
    /// For a scan in an audit clone: the workload, container, and what the clone does not
    /// reproduce (volumes not scanned, environment left out), as the audit runner passed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<serde_json::Value>,
    /// How the scanner saw the target: the mechanism, whether it was read-only, the proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewRecord>,
}

/// `metadata.json`'s record of the target view: what was proven before the scan.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ViewRecord {
    /// `descriptor` (builtin: reads beneath the pinned root) or `proot` (cinc).
    pub mechanism: String,
    /// Every write tried into the target through the view was refused ([`Self::writes_tried`]).
    /// False when nothing could be tried (no Landlock: a try would have written).
    pub read_only: bool,
    /// The Landlock ABI the view (cinc) or the scan threads (builtin) were confined with.
    pub landlock_abi: Option<u32>,
    /// The user accepted a writable view (`--allow-writable-view`) because Landlock was missing.
    pub allow_writable_view: bool,
    /// What was compared before the scan.
    pub proof: String,
    /// What confined the processes or threads that read the target.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub confinement: String,
    /// Each write tried into the target through the view, in order, and how it ended (`EACCES`:
    /// refused; `not tried`: an earlier one succeeded, or there was nothing to try it on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writes_tried: Vec<crate::proof::WriteAttempt>,
    /// The capability sets, `NoNewPrivs` and `Seccomp` of the view's programs (cinc) or the scan
    /// threads (builtin), as `/proc/thread-self/status` showed them there.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub processes: BTreeMap<String, String>,
    /// What a program in the view got trying to reach another process (`ptrace`,
    /// `/proc/<pid>/mem`); cinc only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other_processes: BTreeMap<String, String>,
}

/// The run's folder on the volume.
pub fn run_dir(results_dir: &Path, location: &RunLocation) -> PathBuf {
    results_dir.join(location.folder())
}

/// Writes one result file, refusing to replace an existing one. Written to a temporary name and
/// renamed, so a reader never sees half a file.
pub fn write_new(dir: &Path, file: ResultFile, bytes: &[u8]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(file.file_name());
    if path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} exists; results are never overwritten", path.display()),
        ));
    }
    let tmp = dir.join(format!(".{}.partial", file.file_name()));
    {
        let mut out = std::fs::File::create(&tmp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
    }
    // hard_link fails if the final name appeared meanwhile: no overwrite even in a race.
    std::fs::hard_link(&tmp, &path)?;
    std::fs::remove_file(&tmp)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_core::RunId;

    #[test]
    fn writes_once_under_the_layout_folder() {
        let dir = tempfile::tempdir().unwrap();
        let loc = RunLocation::new(
            "scans",
            "default",
            "nginx",
            "2026-11-26T15:20:45Z".parse().unwrap(),
            RunId::parse("abc123").unwrap(),
        )
        .unwrap();
        let run = run_dir(dir.path(), &loc);
        assert!(run.ends_with("scans/default/nginx/20261126T152045Z-abc123"));
        let path = write_new(&run, ResultFile::Hdf, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let err = write_new(&run, ResultFile::Hdf, b"[]").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert!(!run.join(".hdf.json.partial").exists());
    }
}
