//! Every document `sidescan-gen` renders is accepted by a real API server: first by a
//! server-side dry run (nothing is created), then for real; and the generated scan pod runs the
//! scan on the local cluster: the agent finds the target by the heuristic with no API token at
//! all (and, with `scanner.identify: api`, through its own pod, as its Role allows exactly that),
//! scans it and uploads the results to the local S3 server.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/build-images`, `eval "$(scripts/dev-cluster env)"`
//! (and for the scan, `scripts/dev-s3 up` with `eval "$(scripts/dev-s3 env)"`).

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Client;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::Value;
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::manifests::{
    api_for, apply_all, render_example, scan_pod_objects, server_version,
};
use sidescan_e2e::pods::terminated;
use sidescan_e2e::scan::create_store_secret;
use sidescan_gen::KubeVersion;
use std::collections::BTreeMap;

/// Renders the development cluster's example spec into namespace `ns`, as JSON documents.
fn render(ns: &str, kube: KubeVersion, sets: &[&str]) -> Vec<Value> {
    render_example("dev-cluster", ns, kube, sets)
}

#[tokio::test]
#[ignore = "needs the dev cluster and images: scripts/dev-cluster up && scripts/build-images && eval \"$(scripts/dev-cluster env)\""]
async fn every_generated_document_is_accepted_by_the_api_server() {
    with_temp_ns("gen", |client, ns| async move {
        let kube = server_version(&client).await;
        // Suspended, so the CronJob does not start runs while the test looks at it.
        let docs = render(&ns, kube, &["schedule.suspend=true"]);
        let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        for kind in [
            "ServiceAccount",
            "Role",
            "RoleBinding",
            "ConfigMap",
            "Pod",
            "Job",
            "CronJob",
        ] {
            assert!(kinds.contains(&kind), "{kind} not rendered: {kinds:?}");
        }

        apply_all(&client, &ns, &docs, true).await;
        for doc in &docs {
            let (api, what, name) = api_for(&client, &ns, doc).await;
            let stored = api
                .get(&name)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                stored.metadata.labels,
                serde_json::from_value(doc["metadata"]["labels"].clone()).unwrap(),
                "{what}"
            );
        }
        // What the scanner's security rests on survived admission unchanged.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let pod = pods.get("sidescan-scan-glibc").await.unwrap();
        let spec = pod.spec.unwrap();
        assert_eq!(spec.share_process_namespace, Some(true));
        let scanner = spec
            .containers
            .iter()
            .find(|c| c.name == "sidescan-scanner")
            .unwrap();
        let sc = scanner.security_context.clone().unwrap();
        assert_eq!(sc.privileged, Some(false));
        let caps = sc.capabilities.unwrap();
        assert_eq!(caps.add, Some(vec!["SYS_PTRACE".to_string()]));
        assert_eq!(caps.drop, Some(vec!["ALL".to_string()]));
    })
    .await;
}

/// Renders the development cluster spec for `target` (with `sets`), applies the scan pod and what
/// it needs, and checks that the scanner stored the run's results; returns the scan pod and the
/// stored keys.
async fn scan_with_generated_manifests(target: &'static str, sets: &'static [&'static str]) {
    with_temp_ns("genscan", move |client, ns| async move {
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        let store = format!("results.storeUrl=s3://{bucket}/generated");
        let mut all_sets = vec![store];
        all_sets.extend(sets.iter().map(|s| s.to_string()));
        scan_in(&client, &ns, target, &all_sets).await;
    })
    .await;
}

/// Creates the store credentials Secret, applies the rendered scan pod and what it needs in
/// `ns`, waits for the scanner, and checks its summary; returns the pod and the stored keys.
async fn scan_in(client: &Client, ns: &str, target: &str, sets: &[String]) -> (Pod, Vec<String>) {
    let access_key = required("AWS_ACCESS_KEY_ID", S3_HINT);
    let secret_key = required("AWS_SECRET_ACCESS_KEY", S3_HINT);
    let client = client.clone();
    let ns = ns.to_string();
    {
        let kube = server_version(&client).await;
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let docs = render(&ns, kube, &sets);
        // The credentials Secret the spec names (never part of the rendered manifests).
        create_store_secret(&client, &ns, &access_key, &secret_key).await;
        let scan = scan_pod_objects(docs, target);
        apply_all(&client, &ns, &scan, true).await;

        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let scanner_ended =
            |pod: Option<&Pod>| pod.is_some_and(|p| terminated(p, "sidescan-scanner").is_some());
        let pod_name = format!("sidescan-scan-{target}");
        let pod = wait_for(&pods, &pod_name, "the scanner ended", scanner_ended).await;
        let state = terminated(&pod, "sidescan-scanner").unwrap();
        assert_eq!(
            state.exit_code,
            0,
            "scanner failed: {}",
            state.message.clone().unwrap_or_default()
        );
        // The summary in the termination message names the run and the stored objects.
        let message = state.message.clone().unwrap_or_default();
        let summary: Value = serde_json::from_str(&message)
            .unwrap_or_else(|e| panic!("termination message is not JSON ({e}): {message}"));
        let run_id = pod.metadata.labels.as_ref().unwrap()["sidescan.io/run-id"].clone();
        assert_eq!(summary["outcome"], "stored", "{message}");
        assert_eq!(summary["run_id"], run_id.as_str(), "{message}");
        let keys: Vec<&str> = summary["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["key"].as_str())
            .collect();
        let folder = format!("{ns}/{target}/");
        assert!(
            keys.iter().any(|k| k.contains(&folder)
                && k.ends_with("hdf.json")
                && k.contains(run_id.as_str())),
            "no hdf.json under {folder} in {message}"
        );
        let keys = keys.iter().map(|k| k.to_string()).collect();
        (pod, keys)
    }
}

#[tokio::test]
#[ignore = "needs the dev cluster: scripts/dev-cluster up && eval \"$(scripts/dev-cluster env)\""]
async fn the_other_example_specs_are_accepted_by_the_api_server() {
    with_temp_ns("genex", |client, ns| async move {
        let kube = server_version(&client).await;
        // Never pulled (this cluster has no registry and must not reach one), never scheduled
        // runs, no time zone before 1.25, no PriorityClass this cluster lacks (the knobs test
        // creates one): the rest of each spec as written.
        let sets = [
            "images.pullPolicy=Never",
            "schedule.suspend=true",
            "schedule.timeZone=null",
            "scheduling.priorityClassName=null",
            "orchestrator.priorityClassName=null",
        ];
        for name in [
            "distroless-same-uid",
            "scheduled-remote-profile",
            "private-store",
        ] {
            let docs = render_example(name, &ns, kube, &sets);
            apply_all(&client, &ns, &docs, true).await;
            for doc in &docs {
                let (api, what, name) = api_for(&client, &ns, doc).await;
                assert!(
                    api.get_opt(&name).await.unwrap().is_some(),
                    "{what} missing"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn ptrace_mode_scans_a_root_glibc_target() {
    // The scanner identifies through the API here (its ServiceAccount, Role and short-lived
    // token); the other scans use the default heuristic and no token.
    scan_with_generated_manifests("glibc", &["scanner.identify=api"]).await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn same_uid_mode_scans_a_distroless_target_with_no_capabilities() {
    scan_with_generated_manifests(
        "distroless",
        &[
            "target.name=distroless",
            "target.image=sidescan-target-distroless:dev",
            "security.mode=same-uid",
            "security.runAsUser=65532",
            "security.runAsGroup=65532",
        ],
    )
    .await;
}

/// The knobs users of other scanners ask for, on a real cluster: the target's security context,
/// environment from a ConfigMap, a ConfigMap mounted as its config file, a PriorityClass, labels
/// and annotations on every object, and results stored in an S3 server behind a private CA (the
/// TLS listener of `scripts/dev-s3`), read back over TLS with that CA.
#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server with its TLS listener: scripts/dev-cluster up && scripts/build-images && scripts/dev-s3 up, then eval both `env` outputs"]
async fn a_spec_with_the_cluster_knobs_scans_and_stores_over_tls() {
    let tls_endpoint = required("SIDESCAN_S3_TLS_ENDPOINT", S3_HINT);
    let ca_path = required("SIDESCAN_S3_TLS_CA", S3_HINT);
    let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
    let ca = std::fs::read_to_string(&ca_path).expect("the dev-s3 test CA");
    with_temp_ns("genknobs", move |client, ns| async move {
        // Cluster-scoped: named after the namespace, deleted at the end.
        let priority_class = format!("sidescan-e2e-{ns}");
        let classes: Api<PriorityClass> = Api::all(client.clone());
        classes
            .create(
                &PostParams::default(),
                &PriorityClass {
                    metadata: ObjectMeta {
                        name: Some(priority_class.clone()),
                        ..ObjectMeta::default()
                    },
                    value: 1000,
                    description: Some("sidescan e2e".into()),
                    ..PriorityClass::default()
                },
            )
            .await
            .unwrap();
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        for (name, key, value) in [
            ("s3-ca", "ca.crt", ca.as_str()),
            ("target-env", "TARGET_MODE", "scan"),
            ("target-config", "config.yaml", "listen: 127.0.0.1:8080\n"),
        ] {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(key.to_string(), value.to_string())])),
                ..ConfigMap::default()
            };
            config_maps
                .create(&PostParams::default(), &cm)
                .await
                .unwrap();
        }
        let prefix = format!("tls-{}", ns);
        let sets: Vec<String> = [
            "target.name=distroless",
            "target.image=sidescan-target-distroless:dev",
            "security.mode=same-uid",
            "security.runAsUser=65532",
            "security.runAsGroup=65532",
            "target.securityContext.readOnlyRootFilesystem=true",
            "target.envFrom.0.configMapRef.name=target-env",
            "target.volumes.0.name=config",
            "target.volumes.0.configMap.name=target-config",
            "target.volumeMounts.0.name=config",
            "target.volumeMounts.0.mountPath=/etc/target/config.yaml",
            "target.volumeMounts.0.subPath=config.yaml",
            "target.volumeMounts.0.readOnly=true",
            r"metadata.labels.team\.example\.com/owner=e2e",
            "metadata.annotations.note=knobs",
            "results.endpoint=null",
            "results.allowHttp=false",
            "results.caBundle.configMap=s3-ca",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("scheduling.priorityClassName={priority_class}"),
            format!("results.endpoint={tls_endpoint}"),
            format!("results.storeUrl=s3://{bucket}/{prefix}"),
        ])
        .collect();
        let (pod, keys) = scan_in(&client, &ns, "distroless", &sets).await;

        // The cluster ran the pod with the knobs as rendered.
        let spec = pod.spec.clone().unwrap();
        assert_eq!(
            spec.priority_class_name.as_deref(),
            Some(priority_class.as_str())
        );
        assert_eq!(spec.priority, Some(1000));
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(labels["team.example.com/owner"], "e2e");
        assert_eq!(pod.metadata.annotations.clone().unwrap()["note"], "knobs");
        let target = spec.containers.iter().find(|c| c.name == "target").unwrap();
        let sc = target.security_context.clone().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        assert_eq!(sc.run_as_user, Some(65532));
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            target.env_from.clone().unwrap()[0]
                .config_map_ref
                .as_ref()
                .unwrap()
                .name,
            "target-env"
        );
        let mount = &target.volume_mounts.clone().unwrap()[0];
        assert_eq!(mount.mount_path, "/etc/target/config.yaml");
        let target_status = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.iter().find(|c| c.name == "target"))
            .expect("target status");
        assert!(
            target_status
                .state
                .as_ref()
                .is_some_and(|s| s.running.is_some()
                    || s.terminated.as_ref().is_some_and(|t| t.exit_code == 0)),
            "the target did not start with its knobs: {target_status:?}"
        );
        // Every object of the run carries the labels.
        let sa: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(client.clone(), &ns);
        let orchestrator_sa = sa.get("sidescan-distroless-orchestrator").await.unwrap();
        assert_eq!(
            orchestrator_sa.metadata.labels.unwrap()["team.example.com/owner"],
            "e2e"
        );

        // The results are in the store: read back over TLS, trusting only the test CA.
        let certificates = object_store::Certificate::from_pem_bundle(ca.as_bytes()).unwrap();
        let mut options = object_store::ClientOptions::new();
        for c in certificates {
            options = options.with_root_certificate(c);
        }
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&tls_endpoint)
            .with_region(required("AWS_REGION", S3_HINT))
            .with_bucket_name(&bucket)
            .with_access_key_id(required("AWS_ACCESS_KEY_ID", S3_HINT))
            .with_secret_access_key(required("AWS_SECRET_ACCESS_KEY", S3_HINT))
            .with_client_options(options)
            .build()
            .unwrap();
        let hdf_key = keys.iter().find(|k| k.ends_with("hdf.json")).unwrap();
        assert!(
            hdf_key.starts_with(&format!("{prefix}/{ns}/distroless/")),
            "{hdf_key}"
        );
        use object_store::ObjectStoreExt;
        let bytes = store
            .get(&object_store::path::Path::from(hdf_key.as_str()))
            .await
            .unwrap_or_else(|e| panic!("{hdf_key} not readable over TLS: {e}"))
            .bytes()
            .await
            .unwrap();
        let hdf: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(
            hdf["profiles"].as_array().is_some_and(|p| !p.is_empty()),
            "{hdf}"
        );
        classes
            .delete(&priority_class, &DeleteParams::default())
            .await
            .unwrap();
    })
    .await;
}
