//! The Kubernetes edge of the orchestrator: a client that counts its API requests, a watch on the
//! scan pod that every wait reads from, deletes that wait until the object is gone, and Events.

use crate::Error;
use futures::StreamExt;
use futures::stream::BoxStream;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, DeleteParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource};
use sidescan_core::Phase;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// API requests made through the client, by kind (`GET pods`, `WATCH pods`, `POST events`), and
/// each distinct request as RBAC sees it ([`ApiRequest`]). With `SIDESCAN_API_REQUESTS=<file>`
/// each distinct request is also appended to that file as one JSON line when first made (the
/// end-to-end tests compare them with the rendered RBAC).
#[derive(Debug, Clone, Default)]
pub struct ApiCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    distinct: Arc<Mutex<std::collections::BTreeSet<ApiRequest>>>,
    log: Option<Arc<std::path::PathBuf>>,
}

/// The environment variable naming the file [`ApiCounter`] appends distinct requests to.
pub const API_REQUESTS_ENV: &str = "SIDESCAN_API_REQUESTS";

impl ApiCounter {
    /// A counter that appends each distinct request to `log`.
    pub fn logging_to(log: Option<std::path::PathBuf>) -> ApiCounter {
        ApiCounter {
            log: log.map(Arc::new),
            ..ApiCounter::default()
        }
    }

    fn record(&self, kind: String, request: Option<ApiRequest>) {
        if let Ok(mut map) = self.counts.lock() {
            *map.entry(kind).or_default() += 1;
        }
        let Some(request) = request else { return };
        let new = self
            .distinct
            .lock()
            .map(|mut set| set.insert(request.clone()))
            .unwrap_or(false);
        if let (true, Some(path)) = (new, &self.log) {
            use std::io::Write as _;
            let line = serde_json::to_string(&request).unwrap_or_default();
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path.as_ref())
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = written {
                tracing::warn!(file = %path.display(), error = %e, "recording an API request failed");
            }
        }
    }

    pub fn by_kind(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.by_kind().values().sum()
    }

    /// Every distinct request made so far.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.distinct
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// One request as RBAC authorizes it: the verb (`get`, `list`, `watch`, `create`, `update`,
/// `patch`, `delete`, `deletecollection`), the API group (`""` for the core group), the resource
/// and subresource, the namespace (none: cluster-scoped or across namespaces) and the object's
/// name. A non-resource URL (`/version`) is `get` of resource `version` in no group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ApiRequest {
    pub verb: String,
    pub group: String,
    pub resource: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Reads a request's RBAC attributes from its method, path and query.
pub fn api_request(method: &str, path: &str, query: Option<&str>) -> ApiRequest {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest): (&str, &[&str]) = match segments.first() {
        Some(&"api") => ("", segments.get(2..).unwrap_or_default()),
        Some(&"apis") => (
            segments.get(1).copied().unwrap_or_default(),
            segments.get(3..).unwrap_or_default(),
        ),
        _ => {
            return ApiRequest {
                verb: "get".into(),
                group: String::new(),
                resource: segments.join("/"),
                subresource: None,
                namespace: None,
                name: None,
            };
        }
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (Some(ns.to_string()), more),
        _ => (None, rest),
    };
    let resource = rest.first().copied().unwrap_or_default().to_string();
    let name = rest.get(1).map(|n| n.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    let watch = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    let verb = match (method, name.is_some()) {
        ("GET", _) if watch => "watch",
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (other, _) => {
            return ApiRequest {
                verb: other.to_lowercase(),
                group: group.into(),
                resource,
                subresource,
                namespace,
                name,
            };
        }
    };
    // A list or watch by `metadata.name` field selector is authorized for that name (the API
    // server's request info takes it from the selector, so `resourceNames` can allow it).
    let name = match verb {
        "list" | "watch" => name.or_else(|| query.and_then(field_selector_name)),
        _ => name,
    };
    ApiRequest {
        verb: verb.into(),
        group: group.into(),
        resource,
        subresource,
        namespace,
        name,
    }
}

/// The name a `fieldSelector` requires exactly (`metadata.name=x` or `metadata.name==x`).
fn field_selector_name(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "fieldSelector")
        .find_map(|(_, selector)| {
            selector.split(',').find_map(|term| {
                let value = term.trim().strip_prefix("metadata.name")?;
                let value = value
                    .strip_prefix("==")
                    .or_else(|| value.strip_prefix('='))?;
                Some(value.to_string())
            })
        })
}

/// `GET pods`, `WATCH pods`, `GET pods/log`, `POST configmaps`, `GET version`: the verb and the
/// resource of a request, names and namespaces left out.
pub fn request_kind(method: &str, path: &str, query: Option<&str>) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/... or /apis/<group>/<version>/...
    let rest: &[&str] = match segments.first() {
        Some(&"api") => segments.get(2..).unwrap_or_default(),
        Some(&"apis") => segments.get(3..).unwrap_or_default(),
        _ => &segments,
    };
    let rest: &[&str] = if rest.first() == Some(&"namespaces") && rest.len() > 2 {
        &rest[2..]
    } else {
        rest
    };
    let resource = match rest {
        [] => "",
        [kind] | [kind, _] => kind,
        [kind, _, sub, ..] => {
            return format!("{} {kind}/{sub}", verb(method, query));
        }
    };
    format!("{} {resource}", verb(method, query))
        .trim()
        .to_string()
}

fn verb(method: &str, query: Option<&str>) -> String {
    let watch = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    if watch {
        "WATCH".into()
    } else {
        method.to_string()
    }
}

/// A client for the current kubeconfig (`in_cluster`: the pod's ServiceAccount, unless
/// `KUBECONFIG` names a file, as it does when the end-to-end tests run `orchestrate` from the host
/// with a ServiceAccount's token), counting every request it makes.
pub async fn client(in_cluster: bool) -> Result<(Client, ApiCounter), Error> {
    let explicit = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty());
    let config = if in_cluster && explicit {
        kube::Config::from_kubeconfig(&kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| Error::NoCluster {
                reason: format!("KUBECONFIG: {e}"),
            })?
    } else if in_cluster {
        kube::Config::incluster().map_err(|e| Error::NoCluster {
            reason: format!(
                "no in-cluster Kubernetes configuration (KUBERNETES_SERVICE_HOST and the \
                     ServiceAccount token): {e}"
            ),
        })?
    } else {
        kube::Config::infer().await.map_err(|e| Error::NoCluster {
            reason: format!("no Kubernetes configuration: {e}"),
        })?
    };
    let log = std::env::var_os(API_REQUESTS_ENV)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from);
    let counter = ApiCounter::logging_to(log);
    let recorder = counter.clone();
    let layer = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        let (method, uri) = (req.method().as_str(), req.uri());
        recorder.record(
            request_kind(method, uri.path(), uri.query()),
            Some(api_request(method, uri.path(), uri.query())),
        );
        req
    });
    let client = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| Error::kube("building the Kubernetes client", e))?
        .with_layer(&layer)
        .build();
    Ok((client, counter))
}

/// True for answers that will not change on a retry (RBAC, authentication).
fn is_refusal(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 401 || s.code == 403)
}

/// One watch on the scan pod (by name) for the whole run: every wait reads its latest version.
/// Once [`PodWatch::follow`] names this run's pod, versions of another pod of the same name (a
/// stale one just deleted) are ignored.
pub struct PodWatch {
    name: String,
    stream: BoxStream<'static, Result<watcher::Event<Pod>, watcher::Error>>,
    /// The pod as last seen; `None` when it does not exist.
    pub latest: Option<Pod>,
    uid: Option<String>,
    relisted: Option<Option<Pod>>,
    synced: bool,
    last_error: Option<String>,
}

impl PodWatch {
    pub fn new(api: Api<Pod>, name: &str) -> PodWatch {
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        PodWatch {
            name: name.to_string(),
            stream: watcher(api, config).default_backoff().boxed(),
            latest: None,
            uid: None,
            relisted: None,
            synced: false,
            last_error: None,
        }
    }

    /// From now on only this pod (by UID) counts; it is the latest version until the watch
    /// delivers a newer one.
    pub fn follow(&mut self, pod: Pod) {
        self.uid = pod.metadata.uid.clone();
        self.latest = Some(pod);
    }

    fn ours(&self, pod: &Pod) -> bool {
        self.uid
            .as_ref()
            .is_none_or(|uid| pod.metadata.uid.as_ref() == Some(uid))
    }

    /// Waits for the next change of `latest` (the first call returns after the initial list).
    /// A refused watch (RBAC) is an error at once; other failures are retried with backoff.
    pub async fn changed(&mut self) -> Result<(), Error> {
        loop {
            let Some(event) = self.stream.next().await else {
                return Err(Error::ScanPod {
                    reason: format!("the watch on pod {} ended", self.name),
                });
            };
            match event {
                Ok(watcher::Event::Init) => self.relisted = Some(None),
                Ok(watcher::Event::InitApply(pod)) => {
                    if self.ours(&pod) {
                        self.relisted = Some(Some(pod));
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    // A (re-)list: what it found is the state, absent included.
                    self.latest = self.relisted.take().flatten();
                    self.synced = true;
                    return Ok(());
                }
                Ok(watcher::Event::Apply(pod)) => {
                    if self.ours(&pod) {
                        self.latest = Some(pod);
                        if self.synced {
                            return Ok(());
                        }
                    }
                }
                Ok(watcher::Event::Delete(pod)) => {
                    if self.ours(&pod) {
                        self.latest = None;
                        if self.synced {
                            return Ok(());
                        }
                    }
                }
                Err(e) => {
                    let refused = match &e {
                        watcher::Error::InitialListFailed(k)
                        | watcher::Error::WatchStartFailed(k)
                        | watcher::Error::WatchFailed(k) => is_refusal(k),
                        watcher::Error::WatchError(s) => s.code == 401 || s.code == 403,
                        watcher::Error::NoResourceVersion => false,
                    };
                    if refused {
                        return Err(Error::ScanPod {
                            reason: format!("watching pod {}: {e}", self.name),
                        });
                    }
                    tracing::warn!(pod = %self.name, error = %e, "watch failed; retrying");
                    self.last_error = Some(e.to_string());
                }
            }
        }
    }

    /// Waits until `decide` returns an answer for the latest version of the pod, or the
    /// deadline passes (`describe` says what was awaited).
    pub async fn wait<T>(
        &mut self,
        phase: Phase,
        deadline: Instant,
        seconds: u64,
        mut decide: impl FnMut(Option<&Pod>) -> Option<Result<T, Error>>,
        describe: impl Fn(Option<&Pod>) -> String,
    ) -> Result<T, Error> {
        loop {
            if self.synced
                && let Some(answer) = decide(self.latest.as_ref())
            {
                return answer;
            }
            match tokio::time::timeout_at(deadline, self.changed()).await {
                Ok(result) => result?,
                Err(_) => {
                    let mut waiting_for = describe(self.latest.as_ref());
                    if let Some(e) = &self.last_error {
                        waiting_for.push_str(&format!(" (last API error: {e})"));
                    }
                    return Err(Error::Deadline {
                        phase,
                        seconds,
                        waiting_for,
                    });
                }
            }
        }
    }
}

/// Deletes `name` (ignoring NotFound). `Ok(true)` when it is already gone, `Ok(false)` when the
/// deletion is under way (graceful deletion, finalizers).
pub async fn delete<K>(api: &Api<K>, name: &str, params: &DeleteParams) -> Result<bool, Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, params).await {
        Ok(either) => Ok(either.is_right()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(true),
        Err(e) => Err(Error::kube(format!("deleting {name}"), e)),
    }
}

/// Publishes one Event per phase on the scan pod, in the background: a refused or failed event
/// never fails the run. [`Events::flush`] waits for the ones in flight.
pub struct Events {
    recorder: Recorder,
    pending: Vec<tokio::task::JoinHandle<()>>,
    pub regarding: Option<ObjectReference>,
}

impl Events {
    pub fn new(client: Client, instance: Option<String>) -> Events {
        let reporter = Reporter {
            controller: "sidescan-orchestrator".into(),
            instance,
        };
        Events {
            recorder: Recorder::new(client, reporter),
            pending: Vec::new(),
            regarding: None,
        }
    }

    pub fn publish(&mut self, ok: bool, reason: &str, action: &str, note: String) {
        let Some(regarding) = self.regarding.clone() else {
            return;
        };
        let recorder = self.recorder.clone();
        let event = Event {
            type_: if ok {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: reason.to_string(),
            // The API limits notes to 1 kB.
            note: Some(note.chars().take(1000).collect()),
            action: action.to_string(),
            secondary: None,
        };
        self.pending.push(tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &regarding).await {
                tracing::warn!(error = %e, reason = %event.reason, "event not recorded");
            }
        }));
    }

    /// Waits (briefly) for the events in flight.
    pub async fn flush(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let all = futures::future::join_all(pending);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), all).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_verb_and_resource() {
        let cases = [
            ("GET", "/version", None, "GET version"),
            ("GET", "/api/v1/namespaces/ns", None, "GET namespaces"),
            (
                "GET",
                "/api/v1/namespaces/ns/pods",
                Some("fieldSelector=metadata.name%3Dx"),
                "GET pods",
            ),
            (
                "GET",
                "/api/v1/namespaces/ns/pods",
                Some("fieldSelector=x&watch=true&timeoutSeconds=290"),
                "WATCH pods",
            ),
            ("POST", "/api/v1/namespaces/ns/pods", None, "POST pods"),
            (
                "DELETE",
                "/api/v1/namespaces/ns/pods/sidescan-scan-web",
                None,
                "DELETE pods",
            ),
            (
                "GET",
                "/api/v1/namespaces/ns/pods/sidescan-scan-web/log",
                Some("container=s"),
                "GET pods/log",
            ),
            (
                "POST",
                "/apis/events.k8s.io/v1/namespaces/ns/events",
                None,
                "POST events",
            ),
            (
                "GET",
                "/apis/batch/v1/namespaces/ns/jobs/j",
                None,
                "GET jobs",
            ),
            (
                "POST",
                "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles",
                None,
                "POST roles",
            ),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(request_kind(method, path, query), expected, "{path}");
        }
        let counter = ApiCounter::default();
        counter.record("GET pods".into(), None);
        counter.record("GET pods".into(), None);
        counter.record("WATCH pods".into(), None);
        assert_eq!(counter.total(), 3);
        assert_eq!(counter.by_kind()["GET pods"], 2);
    }

    #[test]
    fn requests_are_recorded_as_rbac_sees_them() {
        let r = |m, p, q| {
            let a = api_request(m, p, q);
            format!(
                "{} {}/{}{} ns={} name={}",
                a.verb,
                a.group,
                a.resource,
                a.subresource.map(|s| format!("/{s}")).unwrap_or_default(),
                a.namespace.unwrap_or_default(),
                a.name.unwrap_or_default()
            )
        };
        let cases = [
            ("GET", "/version", None, "get /version ns= name="),
            (
                "GET",
                "/api/v1/namespaces",
                None,
                "list /namespaces ns= name=",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop",
                None,
                "get /namespaces ns= name=shop",
            ),
            (
                "GET",
                "/api/v1/pods",
                Some("limit=500"),
                "list /pods ns= name=",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop/pods",
                Some("fieldSelector=metadata.name%3Dsidescan-scan-web&limit=500"),
                "list /pods ns=shop name=sidescan-scan-web",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop/pods",
                Some("fieldSelector=metadata.name%3D%3Dweb%2Cstatus.phase%3DRunning&watch=true"),
                "watch /pods ns=shop name=web",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop/pods",
                Some("fieldSelector=metadata.name%21%3Dweb&watch=true"),
                "watch /pods ns=shop name=",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop/pods",
                Some("labelSelector=a%3Db&watch=true&resourceVersion=1"),
                "watch /pods ns=shop name=",
            ),
            (
                "POST",
                "/api/v1/namespaces/shop/pods",
                None,
                "create /pods ns=shop name=",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/shop/pods/c-1",
                None,
                "delete /pods ns=shop name=c-1",
            ),
            (
                "DELETE",
                "/api/v1/namespaces/shop/pods",
                Some("labelSelector=x"),
                "deletecollection /pods ns=shop name=",
            ),
            (
                "GET",
                "/api/v1/namespaces/shop/pods/c-1/log",
                None,
                "get /pods/log ns=shop name=c-1",
            ),
            (
                "GET",
                "/apis/apps/v1/namespaces/shop/deployments",
                None,
                "list apps/deployments ns=shop name=",
            ),
            (
                "GET",
                "/apis/batch/v1beta1/cronjobs",
                None,
                "list batch/cronjobs ns= name=",
            ),
            (
                "PATCH",
                "/apis/rbac.authorization.k8s.io/v1/namespaces/ns/roles/r",
                None,
                "patch rbac.authorization.k8s.io/roles ns=ns name=r",
            ),
        ];
        for (method, path, query, expected) in cases {
            assert_eq!(r(method, path, query), expected, "{method} {path}");
        }
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let counter = ApiCounter::logging_to(Some(log.clone()));
        for _ in 0..2 {
            counter.record(
                "DELETE pods".into(),
                Some(api_request(
                    "DELETE",
                    "/api/v1/namespaces/shop/pods/c-1",
                    None,
                )),
            );
        }
        assert_eq!(counter.total(), 2);
        let lines = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            lines,
            "{\"verb\":\"delete\",\"group\":\"\",\"resource\":\"pods\",\"namespace\":\"shop\",\"name\":\"c-1\"}\n",
            "each distinct request once"
        );
        assert_eq!(counter.requests().len(), 1);
    }
}
