//! Helpers for audit tests: the runner binary (built on demand, so a test never runs a stale
//! one), an audit spec for the local cluster and S3 server, the store credentials Secret,
//! reading objects back from S3, and the workloads' pods an audit must leave alone.

use crate::env::{S3_HINT, required};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// `sidescan-runner`, built from this tree (`cargo build -p sidescan-runner`) the first time.
pub fn runner_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| built("sidescan-runner", "sidescan-runner"))
        .clone()
}

/// `sidescan-eval`, built from this tree (`cargo build -p sidescan-eval`) the first time.
pub fn eval_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| built("sidescan-eval", "sidescan-eval"))
        .clone()
}

/// Builds `bin` of `package` (debug, this tree) and returns its path beside the test binary.
fn built(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", package, "--bin", bin])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .status()
        .unwrap_or_else(|e| panic!("cargo build -p {package}: {e}"));
    assert!(status.success(), "cargo build -p {package} failed");
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>/<bin>
    let path = exe.parent().unwrap().parent().unwrap().join(bin);
    assert!(path.is_file(), "{} not built", path.display());
    path
}

/// An audit spec (YAML) for namespace `ns` on the local cluster, storing under `prefix` of the
/// test bucket; `extra` is appended (more keys).
pub fn spec_yaml(ns: &str, prefix: &str, extra: &str) -> String {
    let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
    let endpoint = required("AWS_ENDPOINT_URL", S3_HINT);
    format!(
        "namespace: {ns}\n\
         clusterName: dev\n\
         scanner: {{backend: builtin, image: localhost/sidescan-scanner:dev}}\n\
         images: {{pullPolicy: Never}}\n\
         results: {{storeUrl: 's3://{bucket}/{prefix}', endpoint: '{endpoint}', region: us-east-1,\n\
                    allowHttp: true, credentialsSecret: {{name: sidescan-s3}}}}\n\
         cluster: {{hostNetwork: true}}\n\
         {extra}"
    )
}

/// The store credentials Secret the clones read (`sidescan-s3`), from the test's AWS variables.
pub async fn store_secret(client: &Client, ns: &str) {
    crate::scan::create_store_secret(
        client,
        ns,
        &required("AWS_ACCESS_KEY_ID", S3_HINT),
        &required("AWS_SECRET_ACCESS_KEY", S3_HINT),
    )
    .await;
}

/// The test bucket, with explicit endpoint and credentials.
pub fn s3() -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(required("SIDESCAN_S3_BUCKET", S3_HINT))
        .with_endpoint(required("AWS_ENDPOINT_URL", S3_HINT))
        .with_allow_http(true)
        .build()
        .unwrap()
}

/// An object's bytes, or `None` when it does not exist.
pub async fn get(s3: &object_store::aws::AmazonS3, key: &str) -> Option<Vec<u8>> {
    match s3.get(&object_store::path::Path::from(key)).await {
        Ok(got) => Some(got.bytes().await.unwrap().to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("reading {key}: {e}"),
    }
}

/// Every key under `prefix`.
pub async fn list(s3: &object_store::aws::AmazonS3, prefix: &str) -> Vec<String> {
    futures::TryStreamExt::try_collect::<Vec<_>>(
        s3.list(Some(&object_store::path::Path::from(prefix))),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|m| m.location.to_string())
    .collect()
}

/// The pods `selector` selects in `ns`: name -> (uid, restart count of each container), to show
/// that an audit left the workloads' pods alone.
pub async fn workload_pods(
    client: &Client,
    ns: &str,
    selector: &str,
) -> BTreeMap<String, (String, Vec<i32>)> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| {
            let restarts = p
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .map(|c| c.iter().map(|c| c.restart_count).collect())
                .unwrap_or_default();
            (
                p.metadata.name.unwrap(),
                (p.metadata.uid.unwrap(), restarts),
            )
        })
        .collect()
}

/// Creates another namespace for a test that audits two (the test deletes it).
pub async fn extra_namespace(client: &Client, prefix: &str) -> String {
    use k8s_openapi::api::core::v1::Namespace;
    let ns = format!("sidescan-e2e-{prefix}-{:08x}", rand::random::<u32>());
    let object: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": ns,
        "labels": {"app.kubernetes.io/part-of": "sidescan-e2e"}}}))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&Default::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {ns}: {e}"));
    crate::harness::wait_for_service_account_token(client, &ns, "default").await;
    ns
}

/// A profile ConfigMap `name` in `ns` that the scanner image's cinc double runs (files
/// `inspec.yml` and `files/sidescan-double-pause`: each scan lasts `pause` seconds).
pub async fn cinc_profile_config_map(client: &Client, ns: &str, name: &str, pause: u32) {
    use k8s_openapi::api::core::v1::ConfigMap;
    let key = |f: &str| sidescan_gen::inputs::profile_key(f).unwrap();
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "data": {
            key("inspec.yml"): "name: e2e\nversion: 0.1.0\n",
            key("files/sidescan-double-pause"): pause.to_string(),
        },
    }))
    .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&Default::default(), &cm)
        .await
        .unwrap_or_else(|e| panic!("creating ConfigMap {ns}/{name}: {e}"));
}

/// `profile: ...` of an audit spec for [`cinc_profile_config_map`]'s ConfigMap.
pub fn cinc_profile_spec(name: &str) -> String {
    format!(
        "profile: {{configMap: {{name: {name}, files: [inspec.yml, files/sidescan-double-pause]}}}}\n"
    )
}

/// The audit's pods and ConfigMaps in `namespaces` (`pod ns/name`, `configmap ns/name`).
pub async fn audit_objects(client: &Client, namespaces: &[&str], audit_id: &str) -> Vec<String> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let sel = ListParams::default().labels(&format!("sidescan.io/audit-id={audit_id}"));
    let mut out = Vec::new();
    for ns in namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        for p in pods.list(&sel).await.unwrap().items {
            out.push(format!("pod {ns}/{}", p.metadata.name.unwrap_or_default()));
        }
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        for m in maps.list(&sel).await.unwrap().items {
            out.push(format!(
                "configmap {ns}/{}",
                m.metadata.name.unwrap_or_default()
            ));
        }
    }
    out
}

/// [`audit_objects`] once nothing is left, or after `within` (what is left then); looked at
/// once a second.
pub async fn audit_objects_after(
    client: &Client,
    namespaces: &[&str],
    audit_id: &str,
    within: std::time::Duration,
) -> Vec<String> {
    let until = tokio::time::Instant::now() + within;
    loop {
        let left = audit_objects(client, namespaces, audit_id).await;
        if left.is_empty() || tokio::time::Instant::now() >= until {
            return left;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Waits (looking twice a second, up to [`crate::harness::WAIT`]) until a clone of the audit is
/// running in each of `namespaces` at once.
pub async fn clones_running_in(client: &Client, namespaces: &[&str], audit_id: &str) {
    let sel = ListParams::default().labels(&format!(
        "sidescan.io/audit-id={audit_id},app.kubernetes.io/component=audit-clone"
    ));
    let until = tokio::time::Instant::now() + crate::harness::WAIT;
    loop {
        let mut all = true;
        for ns in namespaces {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            let running = pods.list(&sel).await.unwrap().items.iter().any(|p| {
                p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                    && p.metadata.deletion_timestamp.is_none()
            });
            all &= running;
        }
        if all {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "no clone of {audit_id} running in each of {namespaces:?} within {:?}",
            crate::harness::WAIT
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
