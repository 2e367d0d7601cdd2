//! Generated manifests in the cluster: render an example spec the way `sidescan-gen` does and
//! apply the documents with server-side apply.

use crate::harness::wait_for_service_account_token;
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{self, Scope};
use serde_json::Value;
use sidescan_core::audit::AuditSpec;
use sidescan_gen::audit::AuditKind;
use sidescan_gen::{Generator, Kind, KubeVersion, values};
use std::path::{Path, PathBuf};

/// The documents of one scan pod run from rendered manifests: its RBAC, ConfigMaps and Pod,
/// without the orchestration Job's spec ConfigMap (`sidescan-<target>-spec`).
pub fn scan_pod_objects(docs: Vec<Value>, target: &str) -> Vec<Value> {
    let wanted = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Pod"];
    docs.into_iter()
        .filter(|d| wanted.contains(&d["kind"].as_str().unwrap()))
        .filter(|d| d["metadata"]["name"] != format!("sidescan-{target}-spec").as_str())
        .collect()
}

/// `examples/specs/<name>.yaml` in the repository.
pub fn example_spec(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../examples/specs/{name}.yaml"))
}

/// The server's release, as `--kube-version` takes it.
pub async fn server_version(client: &Client) -> KubeVersion {
    let info = client.apiserver_version().await.expect("GET /version");
    let minor = info.minor.trim_end_matches('+');
    KubeVersion::parse(&format!("{}.{minor}", info.major)).expect("server version")
}

/// Renders example spec `name` into namespace `ns` with `sets` applied, as JSON documents:
/// `render all` (the Job path) followed by `render scan-pod` (the manual path).
pub fn render_example(name: &str, ns: &str, kube: KubeVersion, sets: &[&str]) -> Vec<Value> {
    render_example_as(name, ns, kube, sets, &[None, Some(Kind::ScanPod)])
}

/// Renders example spec `name` into namespace `ns` with `sets` applied, once per entry of
/// `kinds` (`None`: `render all`), as JSON documents in that order.
pub fn render_example_as(
    name: &str,
    ns: &str,
    kube: KubeVersion,
    sets: &[&str],
    kinds: &[Option<Kind>],
) -> Vec<Value> {
    let path = example_spec(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut tree = values::parse_values(&text, name).unwrap();
    values::apply_set(&mut tree, &format!("namespace={ns}"), false).unwrap();
    for set in sets {
        values::apply_set(&mut tree, set, false).unwrap();
    }
    let spec = values::spec_from_value(tree).unwrap();
    let generator = Generator::new().unwrap();
    let base = path.parent().unwrap();
    let mut rendered = Vec::new();
    for kind in kinds {
        rendered.extend(sidescan_gen::generate(&generator, &spec, base, kube, *kind).unwrap());
    }
    sidescan_gen::documents(&sidescan_gen::to_stream(&rendered)).unwrap()
}

/// The audit's documents `sidescan-gen render audit-job|audit-cronjob` writes for `spec`, as
/// JSON.
pub fn render_audit(spec: &AuditSpec, kube: KubeVersion, kind: AuditKind) -> Vec<Value> {
    let generator = Generator::new().unwrap();
    let docs = sidescan_gen::audit::generate(&generator, spec, Path::new("."), kube, kind).unwrap();
    let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
    sidescan_gen::documents(&stream).unwrap()
}

/// The API for a document in the namespace it names (cluster-scoped kinds: the cluster's), and
/// its name.
pub async fn api_in_its_namespace(client: &Client, doc: &Value) -> (Api<DynamicObject>, String) {
    let api_version = doc["apiVersion"].as_str().unwrap();
    let kind = doc["kind"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps) = discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("{api_version} {kind} not served: {e}"));
    let name = doc["metadata"]["name"].as_str().unwrap().to_string();
    let api = match (caps.scope, doc["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        _ => Api::all_with(client.clone(), &resource),
    };
    (api, name)
}

/// Deletes the cluster-scoped documents of `docs` (they outlive the test namespace), ignoring
/// errors: cleanup after a test, whatever happened in it.
pub async fn delete_cluster_scoped(client: &Client, docs: &[Value]) {
    for doc in docs
        .iter()
        .filter(|d| !d["metadata"]["namespace"].is_string())
    {
        let (api, name) = api_in_its_namespace(client, doc).await;
        let _ = api.delete(&name, &DeleteParams::default()).await;
    }
}

/// The API for a document's kind in `ns`, `Kind/name` for messages, and the name.
pub async fn api_for(
    client: &Client,
    ns: &str,
    doc: &Value,
) -> (Api<DynamicObject>, String, String) {
    let api_version = doc["apiVersion"].as_str().unwrap();
    let kind = doc["kind"].as_str().unwrap();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, _) = discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("{api_version} {kind} not served: {e}"));
    let name = doc["metadata"]["name"].as_str().unwrap().to_string();
    (
        Api::namespaced_with(client.clone(), ns, &resource),
        format!("{kind}/{name}"),
        name,
    )
}

/// Server-side apply of every document in order; with `dry_run_first`, a dry run of each first,
/// which must create nothing. Document by document, because admission checks a pod's
/// ServiceAccount, which an earlier document creates.
pub async fn apply_all(client: &Client, ns: &str, docs: &[Value], dry_run_first: bool) {
    let real = PatchParams::apply("sidescan-e2e");
    let mut dry_run = real.clone();
    dry_run.dry_run = true;
    for doc in docs {
        let (api, what, name) = api_for(client, ns, doc).await;
        if dry_run_first {
            api.patch(&name, &dry_run, &Patch::Apply(doc))
                .await
                .unwrap_or_else(|e| panic!("dry run of {what} refused: {e}"));
            assert!(
                api.get_opt(&name).await.unwrap().is_none(),
                "{what} exists after a dry run"
            );
        }
        api.patch(&name, &real, &Patch::Apply(doc))
            .await
            .unwrap_or_else(|e| panic!("apply of {what} refused: {e}"));
        if doc["kind"] == "ServiceAccount" {
            // v1.20 admission refuses pods until their ServiceAccount has a token Secret.
            wait_for_service_account_token(client, ns, &name).await;
        }
    }
}
