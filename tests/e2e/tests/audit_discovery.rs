//! Audit discovery against the real API server: every kind, every container, the label selector
//! applied, sidescan's own objects and init containers left out, running digests read from the
//! workloads' pods.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/build-images`, `eval "$(scripts/dev-cluster env)"`.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::workloads;
use sidescan_runner::audit::cluster::discover_targets;

fn spec(ns: &str, extra: &str) -> sidescan_core::audit::AuditSpec {
    let text = format!(
        "namespace: {ns}\nselect: {{namespaces: [{ns}, sidescan-e2e-absent]{extra}}}\n\
         scanner: {{backend: builtin}}\nresults: {{storeUrl: s3://sidescan-test/audits}}\n"
    );
    sidescan_runner::audit::input::parse_spec(&text, "audit.yaml").unwrap()
}

#[tokio::test]
#[ignore = "needs the dev cluster and images: scripts/dev-cluster up && scripts/build-images && eval \"$(scripts/dev-cluster env)\""]
async fn discovery_lists_every_kind_and_container() {
    with_temp_ns("audit-discover", |client, ns| async move {
        let v1 = workloads::cronjob_v1(&client).await;
        workloads::deployment(&client, &ns, "web", 1, &[("app", "target-distroless"), ("sidecar", "target-musl")]).await;
        workloads::statefulset(&client, &ns, "db", &[("pg", "target-glibc")]).await;
        workloads::daemonset(&client, &ns, "agent", &[("a", "target-musl")]).await;
        workloads::job(&client, &ns, "migrate", &[("m", "target-distroless")]).await;
        workloads::cronjob(&client, &ns, "nightly", &[("run", "target-glibc")], v1).await;
        workloads::bare_pod(&client, &ns, "debug", &[("main", "target-musl")]).await;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        wait_for(&deployments, "web", "available", |d: Option<&Deployment>| {
            d.and_then(|d| d.status.as_ref()).and_then(|s| s.available_replicas) == Some(1)
        })
        .await;

        let found = discover_targets(&client, &spec(&ns, ""), v1).await.unwrap();
        let ids: Vec<String> = found.targets.iter().map(|t| t.id()).collect();
        let expected: Vec<String> = [
            "deployment.web.app",
            "deployment.web.sidecar",
            "statefulset.db.pg",
            "daemonset.agent.a",
            "job.migrate.m",
            "cronjob.nightly.run",
            "pod.debug.main",
        ]
        .iter()
        .map(|s| format!("{ns}/{s}"))
        .collect();
        assert_eq!(ids, expected);
        assert_eq!(found.warnings, ["namespace sidescan-e2e-absent does not exist"]);
        let web = &found.targets[0];
        assert_eq!(web.image, "localhost/sidescan-target-distroless:dev");
        assert_eq!(web.running_digests.len(), 1, "{:?}", web.running_digests);

        // The label selector is applied to the workloads' own labels.
        let found = discover_targets(&client, &spec(&ns, ", labelSelector: 'tier=web'"), v1)
            .await
            .unwrap();
        assert_eq!(found.targets.len(), 2);
        // No namespace at all: an empty discovery with a warning, not an error.
        let none = "namespace: x\nselect: {namespaces: [sidescan-e2e-absent]}\nscanner: {backend: builtin}\nresults: {storeUrl: s3://b/p}\n";
        let spec = sidescan_runner::audit::input::parse_spec(none, "a.yaml").unwrap();
        let found = discover_targets(&client, &spec, v1).await.unwrap();
        assert!(found.targets.is_empty());
        assert!(found.warnings.contains(&"no namespace matched the selection".to_string()));
    })
    .await;
}
