//! The builtin baseline: native checks that need no Ruby and work on distroless targets. It reads
//! the target's root through a directory file descriptor (`/proc/<pid>/root`, opened once; any
//! directory in tests) with kernel-enforced lookups that never leave it ([`root`]), the target
//! process' `/proc/<pid>` files ([`runtime`]), and writes HDF.
//!
//! Every check is a control with a stable id ([`controls`]); one result per finding, or one passed
//! result when there is none. What could not be examined (an unreadable directory or file, a file
//! over the content limit in a key directory) is an `error` result naming the path and the
//! reason, so a control never passes on missing evidence. Inventory controls (OS identity,
//! packages) have impact 0: informational. Inputs (allow lists) and waivers come in InSpec's file
//! formats ([`policy`]).

pub mod accounts;
pub mod checks;
pub mod content;
pub mod controls;
pub mod inventory;
pub mod policy;
pub mod report;
pub mod root;
pub mod runtime;
pub mod walk;

pub use controls::{ALL_CONTROLS, ControlDef};
pub use policy::Policy;
pub use runtime::TargetProcess;

use crate::hdf::{Platform, Report, Statistics};
use report::{Evaluated, Finding};
use rustix::fd::BorrowedFd;
use std::collections::BTreeMap;
use std::time::Instant;

pub const PROFILE_NAME: &str = "sidescan-baseline";
/// Bump when a control's logic or metadata changes (the profile sha256 changes with it).
pub const PROFILE_VERSION: &str = "2.0.0";
/// Worker threads of the walk: the content scan reads every file, and two readers keep a
/// 150,000-entry root under a second (docs/benchmarks.md).
pub const WALK_THREADS: usize = 2;

/// What the target is, for the builtin backend.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The target's `/`: a directory descriptor (`O_PATH` is enough).
    pub root: BorrowedFd<'a>,
    /// The target process; `None` (a directory scan) skips the process controls.
    pub process: Option<&'a TargetProcess>,
    /// `platform.target_id`: the container ID when known, else `<namespace>/<target>`.
    pub target_id: Option<&'a str>,
    pub policy: &'a Policy,
}

/// The outcome of a builtin scan.
#[derive(Debug, Clone)]
pub struct BuiltinScan {
    pub report: Report,
    pub os_release: BTreeMap<String, String>,
    pub entries_walked: u64,
    pub files_read: u64,
}

/// Scans `target` and builds the HDF report. `started` stamps the results and decides which
/// waivers have expired. [`crate::Error::TargetGone`] when the target process exits meanwhile:
/// nothing of a partial walk is reported.
pub fn scan(target: Target<'_>, started: jiff::Timestamp) -> Result<BuiltinScan, crate::Error> {
    scan_with_threads(target, started, WALK_THREADS)
}

/// [`scan`] with a chosen number of walk threads (benchmarks).
pub fn scan_with_threads(
    target: Target<'_>,
    started: jiff::Timestamp,
    threads: usize,
) -> Result<BuiltinScan, crate::Error> {
    let clock = Instant::now();
    let pid = target.process.map(|p| p.pid).unwrap_or(0);
    let alive = || target.process.is_none_or(|p| p.alive());
    let gone = |entries: u64| crate::Error::TargetGone { pid, entries };
    if !alive() {
        return Err(gone(0));
    }
    // Without openat2 no lookup could be kept inside the root: refuse rather than report every
    // path as unreadable.
    if let Err(rustix::io::Errno::NOSYS) =
        root::open_in_root(target.root, "/", rustix::fs::OFlags::PATH)
    {
        return Err(crate::Error::KernelFeature {
            feature: "openat2 with RESOLVE_IN_ROOT (Linux 5.6 or later)",
            detail: "the kernel answered ENOSYS".into(),
        });
    }
    for input in &target.policy.unknown_inputs {
        tracing::warn!(input = %input, "input not read by the builtin baseline");
    }
    for id in target.policy.waivers.keys() {
        if !ALL_CONTROLS.iter().any(|c| c.id == id) {
            tracing::warn!(control = %id, "waiver for a control the builtin baseline does not have");
        }
    }
    let root = target.root;
    let key_dirs: Vec<String> = checks::KEY_DIRS.iter().map(|d| d.to_string()).collect();
    let key_dirs = walk::resolve_dirs(root, &key_dirs);
    let walk_clock = Instant::now();
    let walked = walk::walk(&walk::WalkRequest {
        root,
        key_dirs: &key_dirs,
        threads,
        alive: &alive,
    })
    .map_err(|walk::WalkError::Gone { entries }| gone(entries))?;
    let walk_seconds = walk_clock.elapsed().as_secs_f64();
    tracing::debug!(
        entries = walked.entries,
        files_read = walked.files_read,
        vanished = walked.vanished,
        dir_gaps = walked.dir_gaps.total(),
        file_gaps = walked.file_gaps.total(),
        other_mounts = walked.other_mounts.total(),
        seconds = walk_seconds,
        "walk finished"
    );

    let inputs = &target.policy.inputs;
    let process = target.process;
    let os_read = checks::read_os_release(root);
    let os_release = os_read.clone().unwrap_or_default();
    let accounts = checks::AccountFiles::read(root);
    let (root_mount_id, root_read_only) = root_mount(root);
    let mut evaluated = Vec::with_capacity(ALL_CONTROLS.len());
    let mut check = |def: ControlDef, walk_share: f64, run: &dyn Fn() -> Vec<Finding>| {
        let t = Instant::now();
        let findings = run();
        evaluated.push(Evaluated {
            def,
            findings,
            seconds: walk_share + t.elapsed().as_secs_f64(),
        });
    };
    use controls::*;
    // The walk serves four controls; each carries a quarter of its time.
    let share = walk_seconds / 4.0;
    check(SENSITIVE_FILES, 0.0, &|| checks::account_files(root));
    check(WORLD_WRITABLE, share, &|| {
        checks::world_writable(&walked, inputs)
    });
    check(SETID_BINARIES, share, &|| checks::setid(&walked, inputs));
    check(NON_ROOT, 0.0, &|| checks::non_root(process));
    check(CAPABILITIES, 0.0, &|| checks::capabilities(process));
    check(NO_NEW_PRIVS, 0.0, &|| checks::no_new_privs(process));
    check(SECCOMP, 0.0, &|| checks::seccomp(process));
    check(READ_ONLY_ROOT, 0.0, &|| {
        checks::read_only_root(process, root_mount_id, root_read_only)
    });
    check(LSM_CONFINEMENT, 0.0, &|| checks::lsm(process));
    check(SHELLS, 0.0, &|| {
        checks::programs(
            root,
            process,
            &checks::SHELL_NAMES,
            "shell",
            "allowed_shells",
            inputs,
        )
    });
    check(PACKAGE_MANAGERS, 0.0, &|| {
        checks::programs(
            root,
            process,
            &checks::PACKAGE_MANAGER_NAMES,
            "package manager",
            "allowed_package_managers",
            inputs,
        )
    });
    check(PRIVATE_KEYS, share, &|| {
        checks::private_keys(&walked, inputs)
    });
    check(CREDENTIAL_FILES, share, &|| {
        checks::credential_files(&walked, inputs)
    });
    check(UID0_ACCOUNTS, 0.0, &|| {
        checks::uid0_accounts(&accounts, inputs)
    });
    check(EMPTY_PASSWORDS, 0.0, &|| checks::empty_passwords(&accounts));
    check(SYSTEM_ACCOUNT_SHELLS, 0.0, &|| {
        checks::system_account_shells(&accounts, inputs)
    });
    check(OS_IDENTITY, 0.0, &|| checks::os_identity(&os_read));
    check(PACKAGES, 0.0, &|| checks::packages(root));
    // A target that exited while the checks ran: its state is unknown.
    if !alive() {
        return Err(gone(walked.entries));
    }

    let start_time = started.to_string();
    let controls: Vec<_> = evaluated
        .into_iter()
        .map(|e| {
            let waiver = target
                .policy
                .waivers
                .get(e.def.id)
                .map(|w| (w, w.effect(started)));
            report::control(e, &start_time, waiver)
        })
        .collect();
    let statistics = report::control_statistics(&controls);
    let platform = Platform {
        name: os_release
            .get("ID")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        release: os_release
            .get("VERSION_ID")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        target_id: target.target_id.map(str::to_string),
    };
    let report = Report {
        platform,
        profiles: vec![report::profile(
            controls,
            target.policy,
            PROFILE_VERSION,
            PROFILE_NAME,
        )],
        statistics: Statistics {
            duration: clock.elapsed().as_secs_f64(),
            controls: Some(statistics),
        },
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok(BuiltinScan {
        report,
        os_release,
        entries_walked: walked.entries,
        files_read: walked.files_read,
    })
}

/// The root's mount id (`statx`, kernel >= 5.8) and whether its filesystem is read-only (`statfs`).
fn root_mount(root: BorrowedFd<'_>) -> (Option<u64>, Result<bool, rustix::io::Errno>) {
    use rustix::fs::{AtFlags, StatVfsMountFlags, StatxFlags};
    let mount_id = rustix::fs::statx(root, c"", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .ok()
        .filter(|st| st.stx_mask & StatxFlags::MNT_ID.bits() != 0)
        .map(|st| st.stx_mnt_id);
    let read_only =
        rustix::fs::fstatvfs(root).map(|s| s.f_flag.contains(StatVfsMountFlags::RDONLY));
    (mount_id, read_only)
}

#[cfg(test)]
mod tests;
