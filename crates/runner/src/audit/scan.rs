//! One clone's scan as the audit controller sees it: where the clone is from its status
//! ([`step`]), and its results read back from the store after the scanner ended ([`retrieve`]).
//! These are the per-scan pipeline's decisions; the audit adds nothing to them.

use crate::orchestrator::progress::{FATAL_WAITING_REASONS, not_scheduled, waiting};
use crate::orchestrator::retrieve::Expected;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use sidescan_store::Store;
use std::collections::BTreeMap;

/// Where a clone is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Not running yet: what it waits for.
    Waiting(String),
    /// Target and scanner run.
    Running,
    /// The scanner ended: its exit code and termination message.
    ScannerDone {
        exit_code: i32,
        message: Option<String>,
    },
    /// The clone cannot finish: why.
    Failed(String),
}

fn status<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    let s = pod.status.as_ref()?;
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
        .find(|c| c.name == name)
}

/// Decides a clone's step from one version of it.
pub fn step(pod: &Pod, scanner: &str, target: &str, installer: Option<&str>) -> Step {
    let st = pod.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if let Some(t) = status(pod, scanner)
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
    {
        return Step::ScannerDone {
            exit_code: t.exit_code,
            message: t.message.clone().filter(|m| !m.trim().is_empty()),
        };
    }
    if phase == "Failed" || phase == "Succeeded" {
        let reason = st.and_then(|s| s.reason.clone()).unwrap_or(phase.into());
        let message = st.and_then(|s| s.message.clone()).unwrap_or_default();
        return Step::Failed(format!(
            "the clone ended ({reason}) before the scanner: {message}"
        ));
    }
    if let Some(t) = status(pod, target)
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.terminated.as_ref())
    {
        return Step::Failed(format!(
            "the target container exited ({}, exit code {}) before it was scanned",
            t.reason.as_deref().unwrap_or("terminated"),
            t.exit_code
        ));
    }
    if let Some(name) = installer
        && let Some(t) = status(pod, name)
            .and_then(|c| c.state.as_ref())
            .and_then(|s| s.terminated.as_ref())
        && t.exit_code != 0
    {
        return Step::Failed(format!(
            "installing hold failed (exit code {}): {}",
            t.exit_code,
            t.message.as_deref().unwrap_or_default()
        ));
    }
    for name in [Some(target), Some(scanner), installer]
        .into_iter()
        .flatten()
    {
        if let Some((reason, message)) = status(pod, name).and_then(waiting)
            && FATAL_WAITING_REASONS.contains(&reason.as_str())
        {
            return Step::Failed(format!(
                "container {name} cannot start: {reason}: {message}"
            ));
        }
    }
    let running = |name: &str| {
        status(pod, name)
            .and_then(|c| c.state.as_ref())
            .is_some_and(|s| s.running.is_some())
    };
    if running(target) && running(scanner) {
        return Step::Running;
    }
    Step::Waiting(waiting_reason(
        pod,
        &[installer.unwrap_or(""), target, scanner],
    ))
}

/// What a clone that has not started waits for, in one line.
pub fn waiting_reason(pod: &Pod, containers: &[&str]) -> String {
    if let Some(reason) = not_scheduled(pod) {
        return reason;
    }
    let st = pod.status.as_ref();
    for name in containers.iter().filter(|n| !n.is_empty()) {
        if let Some((reason, message)) = status(pod, name).and_then(waiting)
            && !reason.is_empty()
            && reason != "PodInitializing"
            && reason != "ContainerCreating"
        {
            return format!("container {name}: {reason}: {message}")
                .trim_end_matches(": ")
                .to_string();
        }
    }
    format!(
        "phase {}",
        st.and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
    )
}

/// The newest warning among a pod's events (the scheduler's and kubelet's reasons), if any.
pub fn newest_warning(events: &[Event]) -> Option<String> {
    events
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .max_by_key(|e| {
            e.last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
        })
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.as_deref().unwrap_or("Warning"),
                e.message.as_deref().unwrap_or_default().trim()
            )
        })
}

/// The result files a scan stored, read back.
#[derive(Debug, Clone)]
pub struct Retrieved {
    pub hdf: Vec<u8>,
    pub metadata: Vec<u8>,
    /// Object keys by file name.
    pub keys: BTreeMap<String, String>,
}

/// Why retrieval failed, and whether another attempt may do better.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveFailure {
    pub reason: String,
    pub retryable: bool,
}

/// Reads the scan's files back from the store: from the keys this clone's scanner was told to
/// write, checked against the termination message (another run's id or keys, or digests the
/// objects do not have, are refused: a target sharing the scanner's UID could write the
/// message).
pub async fn retrieve(
    store: &Store,
    exit_code: i32,
    message: Option<&str>,
    expected: &Expected,
) -> Result<Retrieved, RetrieveFailure> {
    let fail = |reason: String| RetrieveFailure {
        reason,
        retryable: true,
    };
    let summary = message
        .and_then(sidescan_core::termination::parse)
        .ok_or_else(|| fail(format!("the scanner exited {exit_code} without a summary")))?;
    if exit_code != 0 || summary.outcome != "stored" {
        let error = summary.error.as_deref().unwrap_or("no error given");
        return Err(RetrieveFailure {
            reason: format!(
                "the scanner exited {exit_code} ({}): {error}",
                summary.outcome
            ),
            // Bad input (exit 2) will not change on a retry.
            retryable: exit_code != 2,
        });
    }
    if summary.run_id != expected.run_id {
        return Err(RetrieveFailure {
            reason: format!(
                "the scanner's termination message names run {:?}, not this clone's ({})",
                summary.run_id, expected.run_id
            ),
            retryable: false,
        });
    }
    let mut keys = BTreeMap::new();
    let mut read = BTreeMap::new();
    for file in crate::orchestrator::retrieve::FILES {
        let name = file.file_name();
        let (object, listed) = summary
            .object(name)
            .and_then(|o| o.key.clone().map(|k| (o, k)))
            .ok_or_else(|| fail(format!("the scanner's summary names no stored {name}")))?;
        let key = expected.keys.get(name).cloned().unwrap_or_default();
        if listed != key {
            return Err(RetrieveFailure {
                reason: format!(
                    "the scanner's termination message lists {listed} for {name}, not this \
                     clone's {key}"
                ),
                retryable: false,
            });
        }
        let bytes = store
            .get_bytes(&key)
            .await
            .map_err(|e| fail(format!("reading {key}: {e}")))?;
        // The object must be what the scanner stored (sha256 and size from its summary).
        let wanted = crate::orchestrator::retrieve::Wanted {
            file,
            sha256: object.sha256.clone(),
            size: object.size,
            key: Some(key.clone()),
        };
        crate::orchestrator::retrieve::verify(&wanted, &bytes, &key)
            .map_err(|e| fail(e.to_string()))?;
        keys.insert(name.to_string(), key);
        read.insert(name, bytes.to_vec());
    }
    Ok(Retrieved {
        hdf: read.remove("hdf.json").unwrap_or_default(),
        metadata: read.remove("metadata.json").unwrap_or_default(),
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn retrieve_reads_the_stored_files_and_checks_their_digests() {
        use object_store::ObjectStoreExt;
        use sha2::Digest;
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let store = sidescan_store::open(url.as_str()).unwrap();
        let files = [
            ("hdf.json", &b"{\"profiles\":[]}"[..]),
            ("metadata.json", b"{}"),
        ];
        let mut objects = Vec::new();
        for (name, bytes) in files {
            let key = format!("scans/ns/t/run/{name}");
            store
                .inner
                .put(
                    &object_store::path::Path::from(key.as_str()),
                    bytes.to_vec().into(),
                )
                .await
                .unwrap();
            objects.push(json!({"file": name, "key": key, "size": bytes.len(),
                "sha256": hex::encode(sha2::Sha256::digest(bytes))}));
        }
        let message = |objects: &serde_json::Value| {
            json!({"outcome": "stored", "run_id": "r", "backend": "builtin",
                "objects": objects})
            .to_string()
        };
        let expected = Expected {
            run_id: "r".into(),
            keys: files
                .iter()
                .map(|(name, _)| (*name, format!("scans/ns/t/run/{name}")))
                .collect(),
        };
        let got = retrieve(&store, 0, Some(&message(&json!(objects))), &expected)
            .await
            .unwrap();
        assert_eq!(got.hdf, files[0].1);
        assert_eq!(got.keys["metadata.json"], "scans/ns/t/run/metadata.json");
        // A digest that does not match what is stored is refused (and may be retried).
        let mut changed = objects.clone();
        changed[0]["sha256"] = json!("0".repeat(64));
        let err = retrieve(&store, 0, Some(&message(&json!(changed))), &expected)
            .await
            .unwrap_err();
        assert!(err.retryable && err.reason.contains("sha256"), "{err:?}");
        // A message naming another run's objects (a forged one) is refused, not retried.
        let mut forged = objects.clone();
        forged[1]["key"] = json!("scans/ns/t/other/metadata.json");
        let err = retrieve(&store, 0, Some(&message(&json!(forged))), &expected)
            .await
            .unwrap_err();
        assert!(
            !err.retryable && err.reason.contains("not this clone's"),
            "{err:?}"
        );
        let other_run = Expected {
            run_id: "r2".into(),
            ..expected.clone()
        };
        let err = retrieve(&store, 0, Some(&message(&json!(objects))), &other_run)
            .await
            .unwrap_err();
        assert!(err.reason.contains("names run \"r\""), "{err:?}");
        // A failed scanner's error is passed on; bad input is not retried.
        let failed = json!({"outcome": "failed", "run_id": "r", "backend": "builtin",
            "error": "--profile x: missing"})
        .to_string();
        let err = retrieve(&store, 2, Some(&failed), &expected)
            .await
            .unwrap_err();
        assert!(
            !err.retryable && err.reason.ends_with("--profile x: missing"),
            "{err:?}"
        );
    }

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "c"}, "status": status})).unwrap()
    }

    fn state(name: &str, s: serde_json::Value) -> serde_json::Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0, "state": s})
    }

    #[test]
    fn steps_from_status() {
        let running = json!({"running": {}});
        let p = pod(
            json!({"phase": "Running", "containerStatuses": [state("app", running.clone()), state("s", running.clone())]}),
        );
        assert_eq!(step(&p, "s", "app", Some("h")), Step::Running);
        let p = pod(
            json!({"phase": "Running", "containerStatuses": [state("app", running.clone()),
            state("s", json!({"terminated": {"exitCode": 0, "message": "{\"outcome\":\"stored\"}"}}))]}),
        );
        assert!(matches!(
            step(&p, "s", "app", None),
            Step::ScannerDone { exit_code: 0, .. }
        ));
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            state("app", json!({"terminated": {"exitCode": 1, "reason": "Error"}})), state("s", running.clone())]}));
        assert!(
            matches!(step(&p, "s", "app", None), Step::Failed(m) if m.contains("target container exited"))
        );
        let p = pod(json!({"phase": "Pending", "containerStatuses": [
            state("app", json!({"waiting": {"reason": "ErrImageNeverPull", "message": "no image"}}))]}));
        assert!(
            matches!(step(&p, "s", "app", None), Step::Failed(m) if m.contains("ErrImageNeverPull"))
        );
        let p = pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/1 nodes are available: 1 node(s) had taint"}]}),
        );
        assert_eq!(
            step(&p, "s", "app", None),
            Step::Waiting(
                "not scheduled: Unschedulable: 0/1 nodes are available: 1 node(s) had taint".into()
            )
        );
        let p = pod(json!({"phase": "Pending", "containerStatuses": [
            state("app", json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}))]}));
        assert_eq!(
            step(&p, "s", "app", None),
            Step::Waiting("container app: ImagePullBackOff: Back-off pulling image".into())
        );
        let p = pod(json!({"phase": "Pending", "initContainerStatuses": [
            state("h", json!({"terminated": {"exitCode": 3, "message": "no hold"}}))]}));
        assert!(
            matches!(step(&p, "s", "app", Some("h")), Step::Failed(m) if m.contains("installing hold"))
        );
    }

    #[test]
    fn the_newest_warning_explains_a_pending_clone() {
        let events: Vec<Event> = serde_json::from_value(json!([
            {"metadata": {"name": "a"}, "involvedObject": {}, "type": "Warning", "reason": "FailedScheduling",
             "message": "old", "lastTimestamp": "2026-11-26T03:00:00Z"},
            {"metadata": {"name": "b"}, "involvedObject": {}, "type": "Normal", "reason": "Pulling",
             "message": "x", "lastTimestamp": "2026-11-26T03:00:09Z"},
            {"metadata": {"name": "c"}, "involvedObject": {}, "type": "Warning", "reason": "FailedScheduling",
             "message": "0/1 nodes are available ", "lastTimestamp": "2026-11-26T03:00:05Z"},
        ]))
        .unwrap();
        assert_eq!(
            newest_warning(&events).as_deref(),
            Some("FailedScheduling: 0/1 nodes are available")
        );
        assert_eq!(newest_warning(&[]), None);
    }
}
