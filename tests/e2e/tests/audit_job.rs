//! The audit in the cluster: `sidescan-gen render audit-job` applied as it is, the Job's runner
//! (localhost/sidescan-runner:dev) audits the namespace under exactly the rendered RBAC, derives
//! its audit id from the Job, stores every result and the report, and leaves nothing behind.
//!
//! Deleting the Job while clones run (workload-namespace, two namespaces) leaves no clone and no
//! profile ConfigMap in either: the runner, on SIGTERM, deletes its clones by name with its own
//! RBAC; the clones in the Job's namespace are also owned by the Job; each profile copy is owned
//! by its clone.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`.

use futures::FutureExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use sha2::{Digest, Sha256};
use sidescan_core::audit::AuditId;
use sidescan_core::audit::record::{AuditRecord, Verdict};
use sidescan_e2e::audit::{get, s3, spec_yaml, store_secret};
use sidescan_e2e::harness::{wait_for, wait_for_service_account_token, with_temp_ns};
use sidescan_e2e::manifests::{
    api_in_its_namespace, delete_cluster_scoped, render_audit, server_version,
};
use sidescan_e2e::workloads;
use sidescan_gen::audit::AuditKind;
use std::time::Duration;

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn the_rendered_audit_job_audits_the_namespace_under_its_own_rbac() {
    with_temp_ns("audit-job", |client, ns| async move {
        store_secret(&client, &ns).await;
        workloads::deployment(&client, &ns, "web", 0, &[("app", "target-distroless")]).await;
        workloads::deployment(&client, &ns, "api", 0, &[("api", "target-musl")]).await;
        let kube = server_version(&client).await;
        let prefix = format!("e2e-audit-job/{ns}");
        let text = spec_yaml(
            &ns,
            &prefix,
            &format!(
                "name: nightly\nselect: {{namespaces: [{ns}]}}\n\
                      runner: {{image: localhost/sidescan-runner:dev}}\n\
                      cluster: {{hostNetwork: true, apiServer: {{host: 127.0.0.1, port: 6443}}}}\n"
            ),
        );
        // The Job's runner also needs the API server's address: these cluster settings replace
        // spec_yaml's.
        let text = text.replace("cluster: {hostNetwork: true}\n", "");
        let spec = sidescan_runner::audit::input::parse_spec(&text, "audit.yaml").unwrap();
        let docs = render_audit(&spec, kube, AuditKind::Job);
        let result = async {
            let apply = PatchParams::apply("sidescan-e2e");
            for doc in &docs {
                let (api, name) = api_in_its_namespace(&client, doc).await;
                api.patch(&name, &apply, &Patch::Apply(doc))
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                if doc["kind"] == "ServiceAccount" {
                    wait_for_service_account_token(&client, &ns, &name).await;
                }
            }
            let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
            let job = wait_for(&jobs, "sidescan-nightly", "finished", |j: Option<&Job>| {
                j.and_then(|j| j.status.as_ref())
                    .is_some_and(|s| s.succeeded.unwrap_or(0) > 0 || s.failed.unwrap_or(0) > 0)
            })
            .await;
            assert_eq!(
                job.status.as_ref().unwrap().succeeded,
                Some(1),
                "{:?}",
                job.status
            );
            let uid = job.metadata.uid.clone().unwrap();
            let digest = Sha256::digest(uid.as_bytes());
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[..8]);
            let audit_id = AuditId::for_job("sidescan-nightly", bytes);
            let s3 = s3();
            let audit: AuditRecord = serde_json::from_slice(
                &get(&s3, &format!("{prefix}/audits/{audit_id}/audit.json"))
                    .await
                    .expect("audit.json"),
            )
            .unwrap();
            assert_eq!(audit.targets.len(), 2);
            assert!(
                audit.targets.iter().all(|t| t.verdict == Verdict::Passed),
                "{:?}",
                audit.targets
            );
            assert!(
                get(&s3, &format!("{prefix}/audits/{audit_id}/report.html"))
                    .await
                    .is_some()
            );
            let sel = format!("sidescan.io/audit-id={audit_id}");
            let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
            assert!(
                pods.list(&ListParams::default().labels(&sel))
                    .await
                    .unwrap()
                    .items
                    .is_empty()
            );
            let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
            assert!(
                maps.list(&ListParams::default().labels(&sel))
                    .await
                    .unwrap()
                    .items
                    .is_empty()
            );
        };
        let outcome = std::panic::AssertUnwindSafe(result).catch_unwind().await;
        // Cluster-scoped objects outlive the test namespace: remove them whatever happened.
        delete_cluster_scoped(&client, &docs).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

/// The rendered Job's pod runs the runner built from this tree (mounted over the image's), so
/// the test checks this tree's cleanup whatever the image was built from.
fn with_tree_runner(docs: &mut [serde_json::Value]) {
    let runner = sidescan_e2e::audit::runner_bin();
    let job = docs.iter_mut().find(|d| d["kind"] == "Job").unwrap();
    let pod = &mut job["spec"]["template"]["spec"];
    pod["volumes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "tree-runner",
            "hostPath": {"path": runner, "type": "File"}}));
    pod["containers"][0]["volumeMounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "tree-runner",
            "mountPath": "/usr/local/bin/sidescan-runner", "readOnly": true}));
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn a_deleted_audit_job_leaves_no_clone_and_no_config_map() {
    use sidescan_e2e::audit::{
        audit_objects_after, cinc_profile_config_map, cinc_profile_spec, clones_running_in,
        extra_namespace,
    };
    with_temp_ns("audit-jobdel", |client, a| async move {
        let b = extra_namespace(&client, "audit-jobdel").await;
        store_secret(&client, &a).await;
        let name = format!("del{:06x}", rand::random::<u32>() & 0xffffff);
        let profile = format!("{name}-profile");
        // Each scan lasts 30 s: the Job is deleted while clones run.
        cinc_profile_config_map(&client, &a, &profile, 30).await;
        for (ns, w, image) in [
            (&a, "a1", "target-distroless"),
            (&a, "a2", "target-musl"),
            (&b, "b1", "target-glibc"),
            (&b, "b2", "target-distroless"),
        ] {
            workloads::deployment(&client, ns, w, 0, &[("app", image)]).await;
        }
        let kube = server_version(&client).await;
        let prefix = format!("e2e-audit-jobdel/{a}");
        let text = spec_yaml(
            &a,
            &prefix,
            &format!(
                "name: {name}\nselect: {{namespaces: [{a}, {b}]}}\n\
                 placement: {{mode: workload-namespace}}\nconcurrency: 4\n{}\
                 runner: {{image: localhost/sidescan-runner:dev}}\n\
                 cluster: {{hostNetwork: true, apiServer: {{host: 127.0.0.1, port: 6443}}}}\n",
                cinc_profile_spec(&profile)
            ),
        )
        .replace("cluster: {hostNetwork: true}\n", "")
        .replace("scanner: {backend: builtin,", "scanner: {backend: cinc,");
        let spec = sidescan_runner::audit::input::parse_spec(&text, "audit.yaml").unwrap();
        let mut docs = render_audit(&spec, kube, AuditKind::Job);
        with_tree_runner(&mut docs);
        let result = async {
            sidescan_e2e::rbac::apply(&client, &docs).await;
            let jobs: Api<Job> = Api::namespaced(client.clone(), &a);
            let job_name = format!("sidescan-{name}");
            let job = jobs.get(&job_name).await.unwrap();
            let digest = Sha256::digest(job.metadata.uid.clone().unwrap().as_bytes());
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[..8]);
            let audit_id = AuditId::for_job(&job_name, bytes).to_string();
            clones_running_in(&client, &[&a, &b], &audit_id).await;
            // As `kubectl delete job` does: the garbage collector deletes the Job's pod (the
            // runner gets SIGTERM) and the clones it owns in its namespace.
            jobs.delete(&job_name, &kube::api::DeleteParams::background())
                .await
                .unwrap();
            let left =
                audit_objects_after(&client, &[&a, &b], &audit_id, Duration::from_secs(45)).await;
            assert!(left.is_empty(), "45 s after the Job was deleted: {left:?}");
        };
        let outcome = std::panic::AssertUnwindSafe(result).catch_unwind().await;
        delete_cluster_scoped(&client, &docs).await;
        let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .delete(&b, &Default::default())
            .await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}
