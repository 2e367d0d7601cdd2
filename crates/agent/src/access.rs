//! Verifying that the target's root is readable through `/proc/<pid>/root`, and saying exactly why
//! when it is not.
//!
//! The kernel guards `/proc/<pid>/root` with a ptrace "read" access check
//! (`PTRACE_MODE_READ_FSCREDS`). Without `CAP_SYS_PTRACE` it passes only when
//! 1. the scanner's filesystem UID equals the target's real, effective and saved UIDs (and the same
//!    for GIDs),
//! 2. the target is dumpable (a process that changed credentials, e.g. a setuid binary, or called
//!    `prctl(PR_SET_DUMPABLE, 0)`, is not; its `/proc/<pid>` entries then belong to root), and
//! 3. the target's permitted capabilities are a subset of the scanner's (a root target with the
//!    default capability set is out of reach of a root scanner that dropped all capabilities).

use crate::procfs::{CAP_SYS_PTRACE, ProcStatus};
use std::path::Path;

/// Why the target's root cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessProblem {
    /// The process is gone (ENOENT/ESRCH on its `/proc` entry).
    Exited { pid: u32 },
    /// Different UID or GID and the scanner lacks `CAP_SYS_PTRACE`.
    UidMismatch {
        pid: u32,
        scanner_uid: u32,
        target_uids: [u32; 4],
        scanner_gid: u32,
        target_gids: [u32; 4],
    },
    /// The target is not dumpable (its `/proc/<pid>` belongs to root) and the scanner lacks
    /// `CAP_SYS_PTRACE`.
    NotDumpable { pid: u32, target_uid: u32 },
    /// The target holds capabilities the scanner does not (and the scanner lacks `CAP_SYS_PTRACE`).
    MoreCapabilities { pid: u32, missing: Vec<String> },
    /// Denied for a reason outside the ptrace rules (an LSM such as AppArmor or SELinux, or a
    /// user namespace boundary).
    Denied { pid: u32, detail: String },
}

impl std::fmt::Display for AccessProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessProblem::Exited { pid } => write!(
                f,
                "target process {pid} exited before its root could be read"
            ),
            AccessProblem::UidMismatch {
                pid,
                scanner_uid,
                target_uids,
                scanner_gid,
                target_gids,
            } => write!(
                f,
                "cannot read /proc/{pid}/root: the scanner runs as uid {scanner_uid} gid \
                 {scanner_gid} but the target as uid {} gid {} (real/effective/saved uid {:?}, \
                 gid {:?}) and the scanner lacks CAP_SYS_PTRACE (CapEff of /proc/self/status); \
                 run the scanner container with the target's runAsUser/runAsGroup, or add \
                 capability SYS_PTRACE",
                target_uids[1],
                target_gids[1],
                &target_uids[..3],
                &target_gids[..3]
            ),
            AccessProblem::NotDumpable { pid, target_uid } => write!(
                f,
                "cannot read /proc/{pid}/root: the target (uid {target_uid}) is not dumpable \
                 (it changed credentials or called prctl(PR_SET_DUMPABLE, 0); its /proc entries \
                 belong to root), so only a scanner with CAP_SYS_PTRACE may read its root; add \
                 capability SYS_PTRACE"
            ),
            AccessProblem::MoreCapabilities { pid, missing } => write!(
                f,
                "cannot read /proc/{pid}/root: the target holds capabilities the scanner lacks \
                 ({}); the kernel then requires CAP_SYS_PTRACE: drop those capabilities from the \
                 target, or add SYS_PTRACE to the scanner",
                missing.join(", ")
            ),
            AccessProblem::Denied { pid, detail } => write!(
                f,
                "cannot read /proc/{pid}/root although uid, gid, dumpability and capabilities \
                 allow it: {detail} (an LSM policy such as AppArmor or SELinux, or a different \
                 user namespace, may deny it)"
            ),
        }
    }
}

/// Works out why reading the target's root was refused (EACCES/EPERM), from the scanner's and
/// the target's status and the owner of the target's `/proc/<pid>` directory.
pub fn diagnose_denied(
    pid: u32,
    scanner: &ProcStatus,
    target: &ProcStatus,
    proc_dir_owner: u32,
    detail: &str,
) -> AccessProblem {
    let ptrace = scanner.cap_eff.has(CAP_SYS_PTRACE);
    let fsuid = scanner.uid[3];
    let fsgid = scanner.gid[3];
    let uids_match = target.uid[..3].iter().all(|u| *u == fsuid);
    let gids_match = target.gid[..3].iter().all(|g| *g == fsgid);
    let same_ids = uids_match && gids_match;
    if !ptrace && !same_ids {
        return AccessProblem::UidMismatch {
            pid,
            scanner_uid: fsuid,
            target_uids: target.uid,
            scanner_gid: fsgid,
            target_gids: target.gid,
        };
    }
    // Non-dumpable processes have their /proc entries owned by root, whatever their UID.
    if !ptrace && proc_dir_owner == 0 && target.effective_uid() != 0 {
        return AccessProblem::NotDumpable {
            pid,
            target_uid: target.effective_uid(),
        };
    }
    if !ptrace && !scanner.cap_prm.contains_all(target.cap_prm) {
        let missing = crate::procfs::CapSet(target.cap_prm.0 & !scanner.cap_prm.0).names();
        return AccessProblem::MoreCapabilities { pid, missing };
    }
    AccessProblem::Denied {
        pid,
        detail: detail.to_string(),
    }
}

/// What the verify phase found out about a readable target root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub pid: u32,
    /// Number of entries in the target's `/` (a root with none is suspicious but not an error).
    pub root_entries: usize,
}

/// Reads `/proc/<pid>/root` (listing `/`) and explains a failure. `proc` is normally `/proc`.
pub fn verify(proc: &Path, pid: u32) -> Result<Access, AccessProblem> {
    let pid_dir = proc.join(pid.to_string());
    match std::fs::read_dir(pid_dir.join("root")) {
        Ok(entries) => Ok(Access {
            pid,
            root_entries: entries.count(),
        }),
        Err(err) => Err(explain(proc, pid, &err)),
    }
}

/// Explains why `/proc/<pid>/root` could not be read or opened.
pub fn explain(proc: &Path, pid: u32, err: &std::io::Error) -> AccessProblem {
    use std::os::unix::fs::MetadataExt;
    const ESRCH: i32 = 3;
    let pid_dir = proc.join(pid.to_string());
    let gone = matches!(err.kind(), std::io::ErrorKind::NotFound)
        || err.raw_os_error() == Some(ESRCH)
        || !pid_dir.exists();
    if gone {
        return AccessProblem::Exited { pid };
    }
    if err.kind() != std::io::ErrorKind::PermissionDenied {
        return AccessProblem::Denied {
            pid,
            detail: err.to_string(),
        };
    }
    let scanner = crate::procfs::read_status(proc, "self");
    let target = crate::procfs::read_status(proc, &pid.to_string());
    let owner = std::fs::metadata(&pid_dir).map(|m| m.uid());
    match (scanner, target, owner) {
        (Ok(scanner), Ok(target), Ok(owner)) => {
            diagnose_denied(pid, &scanner, &target, owner, &err.to_string())
        }
        (_, Err(e), _) | (_, _, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            AccessProblem::Exited { pid }
        }
        _ => AccessProblem::Denied {
            pid,
            detail: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::CapSet;

    fn status(uid: u32, cap: u64) -> ProcStatus {
        ProcStatus {
            uid: [uid; 4],
            gid: [uid; 4],
            cap_prm: CapSet(cap),
            cap_eff: CapSet(cap),
            ..ProcStatus::default()
        }
    }

    const DEFAULT_CAPS: u64 = 0xa80425fb;
    const PTRACE: u64 = 1 << CAP_SYS_PTRACE;

    #[test]
    fn different_uid_without_ptrace() {
        let p = diagnose_denied(9, &status(1000, 0), &status(65532, 0), 65532, "EACCES");
        assert!(matches!(
            p,
            AccessProblem::UidMismatch {
                scanner_uid: 1000,
                ..
            }
        ));
        let text = p.to_string();
        assert!(
            text.contains("uid 1000") && text.contains("uid 65532"),
            "{text}"
        );
        assert!(text.contains("CAP_SYS_PTRACE"), "{text}");
    }

    #[test]
    fn non_dumpable_target() {
        let p = diagnose_denied(9, &status(1000, 0), &status(1000, 0), 0, "EACCES");
        assert_eq!(
            p,
            AccessProblem::NotDumpable {
                pid: 9,
                target_uid: 1000
            }
        );
        assert!(p.to_string().contains("not dumpable"));
    }

    #[test]
    fn root_target_with_more_capabilities_than_the_scanner() {
        let p = diagnose_denied(9, &status(0, 0), &status(0, DEFAULT_CAPS), 0, "EACCES");
        match &p {
            AccessProblem::MoreCapabilities { missing, .. } => {
                assert!(missing.contains(&"CAP_CHOWN".to_string()), "{missing:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn with_ptrace_the_ptrace_rules_are_not_the_reason() {
        let p = diagnose_denied(
            9,
            &status(1000, PTRACE),
            &status(0, DEFAULT_CAPS),
            0,
            "EACCES",
        );
        assert!(matches!(p, AccessProblem::Denied { .. }), "{p:?}");
        assert!(p.to_string().contains("LSM"));
    }

    #[test]
    fn missing_process_is_exited() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            verify(dir.path(), 4242),
            Err(AccessProblem::Exited { pid: 4242 })
        );
    }

    #[test]
    fn own_root_is_readable() {
        let pid = std::process::id();
        let access = verify(Path::new("/proc"), pid).unwrap();
        assert!(access.root_entries > 0);
    }
}
