//! A batch audit while its S3 server is down for a while: a target whose upload fails is retried
//! after the others, and the audit completes with every target's results and its report once the
//! server is back. The test starts its OWN SeaweedFS (other ports, its own data folder and
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
use sidescan_e2e::audit::runner_bin;
use sidescan_e2e::harness::{WAIT, wait_for, with_temp_ns};
use sidescan_e2e::scan;
use sidescan_e2e::seaweed::{ACCESS_KEY, OwnS3, SECRET_KEY};
use sidescan_e2e::workloads;
use std::process::Stdio;
use tokio::process::Command;

#[tokio::test]
#[ignore = "needs the dev cluster, SeaweedFS (scripts/dev-s3 up) and images (scripts/test-all)"]
async fn an_audit_survives_its_store_being_down_for_a_while() {
    with_temp_ns("audit-outage", |client, ns| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut own = OwnS3::start().await;
        scan::create_store_secret(&client, &ns, ACCESS_KEY, SECRET_KEY).await;
        let (bucket, endpoint) = (own.bucket.clone(), own.endpoint());
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
             results: {{storeUrl: 's3://{bucket}/audits', endpoint: '{endpoint}',\n\
                        region: us-east-1, allowHttp: true, credentialsSecret: {{name: sidescan-s3}}}}\n\
             cluster: {{hostNetwork: true}}\nconcurrency: 1\nretries: 4\ntargetDeadlineSeconds: 90\n"
        );
        std::fs::write(dir.path().join("audit.yaml"), spec).unwrap();
        let audit = Command::new(runner_bin())
            .args(["audit", "--spec"])
            .arg(dir.path().join("audit.yaml"))
            .env("AWS_ENDPOINT_URL", own.endpoint())
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
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
        own.stop().await;
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
        own.restart().await;

        let out = audit.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stdout}");
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        let audit_id = stdout.split_whitespace().nth(1).unwrap().to_string();
        let s3 = own.store();
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
    })
    .await;
}
