//! The agent's own pod, read through the Kubernetes API with the pod's token (pod name and
//! namespace from the downward API): the target container's ID, image and digest, and the node.

use serde::Deserialize;
use tokio::sync::watch;

/// The fields of a Pod the agent reads (the API's JSON, camelCase). Everything else is ignored,
/// so the agent needs neither the Kubernetes client nor its generated types.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Pod {
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    pub node_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default, rename = "imageID")]
    pub image_id: String,
    #[serde(default)]
    pub restart_count: i32,
    #[serde(rename = "containerID")]
    pub container_id: Option<String>,
    pub state: Option<ContainerState>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContainerState {
    pub running: Option<serde_json::Value>,
}

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

/// Where the in-cluster API and the pod's credentials are (the Kubernetes conventions: the
/// service environment variables and the ServiceAccount mount).
#[derive(Debug, Clone)]
pub struct ApiAccess {
    /// `https://host:port`.
    pub base: String,
    pub token_file: std::path::PathBuf,
    pub ca_file: std::path::PathBuf,
}

impl ApiAccess {
    /// From `KUBERNETES_SERVICE_HOST`/`_PORT` and the token directory; `None` outside a pod or
    /// when no token is mounted (then the API cannot identify the target).
    pub fn in_cluster(token_dir: &std::path::Path) -> Option<ApiAccess> {
        let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
        let token_file = token_dir.join("token");
        token_file.is_file().then(|| ApiAccess {
            base: if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            },
            ca_file: token_dir.join("ca.crt"),
            token_file,
        })
    }
}

/// How often the pod is read while the target is not identified.
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Reads the agent's own pod (`GET` by name, the one call its Role allows) until the task is
/// dropped and publishes the target's latest status; a restart publishes a new container ID.
/// Errors are published as `Err` so the caller can report them on timeout. A plain HTTPS client:
/// the agent links no Kubernetes client.
pub async fn watch_target(
    access: ApiAccess,
    namespace: String,
    pod_name: String,
    target: Option<String>,
    own: Option<String>,
) -> Result<watch::Receiver<Result<TargetStatus, String>>, String> {
    let ca =
        std::fs::read(&access.ca_file).map_err(|e| format!("{}: {e}", access.ca_file.display()))?;
    let ca = reqwest::Certificate::from_pem(&ca)
        .map_err(|e| format!("{}: not a PEM certificate: {e}", access.ca_file.display()))?;
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("Kubernetes API client: {e}"))?;
    let url = format!(
        "{}/api/v1/namespaces/{namespace}/pods/{pod_name}",
        access.base
    );
    let (tx, rx) = watch::channel(Err(format!("pod {namespace}/{pod_name} not seen yet")));
    tokio::spawn(async move {
        loop {
            let update = read_pod(&client, &url, &access.token_file)
                .await
                .and_then(|pod| target_from_pod(&pod, target.as_deref(), own.as_deref()));
            if tx.send(update).is_err() {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    });
    Ok(rx)
}

/// One `GET` of the pod. The token is re-read each time: the kubelet rotates projected tokens.
async fn read_pod(
    client: &reqwest::Client,
    url: &str,
    token_file: &std::path::Path,
) -> Result<Pod, String> {
    let token = std::fs::read_to_string(token_file)
        .map_err(|e| format!("{}: {e}", token_file.display()))?;
    let response = client
        .get(url)
        .bearer_auth(token.trim())
        .send()
        .await
        .map_err(|e| format!("reading pod: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading pod: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "reading pod: HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("reading pod: not a Pod: {e}"))
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
