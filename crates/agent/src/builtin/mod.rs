//! The builtin baseline: native checks that need no Ruby and work on distroless targets. It reads
//! the target's root through a directory file descriptor (`/proc/<pid>/root`, opened once; any
//! directory in tests) with kernel-enforced lookups that never leave it ([`root`]), the target
//! process' `/proc/<pid>` files ([`runtime`]), and writes HDF.
//!
//! A scan has three steps: [`gather`] reads everything the checks need into a plain
//! [`gather::Evidence`] value, within the [`Limits`]; [`checks`] judge it, pure, one function per
//! control; [`report`] turns the findings into HDF.
//!
//! Every check is a control with a stable id ([`controls`]); one result per finding, or one passed
//! result when there is none. What could not be examined (an unreadable directory or file, a file
//! over the content limit in a key directory) is an `error` result naming the path and the
//! reason, so a control never passes on missing evidence; what a limit left unexamined is a
//! `skipped` result saying "not checked" and naming the limit. Inventory controls (OS identity,
//! packages) have impact 0: informational. Inputs (allow lists) and waivers come in InSpec's file
//! formats ([`policy`]).

pub mod accounts;
pub mod checks;
pub mod content;
pub mod controls;
pub mod gather;
pub mod inventory;
pub mod limits;
pub mod listed;
pub mod policy;
pub mod report;
pub mod root;
pub mod runtime;
pub mod walk;

pub use controls::{ALL_CONTROLS, ControlDef};
pub use limits::Limits;
pub use policy::Policy;
pub use runtime::TargetProcess;

use crate::hdf::{Platform, Report, Statistics};
use report::Evaluated;
use rustix::fd::BorrowedFd;
use std::collections::BTreeMap;
use std::time::Instant;

pub const PROFILE_NAME: &str = "sidescan-baseline";
/// Bump when a control's logic or metadata changes (the profile sha256 changes with it).
pub const PROFILE_VERSION: &str = "2.1.0";
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

/// How to scan: walk threads and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    pub threads: usize,
    pub limits: Limits,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: WALK_THREADS,
            limits: Limits::DEFAULT,
        }
    }
}

/// The outcome of a builtin scan.
#[derive(Debug, Clone)]
pub struct BuiltinScan {
    pub report: Report,
    pub os_release: BTreeMap<String, String>,
    pub entries_walked: u64,
    pub files_read: u64,
    /// Bytes read from the target's files.
    pub bytes_read: u64,
}

/// Scans `target` and builds the HDF report. `started` stamps the results and decides which
/// waivers have expired. [`crate::Error::TargetGone`] when the target process exits meanwhile:
/// nothing of a partial walk is reported.
pub fn scan(target: Target<'_>, started: jiff::Timestamp) -> Result<BuiltinScan, crate::Error> {
    scan_with(target, started, &ScanOptions::default())
}

/// [`scan`] with a chosen number of walk threads (benchmarks).
pub fn scan_with_threads(
    target: Target<'_>,
    started: jiff::Timestamp,
    threads: usize,
) -> Result<BuiltinScan, crate::Error> {
    let options = ScanOptions {
        threads,
        ..ScanOptions::default()
    };
    scan_with(target, started, &options)
}

/// [`scan`] with chosen threads and limits.
pub fn scan_with(
    target: Target<'_>,
    started: jiff::Timestamp,
    options: &ScanOptions,
) -> Result<BuiltinScan, crate::Error> {
    let clock = Instant::now();
    let pid = target.process.map(|p| p.pid).unwrap_or(0);
    let alive = || target.process.is_none_or(|p| p.alive());
    let gone = |entries: u64| crate::Error::TargetGone { pid, entries };
    if !alive() {
        return Err(gone(0));
    }
    preflight(&target)?;
    let gathered = gather::gather(&gather::Request {
        root: target.root,
        process: target.process,
        limits: &options.limits,
        threads: options.threads,
        alive: &alive,
    })
    .map_err(|walk::WalkError::Gone { entries }| gone(entries))?;
    let walked = &gathered.evidence.walk;
    tracing::debug!(
        entries = walked.entries,
        files_read = walked.files_read,
        bytes_read = gathered.evidence.bytes_read,
        vanished = walked.vanished,
        dir_gaps = walked.dir_gaps.total(),
        file_gaps = walked.file_gaps.total(),
        other_mounts = walked.other_mounts.total(),
        unwalked = walked.unwalked.total(),
        unread = walked.unread.total(),
        seconds = gathered.walk_seconds,
        "walk finished"
    );
    let evaluated = evaluate(&gathered, &target.policy.inputs);
    // A target that exited while the checks ran: its state is unknown.
    if !alive() {
        return Err(gone(walked.entries));
    }
    let evidence = &gathered.evidence;
    let os_release = gather::os_release_fields(&evidence.os_release);
    let mut report = build_report(&target, started, evaluated, &os_release);
    report.statistics.duration = clock.elapsed().as_secs_f64();
    Ok(BuiltinScan {
        report,
        os_release,
        entries_walked: evidence.walk.entries,
        files_read: evidence.walk.files_read,
        bytes_read: evidence.bytes_read,
    })
}

/// Refuses a kernel without openat2 and logs the inputs and waivers the baseline does not use.
fn preflight(target: &Target<'_>) -> Result<(), crate::Error> {
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
    Ok(())
}

/// Every control's findings and time: its check's, plus its share of the gathering (the walk's
/// time is shared by the walk-based controls, the rest of the gathering by the others).
fn evaluate(gathered: &gather::Gathered, inputs: &policy::Inputs) -> Vec<Evaluated> {
    let all = checks::all();
    let walk_based = all.iter().filter(|c| c.walk_based).count().max(1);
    let others = (all.len() - walk_based).max(1);
    let walk_share = gathered.walk_seconds / walk_based as f64;
    let other_share = (gathered.seconds - gathered.walk_seconds).max(0.0) / others as f64;
    all.into_iter()
        .map(|c| {
            let t = Instant::now();
            let findings = (c.check)(&gathered.evidence, inputs);
            let share = if c.walk_based {
                walk_share
            } else {
                other_share
            };
            Evaluated {
                def: c.def,
                findings,
                seconds: share + t.elapsed().as_secs_f64(),
            }
        })
        .collect()
}

/// The HDF report: waivers applied, statistics counted, the platform from os-release.
fn build_report(
    target: &Target<'_>,
    started: jiff::Timestamp,
    evaluated: Vec<Evaluated>,
    os_release: &BTreeMap<String, String>,
) -> Report {
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
    let field = |key: &str| {
        os_release
            .get(key)
            .cloned()
            .unwrap_or_else(|| "unknown".into())
    };
    Report {
        platform: Platform {
            name: field("ID"),
            release: field("VERSION_ID"),
            target_id: target.target_id.map(str::to_string),
        },
        profiles: vec![report::profile(
            controls,
            target.policy,
            PROFILE_VERSION,
            PROFILE_NAME,
        )],
        statistics: Statistics {
            duration: 0.0,
            controls: Some(statistics),
        },
        version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

#[cfg(test)]
mod tests;
