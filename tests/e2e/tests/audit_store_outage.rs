//! A batch audit while its S3 server is down for a while: a target whose upload fails is retried
//! after the others, and the audit completes with every target's results and its report once the
//! server is back. The test starts its OWN SeaweedFS (other ports, its own data folder, the same
//! credentials) and stops and restarts that one; the shared server is never touched.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up` (installs SeaweedFS, sets the AWS_*
//! variables), `scripts/build-images`.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use object_store::ObjectStoreExt;
use sidescan_core::audit::record::{AuditRecord, Verdict};
use sidescan_e2e::audit::{runner_bin, store_secret};
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{WAIT, wait_for, with_temp_ns};
use sidescan_e2e::workloads;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

const S3_PORT: u16 = 8433;
const BUCKET: &str = "outage";

fn weed_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("SIDESCAN_WEED_BIN") {
        return bin.into();
    }
    let cache = Path::new(&std::env::var("HOME").unwrap()).join(".cache/sidescan");
    std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("venv/bin/weed"))
        .find(|p| p.is_file())
        .expect("SeaweedFS not installed: run scripts/dev-s3 up")
}

/// Our own SeaweedFS: S3 on 8433, master 9433, volume 8184, filer 8988 (gRPC on each + 10000),
/// beside the shared one (8333, 9333, 8084, 8888); data in `dir`.
fn start_weed(dir: &Path) -> Child {
    let config = dir.join("s3.json");
    let identities = serde_json::json!({"identities": [{
        "name": "sidescan",
        "credentials": [{"accessKey": required("AWS_ACCESS_KEY_ID", S3_HINT),
                          "secretKey": required("AWS_SECRET_ACCESS_KEY", S3_HINT)}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]});
    std::fs::write(&config, identities.to_string()).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    Command::new(weed_bin())
        .arg("server")
        .arg(format!("-dir={}", dir.join("data").display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.port=9433",
            "-volume.port=8184",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            "-filer",
            "-filer.port=8988",
            // Beside the shared server: no Iceberg or Lance listeners (8181, 9101 are taken), and
            // no telemetry (traffic stays on loopback).
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-s3",
        ])
        .arg(format!("-s3.port={S3_PORT}"))
        .arg(format!("-s3.config={}", config.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting weed")
}

fn store() -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(BUCKET)
        .with_endpoint(format!("http://127.0.0.1:{S3_PORT}"))
        .with_allow_http(true)
        .build()
        .unwrap()
}

/// Waits (bounded) until the bucket answers, creating it through the filer first.
async fn until_ready() {
    let s3 = store();
    let probe = object_store::path::Path::from("probe");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let _ = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                &format!("http://127.0.0.1:8988/buckets/{BUCKET}/"),
            ])
            .status()
            .await;
        if s3.put(&probe, "x".into()).await.is_ok() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "our SeaweedFS did not come up"
        );
        // A server starting up: the next attempt after a short pause (bounded by the deadline).
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

async fn stop(child: &mut Child) {
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    if tokio::time::timeout(std::time::Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        child.kill().await.unwrap();
    }
}

#[tokio::test]
#[ignore = "needs the dev cluster, SeaweedFS (scripts/dev-s3 up) and images (scripts/test-all)"]
async fn an_audit_survives_its_store_being_down_for_a_while() {
    with_temp_ns("audit-outage", |client, ns| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut weed = start_weed(dir.path());
        until_ready().await;
        store_secret(&client, &ns).await;
        let names = ["a", "b", "c"];
        for name in names {
            workloads::deployment(&client, &ns, name, 1, &[("app", "target-distroless")]).await;
        }
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        for name in names {
            wait_for(&deployments, name, "available", |d: Option<&Deployment>| {
                d.and_then(|d| d.status.as_ref()).and_then(|s| s.available_replicas) == Some(1)
            })
            .await;
        }
        let spec = format!(
            "namespace: {ns}\nselect: {{namespaces: [{ns}]}}\n\
             scanner: {{backend: builtin, image: localhost/sidescan-scanner:dev}}\n\
             images: {{pullPolicy: Never}}\n\
             results: {{storeUrl: 's3://{BUCKET}/audits', endpoint: 'http://127.0.0.1:{S3_PORT}',\n\
                        region: us-east-1, allowHttp: true, credentialsSecret: {{name: store}}}}\n\
             cluster: {{hostNetwork: true}}\nconcurrency: 1\nretries: 2\ntargetDeadlineSeconds: 90\n"
        );
        std::fs::write(dir.path().join("audit.yaml"), spec).unwrap();
        let audit = Command::new(runner_bin())
            .args(["audit", "--spec"])
            .arg(dir.path().join("audit.yaml"))
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{S3_PORT}"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();

        // The store goes down as soon as the first clone exists, and comes back once a scanner
        // has failed to upload (exit code 3).
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let mut clones = watcher(pods, watcher::Config::default().labels("app.kubernetes.io/component=audit-clone"))
            .default_backoff()
            .applied_objects()
            .boxed();
        tokio::time::timeout(WAIT, clones.next()).await.expect("a clone");
        stop(&mut weed).await;
        let failed_upload = async {
            while let Some(Ok(pod)) = clones.next().await {
                let failed = pod.status.iter().flat_map(|s| s.container_statuses.iter().flatten()).any(|c| {
                    c.name == "sidescan-scanner"
                        && c.state.as_ref().and_then(|s| s.terminated.as_ref()).is_some_and(|t| t.exit_code == 3)
                });
                if failed {
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT, failed_upload).await.expect("a scanner failed to upload");
        weed = start_weed(dir.path());
        until_ready().await;

        let out = audit.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stdout}");
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        let audit_id = stdout.split_whitespace().nth(1).unwrap().to_string();
        let s3 = store();
        let get = |key: String| {
            let s3 = &s3;
            async move { s3.get(&object_store::path::Path::from(key)).await.ok()?.bytes().await.ok() }
        };
        let record: AuditRecord =
            serde_json::from_slice(&get(format!("audits/audits/{audit_id}/audit.json")).await.expect("audit.json")).unwrap();
        assert_eq!(record.targets.len(), 3);
        assert!(record.targets.iter().all(|t| t.verdict == Verdict::Passed), "{:?}", record.targets);
        assert!(record.targets.iter().any(|t| t.attempts > 1), "a target was retried");
        for t in &record.targets {
            let hdf = get(t.result_keys["hdf.json"].clone()).await.expect("hdf.json");
            sidescan_eval::hdf::parse(&hdf).unwrap();
        }
        stop(&mut weed).await;
    })
    .await;
}
