//! The agent's own pod, read through the Kubernetes API (in-cluster config; pod name and namespace
//! from the downward API): the target container's ID, image and digest, and the node.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

/// What the pod's status says about the target container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetStatus {
    pub container: String,
    /// `containerd://<id>` etc.; `None` until the container has been created.
    pub container_id: Option<String>,
    pub image: Option<String>,
    /// Digest part of `imageID` (`sha256:...`).
    pub image_digest: Option<String>,
    pub node: Option<String>,
    pub restart_count: i32,
    pub running: bool,
}

/// Picks the target container from the pod: the one named `target`, or, when none is named, the
/// only container other than `own` (the scanner's own container).
pub fn target_from_pod(
    pod: &Pod,
    target: Option<&str>,
    own: Option<&str>,
) -> Result<TargetStatus, String> {
    let spec = pod.spec.as_ref().ok_or("pod has no spec")?;
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let name = match target {
        Some(t) if names.contains(&t) => t.to_string(),
        Some(t) => {
            return Err(format!(
                "pod has no container {t:?} (containers: {names:?})"
            ));
        }
        None => {
            let others: Vec<&str> = names.iter().copied().filter(|n| Some(*n) != own).collect();
            match others.as_slice() {
                [one] => one.to_string(),
                _ => {
                    return Err(format!(
                        "cannot tell the target among containers {names:?}: set \
                         --target-container (SIDESCAN_TARGET_CONTAINER)"
                    ));
                }
            }
        }
    };
    let image = spec
        .containers
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.image.clone());
    let status = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|all| all.iter().find(|c| c.name == name));
    Ok(TargetStatus {
        container: name,
        container_id: status
            .and_then(|s| s.container_id.clone())
            .filter(|id| !id.is_empty()),
        image: status.map(|s| s.image.clone()).or(image),
        image_digest: status.and_then(|s| digest_of(&s.image_id)),
        node: spec.node_name.clone(),
        restart_count: status.map_or(0, |s| s.restart_count),
        running: status
            .and_then(|s| s.state.as_ref())
            .is_some_and(|st| st.running.is_some()),
    })
}

/// `sha256:...` from an `imageID` like `docker.io/library/nginx@sha256:...` or `sha256:...`.
pub fn digest_of(image_id: &str) -> Option<String> {
    let digest = image_id.rsplit('@').next()?;
    digest.starts_with("sha256:").then(|| digest.to_string())
}

/// Watches the pod and publishes the target's latest status; a restart publishes a new
/// container ID. Errors are published as `Err` so the caller can report them on timeout.
pub async fn watch_target(
    namespace: String,
    pod_name: String,
    target: Option<String>,
    own: Option<String>,
) -> Result<watch::Receiver<Result<TargetStatus, String>>, String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("Kubernetes API not reachable: {e}"))?;
    let api: kube::Api<Pod> = kube::Api::namespaced(client, &namespace);
    let (tx, rx) = watch::channel(Err(format!("pod {namespace}/{pod_name} not seen yet")));
    let config = watcher::Config::default().fields(&format!("metadata.name={pod_name}"));
    tokio::spawn(async move {
        // Backoff: a refused or failing watch (RBAC, API down) is retried with growing delays
        // instead of a tight loop of errors.
        let mut events = std::pin::pin!(watcher(api, config).default_backoff());
        while let Some(event) = events.next().await {
            let update = match event {
                Ok(watcher::Event::Apply(pod)) | Ok(watcher::Event::InitApply(pod)) => {
                    target_from_pod(&pod, target.as_deref(), own.as_deref())
                }
                Ok(_) => continue,
                Err(e) => Err(format!("watching pod {pod_name}: {e}")),
            };
            if tx.send(update).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    fn sample() -> Pod {
        pod(serde_json::json!({
            "metadata": {"name": "scan-nginx", "namespace": "default"},
            "spec": {"nodeName": "node-1", "shareProcessNamespace": true, "containers": [
                {"name": "target", "image": "nginx:1.27"},
                {"name": "sidescan-scanner", "image": "localhost/sidescan-scanner:dev"}
            ]},
            "status": {"containerStatuses": [
                {"name": "target", "image": "docker.io/library/nginx:1.27",
                 "imageID": "docker.io/library/nginx@sha256:abcd", "ready": true,
                 "restartCount": 1, "containerID": "containerd://0123456789abcdef",
                 "state": {"running": {"startedAt": "2026-11-26T15:00:00Z"}}},
                {"name": "sidescan-scanner", "image": "x", "imageID": "", "ready": true,
                 "restartCount": 0}
            ]}
        }))
    }

    #[test]
    fn finds_the_other_container() {
        let t = target_from_pod(&sample(), None, Some("sidescan-scanner")).unwrap();
        assert_eq!(t.container, "target");
        assert_eq!(
            t.container_id.as_deref(),
            Some("containerd://0123456789abcdef")
        );
        assert_eq!(t.image_digest.as_deref(), Some("sha256:abcd"));
        assert_eq!(t.image.as_deref(), Some("docker.io/library/nginx:1.27"));
        assert_eq!(t.node.as_deref(), Some("node-1"));
        assert_eq!(t.restart_count, 1);
        assert!(t.running);
    }

    #[test]
    fn named_container_must_exist_and_unnamed_must_be_unique() {
        let err = target_from_pod(&sample(), Some("web"), None).unwrap_err();
        assert!(err.contains("\"web\""), "{err}");
        let err = target_from_pod(&sample(), None, None).unwrap_err();
        assert!(err.contains("--target-container"), "{err}");
    }

    #[test]
    fn container_not_created_yet_has_no_id() {
        let p = pod(serde_json::json!({
            "spec": {"containers": [{"name": "target", "image": "nginx"}]},
            "status": {"containerStatuses": [{"name": "target", "image": "nginx", "imageID": "",
                "ready": false, "restartCount": 0, "containerID": "",
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        }));
        let t = target_from_pod(&p, Some("target"), None).unwrap();
        assert_eq!(t.container_id, None);
        assert_eq!(t.image_digest, None);
        assert!(!t.running);
    }

    #[test]
    fn digests() {
        assert_eq!(digest_of("sha256:ff").as_deref(), Some("sha256:ff"));
        assert_eq!(digest_of("x@sha256:ff").as_deref(), Some("sha256:ff"));
        assert_eq!(digest_of("nginx:1.27"), None);
    }
}
