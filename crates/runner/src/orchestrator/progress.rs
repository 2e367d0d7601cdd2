//! Where a scan pod is in the workflow, decided from its status alone: the orchestrator feeds
//! every watched version of the pod to [`progress`] and acts on the answer.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Waiting reasons that no amount of waiting fixes: the image is not on the node and may not be
/// pulled, the reference is malformed, or the container's configuration refers to something
/// missing. (`ErrImagePull`/`ImagePullBackOff` are retried by the kubelet: the deploy deadline
/// decides those.)
pub const FATAL_WAITING_REASONS: [&str; 4] = [
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// How the scanner container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerEnd {
    pub exit_code: i32,
    /// The kubelet's reason (`Completed`, `Error`, `OOMKilled`, ...).
    pub reason: Option<String>,
    /// The termination message, if the agent left one.
    pub message: Option<String>,
    /// The pod's own reason when it failed as a whole (`DeadlineExceeded`, `Evicted`).
    pub pod_reason: Option<String>,
}

/// The next step for the orchestrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Not both containers started yet; what the pod waits for.
    Pending(String),
    /// Both containers have started: identify and scan are under way.
    Started,
    /// The scanner container ended: retrieve.
    ScannerDone(ScannerEnd),
    /// The scan cannot finish: why.
    Failed(String),
}

fn status<'a>(pod: &'a Pod, container: &str) -> Option<&'a ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == container)
}

fn started(cs: Option<&ContainerStatus>) -> bool {
    cs.and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some() || s.terminated.is_some())
}

/// A waiting container's reason and message.
pub(crate) fn waiting(cs: &ContainerStatus) -> Option<(String, String)> {
    let w = cs.state.as_ref()?.waiting.as_ref()?;
    Some((
        w.reason.clone().unwrap_or_default(),
        w.message.clone().unwrap_or_default(),
    ))
}

/// Decides the next step from one version of the scan pod.
pub fn progress(pod: &Pod, scanner: &str, target: &str) -> Progress {
    let st = pod.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    let pod_reason = st.and_then(|s| s.reason.clone());
    let pod_message = st.and_then(|s| s.message.clone()).unwrap_or_default();
    let scanner_status = status(pod, scanner);

    if let Some(t) = scanner_status
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
    {
        return Progress::ScannerDone(ScannerEnd {
            exit_code: t.exit_code,
            reason: t.reason.clone(),
            message: t.message.clone().filter(|m| !m.trim().is_empty()),
            pod_reason: (phase == "Failed").then(|| pod_reason.clone()).flatten(),
        });
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Progress::Failed("the scan pod is being deleted (not by this run)".into());
    }
    if phase == "Failed" || phase == "Succeeded" {
        let reason = pod_reason.unwrap_or_else(|| phase.to_string());
        return Progress::Failed(
            format!("the scan pod ended ({reason}) before the scanner did: {pod_message}")
                .trim_end_matches(": ")
                .to_string(),
        );
    }
    for name in [target, scanner] {
        if let Some((reason, message)) = status(pod, name).and_then(waiting)
            && FATAL_WAITING_REASONS.contains(&reason.as_str())
        {
            return Progress::Failed(format!(
                "container {name} cannot start: {reason}: {message}"
            ));
        }
    }
    if started(status(pod, target)) && started(scanner_status) {
        return Progress::Started;
    }
    Progress::Pending(pending_reason(pod, phase, &[target, scanner]))
}

/// True once the kubelet has reported every container of the pod stopped: the pod's phase is
/// final, or every container's state is `terminated`, or (the pod being deleted, when the
/// kubelet starts nothing more) waiting for a reason other than being created (an image that
/// never came). From then on nothing of the pod runs; what remains before the kubelet removes
/// the object is its volume and cgroup bookkeeping.
pub fn containers_stopped(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return true;
    }
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let never_started = |w: &k8s_openapi::api::core::v1::ContainerStateWaiting| {
        !matches!(
            w.reason.as_deref(),
            None | Some("ContainerCreating" | "PodInitializing")
        )
    };
    let declared = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    declared > 0
        && statuses.len() == declared
        && statuses.iter().all(|c| {
            c.state.as_ref().is_some_and(|s| {
                s.terminated.is_some()
                    || (deleting
                        && s.running.is_none()
                        && s.waiting.as_ref().is_some_and(never_started))
            })
        })
}

/// True while the kubelet is starting the pod's containers (scheduled, and a container still
/// being created). Deleting a pod in that state makes the v1.20 kubelet lose track of the
/// container it is creating and finish the deletion only on a later resync, 10-90 s on;
/// waiting the second or two until the containers have started avoids it.
pub fn starting(pod: &Pod) -> bool {
    let scheduled = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
    let Some(status) = pod.status.as_ref() else {
        return scheduled;
    };
    if !scheduled || matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return false;
    }
    let declared = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    statuses.len() < declared
        || statuses.iter().any(|c| {
            c.state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .is_some_and(|w| {
                    matches!(
                        w.reason.as_deref(),
                        None | Some("ContainerCreating" | "PodInitializing")
                    )
                })
        })
}

/// Why the scheduler has not placed the pod, when it said so: `not scheduled: <reason>: <message>`.
pub(crate) fn not_scheduled(pod: &Pod) -> Option<String> {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    let c = conditions
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?;
    Some(format!(
        "not scheduled: {}: {}",
        c.reason.as_deref().unwrap_or("Unschedulable"),
        c.message.as_deref().unwrap_or_default()
    ))
}

/// What a pod that has not started waits for, in one line (for a deadline's message).
fn pending_reason(pod: &Pod, phase: &str, containers: &[&str]) -> String {
    if let Some(reason) = not_scheduled(pod) {
        return reason;
    }
    let waits: Vec<String> = containers
        .iter()
        .filter_map(|name| {
            let (reason, message) = status(pod, name).and_then(waiting)?;
            Some(if message.is_empty() {
                format!("{name}: {reason}")
            } else {
                format!("{name}: {reason}: {message}")
            })
        })
        .collect();
    if waits.is_empty() {
        format!("phase {phase}")
    } else {
        format!("phase {phase}, {}", waits.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(status: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "sidescan-scan-web", "namespace": "ns"},
            "spec": {"containers": [
                {"name": "target", "image": "web:1"},
                {"name": "sidescan-scanner", "image": "scanner:1"}
            ]},
            "status": status,
        }))
        .unwrap()
    }

    fn cs(name: &str, state: Value) -> Value {
        json!({"name": name, "image": "x", "imageID": "", "ready": false, "restartCount": 0,
               "state": state})
    }

    fn check(status: Value) -> Progress {
        progress(&pod(status), "sidescan-scanner", "target")
    }

    const RUNNING: fn() -> Value = || json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});

    #[test]
    fn a_new_pod_is_pending() {
        assert_eq!(check(json!({})), Progress::Pending("phase Pending".into()));
        let p = check(json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ContainerCreating"}})),
            cs("sidescan-scanner", json!({"waiting": {"reason": "ContainerCreating"}})),
        ]}));
        assert_eq!(
            p,
            Progress::Pending(
                "phase Pending, target: ContainerCreating; sidescan-scanner: ContainerCreating"
                    .into()
            )
        );
    }

    #[test]
    fn unschedulable_says_why() {
        let p = check(json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/1 nodes are available: 1 Insufficient memory."}
        ]}));
        assert_eq!(
            p,
            Progress::Pending(
                "not scheduled: Unschedulable: 0/1 nodes are available: 1 Insufficient memory."
                    .into()
            )
        );
    }

    #[test]
    fn an_image_that_may_not_be_pulled_fails_at_once() {
        let p = check(json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ErrImageNeverPull",
                "message": "Container image \"localhost/nope:dev\" is not present with pull policy of Never"}})),
            cs("sidescan-scanner", RUNNING()),
        ]}));
        match p {
            Progress::Failed(why) => {
                assert!(
                    why.starts_with("container target cannot start: ErrImageNeverPull"),
                    "{why}"
                );
                assert!(why.contains("localhost/nope:dev"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pull_back_off_waits_for_the_deadline_with_its_reason() {
        let p = check(json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"web:1\""}})),
            cs("sidescan-scanner", RUNNING()),
        ]}));
        assert_eq!(
            p,
            Progress::Pending(
                "phase Pending, target: ImagePullBackOff: Back-off pulling image \"web:1\"".into()
            )
        );
    }

    #[test]
    fn both_containers_running_is_started() {
        let p = check(json!({"phase": "Running", "containerStatuses": [
            cs("target", RUNNING()), cs("sidescan-scanner", RUNNING()),
        ]}));
        assert_eq!(p, Progress::Started);
        // Only the scanner: not yet.
        let p = check(json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ContainerCreating"}})),
            cs("sidescan-scanner", RUNNING()),
        ]}));
        assert!(matches!(p, Progress::Pending(_)), "{p:?}");
    }

    #[test]
    fn the_scanner_ending_with_its_message_is_done() {
        let p = check(json!({"phase": "Running", "containerStatuses": [
            cs("target", RUNNING()),
            cs("sidescan-scanner", json!({"terminated": {"exitCode": 0, "reason": "Completed",
                "message": "{\"outcome\":\"stored\"}"}})),
        ]}));
        assert_eq!(
            p,
            Progress::ScannerDone(ScannerEnd {
                exit_code: 0,
                reason: Some("Completed".into()),
                message: Some("{\"outcome\":\"stored\"}".into()),
                pod_reason: None,
            })
        );
    }

    #[test]
    fn a_crashed_scanner_is_done_without_a_message() {
        let p = check(json!({"phase": "Running", "containerStatuses": [
            cs("target", RUNNING()),
            cs("sidescan-scanner", json!({"terminated": {"exitCode": 139, "reason": "Error"}})),
        ]}));
        match p {
            Progress::ScannerDone(end) => {
                assert_eq!(end.exit_code, 139);
                assert_eq!(end.message, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_pod_past_its_deadline_fails_with_the_reason() {
        // The kubelet killed the pod: the scanner's state may still say running in this version.
        let p = check(json!({"phase": "Failed", "reason": "DeadlineExceeded",
            "message": "Pod was active on the node longer than the specified deadline",
            "containerStatuses": [cs("target", RUNNING()), cs("sidescan-scanner", RUNNING())]}));
        match p {
            Progress::Failed(why) => assert!(why.contains("DeadlineExceeded"), "{why}"),
            other => panic!("{other:?}"),
        }
        // When the scanner's end is known, the pod's reason comes with it.
        let p = check(json!({"phase": "Failed", "reason": "DeadlineExceeded",
            "containerStatuses": [cs("target", RUNNING()),
                cs("sidescan-scanner", json!({"terminated": {"exitCode": 137, "reason": "Error"}}))]}));
        match p {
            Progress::ScannerDone(end) => {
                assert_eq!(end.pod_reason.as_deref(), Some("DeadlineExceeded"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stopped_means_every_container_terminated_or_a_final_phase() {
        let term = || json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
        assert!(!containers_stopped(&pod(
            json!({"phase": "Running", "containerStatuses": [
            cs("target", RUNNING()), cs("sidescan-scanner", term())]})
        )));
        assert!(containers_stopped(&pod(
            json!({"phase": "Running", "containerStatuses": [
            cs("target", term()), cs("sidescan-scanner", term())]})
        )));
        assert!(containers_stopped(&pod(json!({"phase": "Succeeded"}))));
        assert!(containers_stopped(&pod(
            json!({"phase": "Failed", "reason": "DeadlineExceeded"})
        )));
        // One status missing: not known to be stopped.
        assert!(!containers_stopped(&pod(
            json!({"phase": "Running", "containerStatuses": [
            cs("sidescan-scanner", term())]})
        )));
        assert!(!containers_stopped(&pod(
            json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ImagePullBackOff"}})),
            cs("sidescan-scanner", term())]})
        )));
        assert!(!containers_stopped(&pod(json!({}))));
        // Being deleted: an image that never came will not start any more.
        let deleted_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ));
        let mut deleting = pod(json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ErrImageNeverPull"}})),
            cs("sidescan-scanner", term())]}));
        assert!(!containers_stopped(&deleting));
        deleting.metadata.deletion_timestamp = deleted_at.clone();
        assert!(containers_stopped(&deleting));
        let mut creating = pod(json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ContainerCreating"}})),
            cs("sidescan-scanner", term())]}));
        creating.metadata.deletion_timestamp = deleted_at;
        assert!(!containers_stopped(&creating));
    }

    #[test]
    fn starting_is_the_kubelet_creating_containers() {
        let scheduled = |status: Value| {
            let mut p = pod(status);
            p.spec.as_mut().unwrap().node_name = Some("localhost".into());
            p
        };
        let creating = json!({"waiting": {"reason": "ContainerCreating"}});
        // Not scheduled: nothing to wait for (the API deletes it at once).
        assert!(!starting(&pod(json!({"phase": "Pending"}))));
        assert!(starting(&scheduled(json!({"phase": "Pending"}))));
        assert!(starting(&scheduled(
            json!({"phase": "Pending", "containerStatuses": [
            cs("target", creating.clone()), cs("sidescan-scanner", RUNNING())]})
        )));
        assert!(!starting(&scheduled(
            json!({"phase": "Running", "containerStatuses": [
            cs("target", RUNNING()), cs("sidescan-scanner", RUNNING())]})
        )));
        // A final waiting reason is not starting: delete at once.
        assert!(!starting(&scheduled(
            json!({"phase": "Pending", "containerStatuses": [
            cs("target", json!({"waiting": {"reason": "ErrImageNeverPull"}})),
            cs("sidescan-scanner", RUNNING())]})
        )));
        assert!(!starting(&scheduled(json!({"phase": "Failed"}))));
    }

    #[test]
    fn a_pod_deleted_by_someone_else_fails() {
        let mut p = pod(json!({"phase": "Running", "containerStatuses": [
            cs("target", RUNNING()), cs("sidescan-scanner", RUNNING())]}));
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ));
        assert!(matches!(
            progress(&p, "sidescan-scanner", "target"),
            Progress::Failed(_)
        ));
    }
}
