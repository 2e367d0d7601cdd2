//! A scan pod with the run's name already exists: left over by a dead run (delete it and go on)
//! or in use by a live one (refuse, naming it)?

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// What became of the Job that owns an existing scan pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerState {
    /// The pod has no owner Job (made by `sidescan-runner scan`).
    NoOwner,
    /// The owner is the Job this orchestrator runs in (an earlier attempt of the same Job).
    Ours,
    Gone,
    /// Complete or Failed.
    Finished(String),
    Running,
}

/// The verdict on an existing scan pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Left over by a dead run: delete it (and wait until it is gone) before deploying.
    Stale(String),
    /// Possibly in use by a live run of the same target: refuse.
    Live(String),
}

/// The pod's owner Job reference, if any.
pub fn owner_job(pod: &Pod) -> Option<&OwnerReference> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.kind == "Job" && o.api_version.starts_with("batch/"))
}

/// Complete or Failed, from the Job's conditions.
pub fn job_state(job: &Job, expected_uid: &str) -> OwnerState {
    if job.metadata.uid.as_deref() != Some(expected_uid) {
        // Same name, another Job: the owner itself is gone.
        return OwnerState::Gone;
    }
    let finished = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True");
    match finished {
        Some(c) => OwnerState::Finished(c.type_.clone()),
        None => OwnerState::Running,
    }
}

/// Decides from the pod, the time and its owner's state.
pub fn classify(pod: &Pod, now: jiff::Timestamp, owner: &OwnerState) -> Existing {
    let name = pod.metadata.name.as_deref().unwrap_or("scan pod");
    if pod.metadata.deletion_timestamp.is_some() {
        return Existing::Stale(format!("{name} is being deleted"));
    }
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if phase == "Succeeded" || phase == "Failed" {
        let reason = status
            .and_then(|s| s.reason.as_deref())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Existing::Stale(format!("{name} has ended: phase {phase}{reason}"));
    }
    if let Some(end) = deadline(pod)
        && end < now
    {
        return Existing::Stale(format!("{name} is past its deadline ({end})"));
    }
    match owner {
        OwnerState::Ours => {
            Existing::Stale(format!("{name} belongs to an earlier attempt of this Job"))
        }
        OwnerState::Gone => Existing::Stale(format!("{name}'s owner Job no longer exists")),
        OwnerState::Finished(how) => {
            Existing::Stale(format!("{name}'s owner Job has finished ({how})"))
        }
        OwnerState::Running => {
            let job = owner_job(pod).map(|o| o.name.as_str()).unwrap_or("?");
            Existing::Live(format!(
                "{name} belongs to Job {job}, which is still running: a scan of the same target \
                 is in progress"
            ))
        }
        OwnerState::NoOwner => {
            let until = deadline(pod)
                .map(|d| format!("; if its run died, it stops at its deadline ({d}) and the next run removes it, or delete it now"))
                .unwrap_or_default();
            Existing::Live(format!(
                "{name} exists and may belong to a live run of the same target (started outside \
                 a Job, so its orchestrator cannot be asked){until}"
            ))
        }
    }
}

/// When the kubelet stops the pod: its start time plus `activeDeadlineSeconds`.
pub fn deadline(pod: &Pod) -> Option<jiff::Timestamp> {
    let seconds = pod.spec.as_ref()?.active_deadline_seconds?;
    let start = pod
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .map(|t| t.0)
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
    start
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(extra_status: Value, owner: bool) -> Pod {
        let mut meta = json!({"name": "sidescan-scan-web", "namespace": "ns",
            "creationTimestamp": "2026-01-01T00:00:00Z"});
        if owner {
            meta["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job",
                "name": "sidescan-web-scan-28000000", "uid": "u-1"}]);
        }
        let mut status = json!({"phase": "Running", "startTime": "2026-01-01T00:00:05Z"});
        for (k, v) in extra_status.as_object().unwrap() {
            status[k] = v.clone();
        }
        serde_json::from_value(json!({
            "metadata": meta,
            "spec": {"activeDeadlineSeconds": 100, "containers": [{"name": "target"}]},
            "status": status,
        }))
        .unwrap()
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    const EARLY: &str = "2026-01-01T00:00:30Z";

    #[test]
    fn ended_or_overdue_pods_are_stale() {
        let p = pod(
            json!({"phase": "Failed", "reason": "DeadlineExceeded"}),
            false,
        );
        match classify(&p, at(EARLY), &OwnerState::NoOwner) {
            Existing::Stale(why) => assert!(why.contains("DeadlineExceeded"), "{why}"),
            other => panic!("{other:?}"),
        }
        let p = pod(json!({}), false);
        assert_eq!(deadline(&p), Some(at("2026-01-01T00:01:45Z")));
        assert!(matches!(
            classify(&p, at("2026-01-01T00:02:00Z"), &OwnerState::NoOwner),
            Existing::Stale(_)
        ));
    }

    #[test]
    fn a_running_pod_without_owner_is_live_and_says_when_it_stops() {
        match classify(&pod(json!({}), false), at(EARLY), &OwnerState::NoOwner) {
            Existing::Live(why) => {
                assert!(why.contains("sidescan-scan-web"), "{why}");
                assert!(why.contains("2026-01-01T00:01:45Z"), "{why}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_owner_job_decides_for_a_running_pod() {
        let p = pod(json!({}), true);
        assert_eq!(owner_job(&p).unwrap().uid, "u-1");
        for state in [
            OwnerState::Gone,
            OwnerState::Ours,
            OwnerState::Finished("Failed".into()),
        ] {
            assert!(
                matches!(classify(&p, at(EARLY), &state), Existing::Stale(_)),
                "{state:?}"
            );
        }
        match classify(&p, at(EARLY), &OwnerState::Running) {
            Existing::Live(why) => assert!(why.contains("sidescan-web-scan-28000000"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn job_conditions_and_uids() {
        let job = |uid: &str, conditions: Value| -> Job {
            serde_json::from_value(json!({"metadata": {"name": "j", "uid": uid},
                "status": {"conditions": conditions}}))
            .unwrap()
        };
        assert_eq!(
            job_state(&job("u-1", json!([])), "u-1"),
            OwnerState::Running
        );
        assert_eq!(
            job_state(
                &job("u-1", json!([{"type": "Complete", "status": "True"}])),
                "u-1"
            ),
            OwnerState::Finished("Complete".into())
        );
        assert_eq!(
            job_state(
                &job("u-1", json!([{"type": "Failed", "status": "False"}])),
                "u-1"
            ),
            OwnerState::Running
        );
        assert_eq!(job_state(&job("u-2", json!([])), "u-1"), OwnerState::Gone);
    }
}
