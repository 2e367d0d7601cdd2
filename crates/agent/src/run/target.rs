//! Identify and verify: find the target's main process (by container ID from the pod's status,
//! command line, heuristic or PID), open its root and hold it open. A target that exits between
//! the two is identified again until the deadline.

use super::{AgentConfig, Targeting, Timings};
use crate::access::{self, AccessProblem};
use crate::identify::{self, Identified, Selector};
use crate::pod::{self, TargetStatus};
use crate::root::TargetRoot;
use sidescan_core::{Failure, Phase};
use std::time::Instant;
use tokio::sync::watch;

/// The target: the process, its root held open since verification, and what the pod's status
/// said about it (API identification only).
pub(super) struct Found {
    pub(super) target: Identified,
    pub(super) root: TargetRoot,
    pub(super) pod: Option<TargetStatus>,
}

type PodWatch = watch::Receiver<Result<TargetStatus, String>>;

/// Starts reading the agent's own pod when the target is identified through the API.
async fn watch_pod(targeting: &Targeting) -> Result<Option<PodWatch>, Failure> {
    let Targeting::Pod {
        access,
        namespace,
        pod_name,
        container,
        own_container,
    } = targeting
    else {
        return Ok(None);
    };
    pod::watch_target(
        access.clone(),
        namespace.clone(),
        pod_name.clone(),
        container.clone(),
        own_container.clone(),
    )
    .await
    .map(Some)
    .map_err(|e| {
        Failure::infrastructure(format!(
            "{e}; without the API, use --target-process <pattern> or the heuristic \
             (--identify heuristic)"
        ))
    })
}

/// The selector for this look at `/proc`: fixed, or the container ID the pod's status names now
/// (recording that status).
fn current_selector(
    targeting: &Targeting,
    pod_watch: Option<&mut PodWatch>,
    seen: &mut Option<TargetStatus>,
) -> Selector {
    match (targeting, pod_watch) {
        (Targeting::Fixed(selector), _) => selector.clone(),
        (Targeting::Pod { .. }, Some(rx)) => match rx.borrow_and_update().clone() {
            Ok(status) => {
                let id = status.container_id.clone().unwrap_or_default();
                *seen = Some(status);
                Selector::ContainerId(id)
            }
            Err(_) => Selector::ContainerId(String::new()),
        },
        (Targeting::Pod { .. }, None) => Selector::ContainerId(String::new()),
    }
}

pub(super) async fn find(config: &AgentConfig, timings: &mut Timings) -> Result<Found, Failure> {
    let deadline = Instant::now() + config.wait;
    let t = Instant::now();
    let mut pod_watch = watch_pod(&config.targeting).await?;
    loop {
        let mut seen = None;
        let found = identify::wait_for_target(
            &config.proc,
            || current_selector(&config.targeting, pod_watch.as_mut(), &mut seen),
            deadline,
        )
        .await;
        let found = found.map_err(|e| {
            let api_note = pod_watch
                .as_ref()
                .and_then(|rx| rx.borrow().clone().err())
                .map(|e| format!(" (Kubernetes API: {e})"))
                .unwrap_or_default();
            Failure::infrastructure(format!("{e}{api_note}"))
        })?;
        timings.phase(Phase::Identify, t, "target identified");
        tracing::info!(
            pid = found.pid,
            method = found.method,
            polls = found.polls,
            "target process"
        );
        tracing::debug!(pid = found.pid, cmdline = %found.cmdline, "target command line");
        let v = Instant::now();
        match open(config, &found) {
            Ok((entries, root)) => {
                timings.phase(
                    Phase::Verify,
                    v,
                    &format!("target root readable and held open ({entries} entries in /)"),
                );
                return Ok(Found {
                    target: found,
                    root,
                    pod: seen,
                });
            }
            Err(AccessProblem::Exited { pid }) if Instant::now() < deadline => {
                tracing::warn!(pid, "target exited before verification; identifying again");
                // Its /proc entry may linger (a zombie): do not spin on it.
                tokio::time::sleep(identify::MAX_INTERVAL).await;
            }
            Err(problem) => return Err(Failure::infrastructure(problem.to_string())),
        }
    }
}

/// Verify: the root is readable, and the process whose root was opened is the one identified
/// (not a successor with the same PID).
fn open(config: &AgentConfig, found: &Identified) -> Result<(usize, TargetRoot), AccessProblem> {
    let access = access::verify(&config.proc, found.pid)?;
    let root = TargetRoot::open(&config.proc, found.pid)
        .map_err(|e| access::explain(&config.proc, found.pid, &e))?;
    if found.start_time.is_some_and(|t| t != root.start_time) {
        return Err(AccessProblem::Exited { pid: found.pid });
    }
    Ok((access.root_entries, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_status_names_the_container_to_look_for() {
        let (tx, mut rx) = watch::channel(Err("not seen yet".to_string()));
        let targeting = Targeting::Pod {
            access: pod::ApiAccess {
                base: "https://127.0.0.1:6443".into(),
                token_file: "/nonexistent/token".into(),
                ca_file: "/nonexistent/ca.crt".into(),
            },
            namespace: "ns".into(),
            pod_name: "scan".into(),
            container: None,
            own_container: None,
        };
        let mut seen = None;
        assert_eq!(
            current_selector(&targeting, Some(&mut rx), &mut seen),
            Selector::ContainerId(String::new())
        );
        assert!(seen.is_none());
        tx.send(Ok(TargetStatus {
            container: "app".into(),
            container_id: Some("containerd://0123456789abcdef".into()),
            ..TargetStatus::default()
        }))
        .unwrap();
        assert_eq!(
            current_selector(&targeting, Some(&mut rx), &mut seen),
            Selector::ContainerId("containerd://0123456789abcdef".into())
        );
        assert_eq!(seen.unwrap().container, "app");
        let fixed = Targeting::Fixed(Selector::Pid(7));
        assert_eq!(current_selector(&fixed, None, &mut None), Selector::Pid(7));
    }
}
