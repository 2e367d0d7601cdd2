//! Support for the orchestrator's end-to-end tests: the runner binary, the local cluster's scan
//! settings, the object store as the tests read it, the SAF CLI, and what a run left behind.

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client, ResourceExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The release `sidescan-runner` that `scripts/build-images` built (`SIDESCAN_RUNNER_BIN`
/// overrides): the tests run the same binary outside the cluster that the images hold.
pub fn runner_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("SIDESCAN_RUNNER_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    let bin = target.join("release/sidescan-runner");
    assert!(
        bin.is_file(),
        "{} not found: run scripts/build-images (it builds the release runner) or set \
         SIDESCAN_RUNNER_BIN",
        bin.display()
    );
    bin
}

/// The SAF CLI (`SIDESCAN_SAF_BIN="$(scripts/install-saf)"`).
pub fn saf_bin() -> PathBuf {
    PathBuf::from(crate::env::required(
        "SIDESCAN_SAF_BIN",
        "install the SAF CLI: export SIDESCAN_SAF_BIN=\"$(scripts/install-saf)\"",
    ))
}

/// The development cluster's example spec: local images, host network, the API server on
/// 127.0.0.1, results in the local S3 server with the `sidescan-s3` Secret.
pub fn dev_values() -> PathBuf {
    repo_root().join("examples/specs/dev-cluster.yaml")
}

/// `--set` pairs that make the dev-cluster spec scan the distroless target (uid 65532) in
/// `same-uid` mode.
pub const DISTROLESS: [&str; 5] = [
    "target.name=distroless",
    "target.image=sidescan-target-distroless:dev",
    "security.mode=same-uid",
    "security.runAsUser=65532",
    "security.runAsGroup=65532",
];

/// Creates the Secret the dev-cluster spec names for the store credentials.
pub async fn create_store_secret(client: &Client, ns: &str, access_key: &str, secret_key: &str) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("sidescan-s3".into()),
            ..ObjectMeta::default()
        },
        string_data: Some(BTreeMap::from([
            ("AWS_ACCESS_KEY_ID".to_string(), access_key.to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), secret_key.to_string()),
        ])),
        ..Secret::default()
    };
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("creating the store Secret");
}

/// The bucket of the local S3 server, with the credentials of the environment.
pub fn s3_store() -> (Arc<dyn ObjectStore>, String) {
    let bucket = crate::env::required("SIDESCAN_S3_BUCKET", crate::env::S3_HINT);
    crate::env::required("AWS_ACCESS_KEY_ID", crate::env::S3_HINT);
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .build()
        .expect("S3 client from the environment");
    (Arc::new(store), bucket)
}

/// Every key under `prefix`, sorted.
pub async fn list_keys(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let path = ObjectPath::from(prefix);
    let mut keys: Vec<String> = store
        .list(Some(&path))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("listing {prefix}: {e}"));
    keys.sort();
    keys
}

/// The object at `key`.
pub async fn get(store: &dyn ObjectStore, key: &str) -> Vec<u8> {
    store
        .get(&ObjectPath::from(key))
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("GET {key}: {e}"))
        .to_vec()
}

/// The run folders (`.../<timestamp>-<run id>/`) under `prefix`, with their files.
pub async fn run_folders(store: &dyn ObjectStore, prefix: &str) -> BTreeMap<String, Vec<String>> {
    let mut folders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in list_keys(store, prefix).await {
        if let Some((folder, file)) = key.rsplit_once('/') {
            folders
                .entry(folder.to_string())
                .or_default()
                .push(file.to_string());
        }
    }
    folders
}

/// The five files of a complete run folder.
pub const RUN_FILES: [&str; 5] = [
    "evaluation.json",
    "hdf.json",
    "junit.xml",
    "metadata.json",
    "summary.md",
];

/// `kind/name` of every object in `ns` labelled with `selector`, across the kinds a run creates.
pub async fn objects_with(client: &Client, ns: &str, selector: &str) -> Vec<String> {
    let params = ListParams::default().labels(selector);
    let mut found = Vec::new();
    macro_rules! collect {
        ($kind:ty, $what:literal) => {{
            let api: Api<$kind> = Api::namespaced(client.clone(), ns);
            for item in api.list_metadata(&params).await.expect("listing").items {
                found.push(format!("{}/{}", $what, item.name_any()));
            }
        }};
    }
    collect!(Pod, "pod");
    collect!(ConfigMap, "configmap");
    collect!(ServiceAccount, "serviceaccount");
    collect!(Role, "role");
    collect!(RoleBinding, "rolebinding");
    found
}

/// Asserts that no object of run `run_id` is left in `ns`, and no pod named `pod`; the token
/// Secret of a run's ServiceAccount goes too (the token controller removes it with the
/// ServiceAccount: watched until gone).
pub async fn assert_nothing_left(client: &Client, ns: &str, run_id: &str, pod: &str) {
    let left = objects_with(client, ns, &format!("sidescan.io/run-id={run_id}")).await;
    assert!(left.is_empty(), "run {run_id} left {left:?}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    assert!(
        pods.get_opt(pod).await.expect("GET pod").is_none(),
        "pod {pod} is still there"
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let prefix = format!("sidescan-{run_id}-");
    for secret in secrets
        .list_metadata(&ListParams::default())
        .await
        .expect("list secrets")
        .items
    {
        let name = secret.name_any();
        if name.starts_with(&prefix) {
            let gone = kube::runtime::wait::await_condition(
                secrets.clone(),
                &name,
                |s: Option<&Secret>| s.is_none(),
            );
            match tokio::time::timeout(crate::harness::WAIT, gone).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => panic!("watching secret {name}: {e}"),
                Err(_) => panic!("secret {name} of run {run_id} is still there"),
            }
        }
    }
}

/// The value after `run ` in a run's closing summary (`run <id> in 6.2s, ...`).
pub fn run_id_in(stdout: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        l.strip_prefix("run ")
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|id| *id != "-")
            .map(str::to_string)
    })
}
