//! The audit's manifests (`sidescan-gen render audit-job`) are accepted by the real API server,
//! and its RBAC grants exactly what docs/security.md says: the API server itself answers
//! SubjectAccessReviews for the audit's ServiceAccount.
//!
//! Needs: `scripts/dev-cluster up`, `eval "$(scripts/dev-cluster env)"`.

use futures::FutureExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::Value;
use sidescan_e2e::harness::with_temp_ns;
use sidescan_e2e::manifests::{
    api_in_its_namespace, delete_cluster_scoped, render_audit, server_version,
};
use sidescan_gen::audit::{AuditKind, DEFAULT_AUDIT_VALUES};
use sidescan_gen::{KubeVersion, values};

fn render(kube: KubeVersion, kind: AuditKind, sets: &[String]) -> Vec<Value> {
    let mut tree = values::parse_values(DEFAULT_AUDIT_VALUES, "audit-values.yaml").unwrap();
    for set in sets {
        values::apply_set(&mut tree, set, false).unwrap();
    }
    let spec = sidescan_core::audit::from_value(tree).unwrap();
    render_audit(&spec, kube, kind)
}

async fn can(
    client: &Client,
    user: &str,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> bool {
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(user.to_string()),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                namespace: ns.map(str::to_string),
                name: name.map(str::to_string),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let answer = reviews
        .create(&PostParams::default(), &review)
        .await
        .unwrap();
    answer.status.is_some_and(|s| s.allowed)
}

#[tokio::test]
#[ignore = "needs the dev cluster: scripts/dev-cluster up && eval \"$(scripts/dev-cluster env)\""]
async fn audit_manifests_are_accepted_and_grant_only_what_the_audit_needs() {
    with_temp_ns("audit-rbac", |client, ns| async move {
        let kube = server_version(&client).await;
        // The audit lives in `ns` and audits `ns` and a namespace that does not exist; clones run
        // in `ns` (the scan namespace).
        let sets = vec![
            format!("namespace={ns}"),
            format!("select.namespaces.0={ns}"),
            "select.namespaces.1=sidescan-e2e-absent".to_string(),
            "scanner.backend=builtin".to_string(),
            "profile=null".to_string(),
            "schedule.suspend=true".to_string(),
        ];
        let mut docs = render(kube, AuditKind::CronJob, &sets);
        docs.extend(
            render(kube, AuditKind::Job, &sets)
                .into_iter()
                .filter(|d| d["kind"] == "Job"),
        );
        let real = PatchParams::apply("sidescan-e2e");
        let mut dry = real.clone();
        dry.dry_run = true;
        let result = async {
            for doc in &docs {
                if doc["metadata"]["namespace"].is_string()
                    && doc["metadata"]["namespace"].as_str() != Some(ns.as_str())
                {
                    // A RoleBinding for the named namespace that does not exist: the API server
                    // refuses it, the audit reports the namespace as missing.
                    assert_eq!(doc["metadata"]["namespace"], "sidescan-e2e-absent");
                    continue;
                }
                let (api, name) = api_in_its_namespace(&client, doc).await;
                let what = format!("{} {name}", doc["kind"].as_str().unwrap());
                api.patch(&name, &dry, &Patch::Apply(doc))
                    .await
                    .unwrap_or_else(|e| panic!("dry run of {what} refused: {e}"));
                if doc["kind"] == "Job" {
                    continue; // Accepted is enough: the runner's audit is tested elsewhere.
                }
                api.patch(&name, &real, &Patch::Apply(doc))
                    .await
                    .unwrap_or_else(|e| panic!("apply of {what} refused: {e}"));
            }
            let sa = format!("system:serviceaccount:{ns}:sidescan-audit");
            let ns = ns.as_str();
            // Allowed: what discovery and the clones need, in the audited and scan namespaces.
            for (verb, group, resource, namespace, name) in [
                ("list", "apps", "deployments", Some(ns), None),
                ("list", "batch", "cronjobs", Some(ns), None),
                ("list", "", "pods", Some(ns), None),
                ("list", "", "serviceaccounts", Some(ns), None),
                ("get", "", "namespaces", None, Some(ns)),
                ("create", "", "pods", Some(ns), None),
                ("watch", "", "pods", Some(ns), None),
                ("delete", "", "pods", Some(ns), None),
                ("list", "", "events", Some(ns), None),
            ] {
                assert!(
                    can(&client, &sa, verb, group, resource, namespace, name).await,
                    "{verb} {group}/{resource} in {namespace:?} should be allowed"
                );
            }
            // Refused: secrets, exec, changing workloads, other namespaces, every namespace; and
            // what only the cinc backend with a copied profile or the old cleanup needed (this
            // audit is builtin, cleanup deletes clones by name): ConfigMaps, reading pods and
            // their logs, deleting collections.
            for (verb, group, resource, namespace, name) in [
                ("create", "", "configmaps", Some(ns), None),
                ("delete", "", "configmaps", Some(ns), None),
                ("get", "", "pods", Some(ns), None),
                ("get", "", "pods/log", Some(ns), None),
                ("deletecollection", "", "pods", Some(ns), None),
                ("get", "", "secrets", Some(ns), None),
                ("list", "", "secrets", Some(ns), None),
                ("create", "", "pods/exec", Some(ns), None),
                ("patch", "apps", "deployments", Some(ns), None),
                ("update", "", "pods", Some(ns), None),
                ("list", "apps", "deployments", Some("kube-system"), None),
                ("create", "", "pods", Some("kube-system"), None),
                ("list", "", "namespaces", None, None),
                ("get", "", "namespaces", None, Some("kube-system")),
            ] {
                assert!(
                    !can(&client, &sa, verb, group, resource, namespace, name).await,
                    "{verb} {group}/{resource} in {namespace:?} should be refused"
                );
            }
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
