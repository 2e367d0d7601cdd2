//! The cinc backend's target view in the real cluster: generated scan pods (containerd starts
//! both containers with runc, so the target is `pivot_root`ed) run the scanner image's
//! cinc-auditor against the distroless and the glibc target, in both security modes. The test
//! reads the stored report back from S3 itself and checks that what the tool saw through the view,
//! both with a file read and with a spawned `cat`, is the target's `os-release`
//! (`VARIANT_ID=sidescan-target-...`), not the scanner's.
//!
//! The scanner image `localhost/sidescan-scanner:dev` carries the repository's cinc-auditor TEST
//! DOUBLE (crates/agent/tests/fixtures/cinc-auditor-double/) at the real tool's path, since CINC
//! Auditor cannot be installed here; it runs on Debian's real Ruby, through PRoot, exactly as CINC
//! Auditor's Ruby would.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`, and both `env`
//! outputs evaluated.

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::manifests::{apply_all, render_example, scan_pod_objects, server_version};
use sidescan_e2e::pods::terminated;
use sidescan_e2e::scan::create_store_secret;

/// The local S3 server, with the test's own credentials.
fn s3() -> impl ObjectStore {
    AmazonS3Builder::new()
        .with_endpoint(required("AWS_ENDPOINT_URL", S3_HINT))
        .with_region(required("AWS_REGION", S3_HINT))
        .with_bucket_name(required("SIDESCAN_S3_BUCKET", S3_HINT))
        .with_access_key_id(required("AWS_ACCESS_KEY_ID", S3_HINT))
        .with_secret_access_key(required("AWS_SECRET_ACCESS_KEY", S3_HINT))
        .with_allow_http(true)
        .build()
        .expect("an S3 store from the dev-s3 variables")
}

async fn read_json(store: &impl ObjectStore, key: &str) -> Value {
    let bytes = store
        .get(&ObjectPath::from(key))
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"))
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key} is not JSON: {e}"))
}

/// Scans `target` (an image built by scripts/build-images) with the cinc backend in `mode`, and
/// checks the stored report and metadata show the target's `os-release`.
async fn cinc_scan(target: &'static str, mode: &'static str) {
    let access_key = required("AWS_ACCESS_KEY_ID", S3_HINT);
    let secret_key = required("AWS_SECRET_ACCESS_KEY", S3_HINT);
    let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
    with_temp_ns("cincview", move |client, ns| async move {
        let kube = server_version(&client).await;
        let mut sets = vec![
            format!("results.storeUrl=s3://{bucket}/cinc-view"),
            format!("target.name={target}"),
            format!("target.image=sidescan-target-{target}:dev"),
            "scanner.backend=cinc".to_string(),
            format!("security.mode={mode}"),
        ];
        if mode == "same-uid" {
            sets.push("security.runAsUser=65532".into());
            sets.push("security.runAsGroup=65532".into());
        }
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let mut docs = render_example("dev-cluster", &ns, kube, &sets);
        if mode == "same-uid" && target == "glibc" {
            // The glibc image runs as root, which the same-uid mode refuses: the test runs its
            // target container as 65532 instead (the distroless image already does).
            let pod = docs.iter_mut().find(|d| d["kind"] == "Pod").unwrap();
            pod["spec"]["containers"][0]["securityContext"] =
                serde_json::json!({"runAsUser": 65532, "runAsGroup": 65532});
        }
        create_store_secret(&client, &ns, &access_key, &secret_key).await;
        let scan = scan_pod_objects(docs, target);
        let pod_doc = scan.iter().find(|d| d["kind"] == "Pod").unwrap();
        let args = pod_doc["spec"]["containers"][1]["args"].to_string();
        assert!(args.contains("\"cinc\""), "not a cinc scan: {args}");
        apply_all(&client, &ns, &scan, false).await;

        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let pod_name = format!("sidescan-scan-{target}");
        let ended =
            |pod: Option<&Pod>| pod.is_some_and(|p| terminated(p, "sidescan-scanner").is_some());
        let pod = wait_for(&pods, &pod_name, "the scanner ended", ended).await;
        let state = terminated(&pod, "sidescan-scanner").unwrap();
        let message = state.message.clone().unwrap_or_default();
        assert_eq!(
            state.exit_code, 0,
            "{target}/{mode} scanner failed: {message}"
        );
        let summary: Value = serde_json::from_str(&message)
            .unwrap_or_else(|e| panic!("termination message is not JSON ({e}): {message}"));
        assert_eq!(summary["outcome"], "stored", "{message}");
        let keys: Vec<&str> = summary["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|object| object["key"].as_str())
            .collect();
        let hdf_key = keys
            .iter()
            .find(|k| k.ends_with("/hdf.json"))
            .unwrap_or_else(|| panic!("no hdf.json in {message}"));
        let meta_key = keys
            .iter()
            .find(|k| k.ends_with("/metadata.json"))
            .unwrap_or_else(|| panic!("no metadata.json in {message}"));

        // What the object store holds, read with the test's own client.
        let store = s3();
        let hdf = read_json(&store, hdf_key).await;
        let variant = format!("sidescan-target-{target}");
        let results = &hdf["profiles"][0]["controls"][0]["results"];
        assert_eq!(
            results[1]["code_desc"],
            format!("VARIANT_ID read {variant}, spawned cat {variant}"),
            "{target}/{mode}: the view must show the target's os-release: {hdf}"
        );
        let meta = read_json(&store, meta_key).await;
        assert_eq!(meta["os_release"]["VARIANT_ID"], variant.as_str(), "{meta}");
        assert_eq!(meta["backend"], "cinc");
        assert_eq!(meta["view"]["mechanism"], "proot", "{meta}");
        assert_eq!(meta["view"]["read_only"], true, "{meta}");
        assert_eq!(meta["versions"]["cinc-auditor"], "0.0.0-test-double");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn cinc_view_of_the_distroless_target_in_same_uid_mode() {
    cinc_scan("distroless", "same-uid").await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn cinc_view_of_the_distroless_target_in_ptrace_mode() {
    cinc_scan("distroless", "ptrace").await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn cinc_view_of_the_glibc_target_in_same_uid_mode() {
    cinc_scan("glibc", "same-uid").await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn cinc_view_of_the_glibc_target_in_ptrace_mode() {
    cinc_scan("glibc", "ptrace").await;
}
