//! The process controls (SIDESCAN-PROC-001 to 006): the target process as the kernel runs it.

use super::Finding;
use crate::builtin::gather::Evidence;
use crate::builtin::root::errno_text;
use crate::builtin::runtime;
use crate::procfs::CapSet;

/// CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO, CAP_BPF.
const FORBIDDEN_CAPS: [u32; 6] = [21, 12, 16, 19, 17, 39];
const NO_PROCESS: &str = "no target process (directory scan)";

/// SIDESCAN-PROC-001.
pub fn non_root(evidence: &Evidence) -> Vec<Finding> {
    let process = evidence.process.as_ref();
    let desc = "the target process runs with a non-zero effective uid";
    vec![match process {
        None => Finding::skipped(desc, NO_PROCESS),
        Some(p) if p.status.effective_uid() == 0 => Finding::failed(
            desc,
            format!("process {:?} runs as uid 0 (root)", p.status.name),
        ),
        Some(p) => Finding::passed(format!(
            "the target process runs as uid {} (not root)",
            p.status.effective_uid()
        )),
    }]
}

/// SIDESCAN-PROC-002.
pub fn capabilities(evidence: &Evidence) -> Vec<Finding> {
    let process = evidence.process.as_ref();
    let Some(p) = process else {
        return vec![Finding::skipped(
            "the target process holds no administrative capabilities",
            NO_PROCESS,
        )];
    };
    let eff = p.status.cap_eff;
    let present: Vec<String> = FORBIDDEN_CAPS
        .iter()
        .filter(|bit| eff.has(**bit))
        .flat_map(|bit| CapSet(1 << bit).names())
        .collect();
    if present.is_empty() {
        return vec![Finding::passed(format!(
            "the target process holds none of the administrative capabilities (CapEff {:016x})",
            eff.0
        ))];
    }
    present
        .into_iter()
        .map(|name| {
            Finding::failed(
                format!("the target process does not hold {name}"),
                format!("{name} is in the effective set (CapEff {:016x})", eff.0),
            )
        })
        .collect()
}

/// SIDESCAN-PROC-003.
pub fn no_new_privs(evidence: &Evidence) -> Vec<Finding> {
    let process = evidence.process.as_ref();
    let desc = "the target process has no_new_privs set";
    vec![match process.map(|p| p.status.no_new_privs) {
        None => Finding::skipped(desc, NO_PROCESS),
        Some(Some(true)) => Finding::passed_with(desc, "NoNewPrivs: 1"),
        Some(Some(false)) => Finding::failed(
            desc,
            "NoNewPrivs: 0: setuid binaries and file capabilities can raise the process' privileges",
        ),
        Some(None) => Finding::error(
            desc,
            "/proc/<pid>/status has no NoNewPrivs field (kernel older than 4.10)",
        ),
    }]
}

/// SIDESCAN-PROC-004.
pub fn seccomp(evidence: &Evidence) -> Vec<Finding> {
    let process = evidence.process.as_ref();
    let desc = "the target process runs under a seccomp filter";
    vec![match process.map(|p| p.status.seccomp) {
        None => Finding::skipped(desc, NO_PROCESS),
        Some(Some(2)) => Finding::passed_with(desc, "Seccomp: 2 (filter)"),
        Some(Some(1)) => Finding::passed_with(desc, "Seccomp: 1 (strict)"),
        Some(Some(0)) => Finding::failed(
            desc,
            "Seccomp: 0: no seccomp filter, every system call is reachable",
        ),
        Some(Some(mode)) => Finding::error(desc, format!("Seccomp: {mode} is not a known mode")),
        Some(None) => Finding::error(
            desc,
            "/proc/<pid>/status has no Seccomp field (kernel without CONFIG_SECCOMP?)",
        ),
    }]
}

/// SIDESCAN-PROC-005: the root's mount by its `stx_mnt_id` in mountinfo, else the root's statfs
/// flag (mountinfo does not list the root's mount of a chroot-started process).
pub fn read_only_root(evidence: &Evidence) -> Vec<Finding> {
    let process = evidence.process.as_ref();
    let root_mount_id = evidence.root_mount.mount_id;
    let root_read_only = evidence.root_mount.read_only;
    let desc = "the target's root filesystem is mounted read-only";
    let Some(p) = process else {
        return vec![Finding::skipped(desc, NO_PROCESS)];
    };
    let facts = match (&p.mountinfo, root_mount_id) {
        (Ok(text), Some(id)) => runtime::mount_facts(text, id),
        _ => None,
    };
    let (read_only, what) = match (facts, root_read_only) {
        (Some(f), _) => (
            f.read_only,
            format!(
                "root mount: {} {} ({})",
                f.fs_type,
                f.source,
                if f.read_only { "ro" } else { "rw" }
            ),
        ),
        (None, Ok(ro)) => (
            ro,
            format!("root filesystem flags: {}", if ro { "ro" } else { "rw" }),
        ),
        (None, Err(e)) => {
            let why = match &p.mountinfo {
                Err(m) => format!("mountinfo: {m}"),
                Ok(_) => "the root's mount is not in mountinfo".into(),
            };
            return vec![Finding::error(
                desc,
                format!("{why}; statfs of the root: {}", errno_text(e)),
            )];
        }
    };
    vec![if read_only {
        Finding::passed_with(desc, what)
    } else {
        Finding::failed(
            desc,
            format!("{what}: the process can change the image's files"),
        )
    }]
}

/// SIDESCAN-PROC-006.
pub fn lsm(evidence: &Evidence) -> Vec<Finding> {
    let process = evidence.process.as_ref();
    let desc = "the target process is confined by AppArmor or SELinux";
    let Some(p) = process else {
        return vec![Finding::skipped(desc, NO_PROCESS)];
    };
    vec![match &p.lsm {
        Err(e) => Finding::error(desc, format!("the LSM label could not be read: {e}")),
        Ok(None) => Finding::skipped(
            desc,
            "no AppArmor or SELinux is active for the process (attr/current has no label): \
             confinement cannot be checked on this node",
        ),
        Ok(Some(label)) => match runtime::lsm_confines(label) {
            Some(true) => Finding::passed_with(desc, label.to_string()),
            Some(false) => Finding::failed(desc, format!("{label} does not confine the process")),
            None => Finding::skipped(desc, format!("{label}: not an LSM this check evaluates")),
        },
    }]
}
