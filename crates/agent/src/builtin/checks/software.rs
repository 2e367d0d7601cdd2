//! The software controls: shells (SIDESCAN-SW-001) and package managers (SW-002) in the standard
//! directories and the target's `PATH`.

use super::{cap, judge, nothing_decided};
use crate::builtin::gather::{DirFound, Evidence, PathCut, Probe};
use crate::builtin::limits::Limits;
use crate::builtin::policy::Inputs;
use crate::builtin::report::Finding;

/// Where programs are looked for, before the target's own PATH.
pub const BIN_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];
pub const SHELL_NAMES: [&str; 10] = [
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "busybox",
];
pub const PACKAGE_MANAGER_NAMES: [&str; 11] = [
    "apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pip", "pip3",
];

/// The directories programs are looked for in: the standard ones, then the target's PATH (at
/// most [`Limits::path_dirs`] of its directories).
pub fn search_dirs(path_env: Option<&str>) -> Vec<String> {
    search_dirs_within(path_env, Limits::DEFAULT.path_dirs).0
}

/// The standard directories, then the first `max` absolute directories of the target's PATH not
/// listed already; the PATH entries past them, if any.
pub fn search_dirs_within(path_env: Option<&str>, max: usize) -> (Vec<String>, Option<PathCut>) {
    let mut dirs: Vec<String> = BIN_DIRS.iter().map(|d| d.to_string()).collect();
    let mut added = 0;
    let mut cut: Option<PathCut> = None;
    for dir in path_env.unwrap_or("").split(':') {
        let dir = dir.trim_end_matches('/');
        if !dir.starts_with('/') {
            continue;
        }
        if let Some(cut) = &mut cut {
            cut.entries += 1;
        } else if added == max {
            cut = Some(PathCut {
                entries: 1,
                first: dir.to_string(),
                limit: max,
            });
        } else if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_string());
            added += 1;
        }
    }
    (dirs, cut)
}

/// SIDESCAN-SW-001.
pub fn shells(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    programs(evidence, &SHELL_NAMES, "shell", "allowed_shells", inputs)
}

/// SIDESCAN-SW-002.
pub fn package_managers(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    programs(
        evidence,
        &PACKAGE_MANAGER_NAMES,
        "package manager",
        "allowed_package_managers",
        inputs,
    )
}

/// Which of `names` exist as executables in the search directories.
fn programs(
    evidence: &Evidence,
    names: &[&str],
    kind: &str,
    input: &str,
    inputs: &Inputs,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(Err(e)) = evidence.process.as_ref().map(|p| &p.path_env) {
        out.push(Finding::error(
            format!("the target's PATH was searched for a {kind}"),
            format!(
                "/proc/<pid>/environ could not be read ({e}): only the standard directories \
                 were searched"
            ),
        ));
    }
    if let Some(limit) = evidence.process.as_ref().and_then(|p| p.environ_over) {
        out.push(Finding::skipped(
            format!("the target's PATH was searched for a {kind}"),
            format!(
                "/proc/<pid>/environ is over the {limit} byte limit for the environment and holds \
                 no PATH in its first {limit} bytes: only the standard directories were \
                 searched; not checked"
            ),
        ));
    }
    if let Some(cut) = &evidence.programs.path_cut {
        out.push(Finding::skipped(
            format!("the target's PATH was searched for a {kind}"),
            format!(
                "PATH lists {} more directories than the limit of {} searched, from {} on: not \
                 checked",
                cut.entries, cut.limit, cut.first
            ),
        ));
    }
    let dirs = &evidence.programs.dirs;
    for searched in dirs {
        let dir = &searched.dir;
        let probes = match &searched.found {
            DirFound::NotSearched => continue,
            DirFound::Unexaminable(why) => {
                out.push(Finding::error(
                    format!("{dir} was searched for a {kind}"),
                    format!("{dir} cannot be examined: {why}"),
                ));
                continue;
            }
            DirFound::Searched(probes) => probes,
        };
        for name in names {
            let path = format!("{dir}/{name}");
            match probes.get(name) {
                Some(Probe::Executable) => judge(
                    &mut out,
                    inputs,
                    input,
                    &path,
                    format!("{kind} {path} is not present"),
                    format!("{path} is an executable {kind}"),
                ),
                Some(Probe::Unexaminable(why)) => out.push(Finding::error(
                    format!("{kind} {path} is not present"),
                    format!("{path} cannot be examined: {why}"),
                )),
                None => {}
            }
        }
    }
    if nothing_decided(&out) {
        let names: Vec<&str> = dirs.iter().map(|d| d.dir.as_str()).collect();
        out.push(Finding::passed(format!(
            "no {kind} in {}",
            names.join(", ")
        )));
    }
    cap(out, evidence.limits.findings)
}
