//! Finding the target container's main process.
//!
//! Selectors, in order of preference:
//! 1. `ContainerId`: the target container's ID from the pod's status, matched against
//!    `/proc/<pid>/cgroup` ([`crate::cgroup`]); the container's first process wins.
//! 2. `Pattern`: a substring of the process' command line (`--target-process`).
//! 3. `Heuristic`: the one process whose root directory differs from the scanner's and that is
//!    not a pause process (in a pod sharing its process namespace: the other container); when
//!    several distinct roots qualify it refuses to guess.
//! 4. `Pid`: an explicit PID.
//!
//! Pattern and heuristic only consider processes whose root differs from the scanner's own: the
//! scanner's processes (and the shell that started it, whose command line holds the pattern)
//! are never the target.
//!
//! [`choose`] is pure; [`wait_for_target`] polls `/proc` with a growing interval until a
//! deadline (no fixed sleeps).

use crate::cgroup::{ContainerId, first_process};
use crate::procfs::{self, ProcEntry, RootId};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    ContainerId(String),
    Pattern(String),
    Heuristic,
    Pid(u32),
}

impl Selector {
    pub fn method(&self) -> &'static str {
        match self {
            Selector::ContainerId(_) => "container-id",
            Selector::Pattern(_) => "pattern",
            Selector::Heuristic => "heuristic",
            Selector::Pid(_) => "pid",
        }
    }
}

/// The outcome of one look at `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Found(u32),
    /// Nothing matches yet; the reason says what was looked for.
    NotYet(String),
    /// More than one candidate and no way to choose: the user must say which.
    Ambiguous(String),
}

/// Picks the target among `procs` (a snapshot of `/proc`), given the scanner's own PID and root.
pub fn choose(
    selector: &Selector,
    procs: &[ProcEntry],
    own_pid: u32,
    own_root: Option<RootId>,
) -> Choice {
    let foreign = |p: &&ProcEntry| p.pid != own_pid && p.root.is_some() && p.root != own_root;
    match selector {
        Selector::Pid(pid) => match procs.iter().any(|p| p.pid == *pid) {
            true => Choice::Found(*pid),
            false => Choice::NotYet(format!("no process {pid}")),
        },
        Selector::ContainerId(raw) => {
            let Some(id) = ContainerId::parse(raw) else {
                return Choice::NotYet(format!("container ID {raw:?} is not known yet"));
            };
            let members: Vec<(u32, u32)> = procs
                .iter()
                .filter(|p| id.is_in(&p.cgroup))
                .map(|p| (p.pid, p.status.as_ref().map_or(0, |s| s.ppid)))
                .collect();
            match first_process(&members) {
                Some(pid) => Choice::Found(pid),
                None => Choice::NotYet(format!(
                    "no process in a cgroup of container {}",
                    &id.id[..12]
                )),
            }
        }
        Selector::Pattern(pattern) => {
            let members: Vec<(u32, u32)> = procs
                .iter()
                .filter(foreign)
                .filter(|p| p.cmdline.contains(pattern.as_str()))
                .map(|p| (p.pid, p.status.as_ref().map_or(0, |s| s.ppid)))
                .collect();
            match first_process(&members) {
                Some(pid) => Choice::Found(pid),
                None => Choice::NotYet(format!(
                    "no process outside the scanner's root whose command line contains {pattern:?}"
                )),
            }
        }
        Selector::Heuristic => {
            let candidates: Vec<&ProcEntry> = procs
                .iter()
                .filter(foreign)
                .filter(|p| !procfs::is_pause(&p.cmdline) && !p.cmdline.is_empty())
                .collect();
            let mut roots: Vec<RootId> = candidates.iter().filter_map(|p| p.root).collect();
            roots.sort_unstable();
            roots.dedup();
            match roots.len() {
                0 => Choice::NotYet(
                    "no process with a root other than the scanner's (pause excluded)".into(),
                ),
                1 => {
                    let members: Vec<(u32, u32)> = candidates
                        .iter()
                        .map(|p| (p.pid, p.status.as_ref().map_or(0, |s| s.ppid)))
                        .collect();
                    Choice::Found(first_process(&members).expect("non-empty"))
                }
                n => {
                    let listed: Vec<String> = candidates
                        .iter()
                        .take(8)
                        .map(|p| format!("{} ({})", p.pid, truncate(&p.cmdline, 60)))
                        .collect();
                    Choice::Ambiguous(format!(
                        "{n} containers' processes qualify: {}; name the target with \
                         --target-process <pattern> or run in a pod with the Kubernetes API \
                         reachable",
                        listed.join(", ")
                    ))
                }
            }
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Reads a snapshot of every process in `proc`.
pub fn snapshot(proc: &Path) -> std::io::Result<Vec<ProcEntry>> {
    Ok(procfs::list_pids(proc)?
        .into_iter()
        .filter_map(|pid| procfs::read_entry(proc, pid))
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    #[error("target not identified within {waited:?} ({method}): {reason}")]
    Timeout {
        waited: Duration,
        method: &'static str,
        reason: String,
    },
    #[error("target ambiguous: {0}")]
    Ambiguous(String),
    #[error("cannot list {path}: {source}")]
    Proc {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The identified process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identified {
    pub pid: u32,
    /// Start time in clock ticks: (PID, start) names one process even across PID reuse.
    pub start_time: Option<u64>,
    pub method: &'static str,
    pub cmdline: String,
    pub polls: u32,
}

/// First and largest pause between looks at `/proc`.
pub const FIRST_INTERVAL: Duration = Duration::from_millis(2);
pub const MAX_INTERVAL: Duration = Duration::from_millis(25);

/// Looks at `/proc` until `selector()` (re-read every time, so a container ID that changes when
/// the target restarts is followed) finds the target or `deadline` passes.
pub async fn wait_for_target(
    proc: &Path,
    mut selector: impl FnMut() -> Selector,
    deadline: Instant,
) -> Result<Identified, IdentifyError> {
    let started = Instant::now();
    let own_pid = std::process::id();
    let own_root = procfs::root_id(proc, "self");
    let mut interval = FIRST_INTERVAL;
    let mut polls = 0;
    loop {
        polls += 1;
        let current = selector();
        let procs = snapshot(proc).map_err(|source| IdentifyError::Proc {
            path: proc.display().to_string(),
            source,
        })?;
        match choose(&current, &procs, own_pid, own_root) {
            Choice::Found(pid) => {
                let cmdline = procs
                    .iter()
                    .find(|p| p.pid == pid)
                    .map(|p| p.cmdline.clone())
                    .unwrap_or_default();
                return Ok(Identified {
                    pid,
                    start_time: procfs::start_time(proc, pid),
                    method: current.method(),
                    cmdline,
                    polls,
                });
            }
            Choice::Ambiguous(reason) => return Err(IdentifyError::Ambiguous(reason)),
            Choice::NotYet(reason) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(IdentifyError::Timeout {
                        waited: now - started,
                        method: current.method(),
                        reason,
                    });
                }
                tokio::time::sleep(interval.min(deadline - now)).await;
                interval = (interval * 2).min(MAX_INTERVAL);
            }
        }
    }
}

/// True while the identified process is still the same one (not exited, PID not reused).
pub fn still_running(proc: &Path, target: &Identified) -> bool {
    match (procfs::start_time(proc, target.pid), target.start_time) {
        (Some(now), Some(then)) => now == then,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::ProcStatus;

    const ID: &str = "3f4e8c1b2a9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    const SCANNER_ROOT: RootId = (10, 2);

    fn entry(pid: u32, ppid: u32, cmdline: &str, root: RootId, cgroup: &str) -> ProcEntry {
        ProcEntry {
            pid,
            cgroup: cgroup.into(),
            cmdline: cmdline.into(),
            status: Some(ProcStatus {
                ppid,
                ..ProcStatus::default()
            }),
            root: Some(root),
        }
    }

    fn pod() -> Vec<ProcEntry> {
        let target_cg = format!("0::/kubepods/pod1/{ID}\n");
        vec![
            entry(
                1,
                0,
                "/pause",
                (20, 2),
                "0::/kubepods/pod1/aaaaaaaaaaaaaaaa\n",
            ),
            entry(7, 0, "/app/server --port 80", (30, 2), &target_cg),
            entry(9, 7, "/app/server worker", (30, 2), &target_cg),
            entry(
                12,
                0,
                "sidescan-agent scan --target-process server",
                SCANNER_ROOT,
                "0::/x\n",
            ),
        ]
    }

    #[test]
    fn container_id_picks_the_entrypoint() {
        let procs = pod();
        let pick = |id: &str| {
            choose(
                &Selector::ContainerId(id.into()),
                &procs,
                12,
                Some(SCANNER_ROOT),
            )
        };
        assert_eq!(pick(&format!("containerd://{ID}")), Choice::Found(7));
        assert!(matches!(pick("containerd://"), Choice::NotYet(_)));
        let other = "containerd://bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        assert!(matches!(pick(other), Choice::NotYet(r) if r.contains("bbbbbbbbbbbb")));
    }

    #[test]
    fn pattern_ignores_the_scanner_itself() {
        let procs = pod();
        let pick = |p: &str| choose(&Selector::Pattern(p.into()), &procs, 12, Some(SCANNER_ROOT));
        assert_eq!(pick("server"), Choice::Found(7));
        assert_eq!(pick("worker"), Choice::Found(9));
        assert!(matches!(pick("sidescan-agent"), Choice::NotYet(_)));
    }

    #[test]
    fn heuristic_skips_pause_and_refuses_to_guess() {
        let mut procs = pod();
        let choice = choose(&Selector::Heuristic, &procs, 12, Some(SCANNER_ROOT));
        assert_eq!(choice, Choice::Found(7));
        procs.push(entry(20, 0, "envoy -c /etc/envoy.yaml", (40, 2), "0::/y\n"));
        let choice = choose(&Selector::Heuristic, &procs, 12, Some(SCANNER_ROOT));
        assert!(
            matches!(&choice, Choice::Ambiguous(r) if r.contains("envoy") && r.contains("--target-process")),
            "{choice:?}"
        );
        let only_pause = vec![procs[0].clone(), procs[3].clone()];
        assert!(matches!(
            choose(&Selector::Heuristic, &only_pause, 12, Some(SCANNER_ROOT)),
            Choice::NotYet(_)
        ));
    }

    #[test]
    fn processes_with_unreadable_roots_are_not_guessed() {
        let mut procs = pod();
        for p in &mut procs {
            if p.pid != 12 {
                p.root = None;
            }
        }
        assert!(matches!(
            choose(&Selector::Heuristic, &procs, 12, Some(SCANNER_ROOT)),
            Choice::NotYet(_)
        ));
    }

    #[tokio::test]
    async fn times_out_with_the_reason() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let err = wait_for_target(
            Path::new("/proc"),
            || Selector::Pattern("no-such-process-pattern-4242".into()),
            deadline,
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no-such-process-pattern-4242") && text.contains("pattern"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn finds_a_pid_and_notices_when_it_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let found = wait_for_target(
            Path::new("/proc"),
            || Selector::Pid(pid),
            Instant::now() + Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(found.pid, pid);
        assert!(still_running(Path::new("/proc"), &found));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!still_running(Path::new("/proc"), &found));
    }
}
