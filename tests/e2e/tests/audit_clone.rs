//! A clone built by the audit's clone builder, run on the real cluster: the scanner image's init
//! container installs `hold`, the distroless target runs it (no shell, no `sleep` in the image),
//! the agent finds the target by the heuristic with no API token, scans it and uploads to the
//! real S3 server; the test reads the results back from S3 itself. The workload's own pod is
//! untouched and the workload's Service never selects the clone.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images` (with this tree's
//! runner), and both `env` evals.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use object_store::{ObjectStore, ObjectStoreExt};
use sidescan_core::RunId;
use sidescan_core::audit::AuditId;
use sidescan_e2e::audit::{store_secret, workload_pods};
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{wait_for, wait_gone, with_temp_ns};
use sidescan_e2e::pods::container_ended;
use sidescan_e2e::workloads;
use sidescan_runner::audit::clone::{self, CloneRequest};
use sidescan_runner::audit::cluster::discover_targets;

fn spec(ns: &str, prefix: &str) -> sidescan_core::audit::AuditSpec {
    let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
    let endpoint = required("AWS_ENDPOINT_URL", S3_HINT);
    let text = format!(
        "namespace: {ns}\n\
         select: {{namespaces: [{ns}], kinds: [Deployment]}}\n\
         placement: {{mode: workload-namespace}}\n\
         scanner: {{backend: builtin, image: localhost/sidescan-scanner:dev}}\n\
         images: {{pullPolicy: Never}}\n\
         results: {{storeUrl: 's3://{bucket}/{prefix}', endpoint: '{endpoint}', region: us-east-1,\n\
                    allowHttp: true, credentialsSecret: {{name: sidescan-s3}}}}\n\
         cluster: {{hostNetwork: true}}\n\
         targetDeadlineSeconds: 120\n"
    );
    sidescan_runner::audit::input::parse_spec(&text, "audit.yaml").unwrap()
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images: scripts/dev-cluster up && scripts/dev-s3 up && scripts/build-images"]
async fn a_clone_of_a_distroless_deployment_holds_scans_and_uploads() {
    with_temp_ns("audit-clone", |client, ns| async move {
        store_secret(&client, &ns).await;
        let config: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-config"}, "data": {"mode": "prod"},
        }))
        .unwrap();
        Api::<ConfigMap>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &config)
            .await
            .unwrap();
        // A distroless web Deployment with a ConfigMap volume (kept), a hostPath volume
        // (replaced), an environment and a working directory, and a Service selecting it.
        let mut d = workloads::template("web", &[("app", "target-distroless")]);
        d["spec"]["volumes"] = serde_json::json!([
            {"name": "config", "configMap": {"name": "web-config"}},
            {"name": "logs", "hostPath": {"path": "/var/log"}},
        ]);
        d["spec"]["containers"][0]["volumeMounts"] = serde_json::json!([
            {"name": "config", "mountPath": "/etc/web"},
            {"name": "logs", "mountPath": "/host-logs", "readOnly": true},
        ]);
        d["spec"]["containers"][0]["env"] = serde_json::json!([{"name": "MODE", "value": "prod"}]);
        d["spec"]["containers"][0]["workingDir"] = "/home/nonroot".into();
        d["spec"]["securityContext"] = serde_json::json!({"runAsUser": 65532, "runAsGroup": 65532});
        let deployment: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": d},
        }))
        .unwrap();
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        deployments
            .create(&PostParams::default(), &deployment)
            .await
            .unwrap();
        workloads::service(&client, &ns, "web", "web").await;
        wait_for(
            &deployments,
            "web",
            "available",
            |d: Option<&Deployment>| {
                d.and_then(|d| d.status.as_ref())
                    .and_then(|s| s.available_replicas)
                    == Some(1)
            },
        )
        .await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let before = workload_pods(&client, &ns, "app=web").await;
        assert_eq!(before.len(), 1);

        let prefix = format!("e2e-audit-clone/{ns}");
        let spec = spec(&ns, &prefix);
        let found = discover_targets(&client, &spec, workloads::cronjob_v1(&client).await)
            .await
            .unwrap();
        assert_eq!(found.targets.len(), 1);
        let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
        let run = RunId::parse("e2eclone01").unwrap();
        let built = clone::build(
            &found.targets[0],
            &CloneRequest {
                spec: &spec,
                audit_id: &audit,
                run_id: &run,
                namespace: &ns,
                owner: None,
                profile: None,
                seccomp_field: false,
                now: jiff::Timestamp::now(),
                binding: None,
            },
        )
        .unwrap();
        assert_eq!(built.security_mode, "same-uid");
        let name = built.pod.metadata.name.clone().unwrap();
        pods.create(&PostParams::default(), &built.pod)
            .await
            .unwrap();
        let done = wait_for(
            &pods,
            &name,
            "scanner ended",
            container_ended("sidescan-scanner"),
        )
        .await;

        // The clone ran hold in the distroless target, with the workload's env and working dir.
        let statuses = done.status.clone().unwrap();
        let init = &statuses.init_container_statuses.clone().unwrap()[0];
        let init_end = init.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(init_end.exit_code, 0, "install-hold: {init_end:?}");
        let containers = statuses.container_statuses.clone().unwrap();
        let target = containers.iter().find(|c| c.name == "app").unwrap();
        assert!(
            target.state.as_ref().unwrap().running.is_some(),
            "hold still holds: {target:?}"
        );
        let scanner = containers
            .iter()
            .find(|c| c.name == "sidescan-scanner")
            .unwrap();
        let end = scanner.state.as_ref().unwrap().terminated.clone().unwrap();
        assert_eq!(end.exit_code, 0, "agent: {end:?}");
        let message: serde_json::Value =
            serde_json::from_str(end.message.as_deref().unwrap()).unwrap();
        assert_eq!(message["outcome"], "stored", "{message}");

        // The Service never selected the clone.
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
        let ep = endpoints.get("web").await.unwrap();
        let selected: Vec<String> = ep
            .subsets
            .iter()
            .flatten()
            .flat_map(|s| {
                s.addresses
                    .iter()
                    .flatten()
                    .chain(s.not_ready_addresses.iter().flatten())
            })
            .filter_map(|a| a.target_ref.as_ref().and_then(|r| r.name.clone()))
            .collect();
        assert!(
            !selected.is_empty(),
            "the Service selects the workload's pod"
        );
        assert!(
            !selected.contains(&name),
            "the Service selected the clone: {selected:?}"
        );

        // The results, read back from S3 by the test itself.
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        let s3 = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_endpoint(required("AWS_ENDPOINT_URL", S3_HINT))
            .with_allow_http(true)
            .build()
            .unwrap();
        let folder = format!("{prefix}/{ns}/deployment.web.app/");
        let listed: Vec<String> = futures::TryStreamExt::try_collect::<Vec<_>>(
            s3.list(Some(&object_store::path::Path::from(folder.as_str()))),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.location.to_string())
        .collect();
        let metadata_key = listed
            .iter()
            .find(|k| k.ends_with("metadata.json"))
            .unwrap_or_else(|| panic!("{listed:?}"));
        let hdf_key = listed.iter().find(|k| k.ends_with("hdf.json")).unwrap();
        let get = |key: &str| {
            let s3 = &s3;
            let key = key.to_string();
            async move {
                s3.get(&object_store::path::Path::from(key))
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap()
            }
        };
        let metadata: serde_json::Value = serde_json::from_slice(&get(metadata_key).await).unwrap();
        assert_eq!(metadata["audit"]["workload"]["kind"], "Deployment");
        assert_eq!(metadata["audit"]["volumes_not_scanned"][0]["name"], "logs");
        assert_eq!(
            metadata["audit"]["volumes_not_scanned"][0]["kind"],
            "hostPath"
        );
        assert_eq!(
            metadata["os_release"]["VARIANT_ID"],
            "sidescan-target-distroless"
        );
        assert_eq!(metadata["target_uid"], 65532);
        let hdf = sidescan_eval::hdf::parse(&get(hdf_key).await).unwrap();
        assert!(!hdf.controls.is_empty());

        // Deleting the clone ends hold at once; the workload's pod is the same as before.
        pods.delete(&name, &DeleteParams::default().grace_period(5))
            .await
            .unwrap();
        wait_gone(&pods, &name).await;
        let after = workload_pods(&client, &ns, "app=web").await;
        assert_eq!(after, before, "the workload's pods were touched");
    })
    .await;
}
