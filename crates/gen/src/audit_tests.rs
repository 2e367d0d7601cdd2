use super::*;
use crate::{Generator, strict, values};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

fn spec(sets: &[&str]) -> AuditSpec {
    let mut tree = values::parse_values(DEFAULT_AUDIT_VALUES, "audit-values.yaml").unwrap();
    for set in sets {
        values::apply_set(&mut tree, set, false).unwrap();
    }
    sidescan_core::audit::from_value(tree).unwrap()
}

fn render(sets: &[&str], kind: AuditKind, minor: u32) -> Vec<serde_json::Value> {
    let generator = Generator::new().unwrap();
    let kube = KubeVersion::parse(&format!("1.{minor}")).unwrap();
    let docs = generate(&generator, &spec(sets), Path::new("."), kube, kind).unwrap();
    let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
    crate::documents(&stream).unwrap()
}

fn check(doc: &serde_json::Value) {
    let kind = doc["kind"].as_str().unwrap();
    let result = match kind {
        "ServiceAccount" => strict::check::<ServiceAccount>(doc),
        "ClusterRole" => strict::check::<ClusterRole>(doc),
        "ClusterRoleBinding" => strict::check::<ClusterRoleBinding>(doc),
        "Role" => strict::check::<Role>(doc),
        "RoleBinding" => strict::check::<RoleBinding>(doc),
        "ConfigMap" => strict::check::<ConfigMap>(doc),
        "Job" => strict::check::<Job>(doc),
        "ValidatingAdmissionPolicy" => strict::check::<
            k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
        >(doc),
        "ValidatingAdmissionPolicyBinding" => strict::check::<
            k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        >(doc),
        // batch/v1beta1 has the fields of batch/v1 apart from timeZone.
        "CronJob" => {
            let mut v1 = doc.clone();
            v1["apiVersion"] = "batch/v1".into();
            strict::check::<CronJob>(&v1)
        }
        other => panic!("unexpected kind {other}"),
    };
    result.unwrap_or_else(|e| panic!("{kind}: {e}"));
}

fn of_kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn the_documented_defaults_are_a_valid_audit_spec() {
    let spec = spec(&[]);
    assert_eq!(spec.name, "audit");
    assert_eq!(
        spec,
        sidescan_core::audit::from_value(serde_json::to_value(&spec).unwrap()).unwrap()
    );
}

#[test]
fn every_document_is_a_kubernetes_object_for_every_option() {
    let variants: [&[&str]; 5] = [
        &[],
        &["select.namespaces.0=shop", "select.namespaces.1=tools"],
        &["placement.mode=workload-namespace"],
        &[
            "placement.mode=workload-namespace",
            "select.namespaces.0=shop",
            "profile.url=null",
            "profile.configMap.name=p",
            "profile.configMap.files.0=inspec.yml",
        ],
        &[
            "cluster.hostNetwork=true",
            "cluster.apiServer.host=127.0.0.1",
            "cluster.apiServer.port=6443",
            "results.credentialsSecret.name=store",
            "images.pullSecrets.0=regcred",
            "thresholds.configMap=t",
        ],
    ];
    for sets in variants {
        for minor in [18, 20, 21, 25, 30, 33] {
            for kind in [AuditKind::Job, AuditKind::CronJob] {
                for doc in render(sets, kind, minor) {
                    check(&doc);
                }
            }
        }
    }
}

#[test]
fn reading_is_cluster_wide_only_for_every_namespace() {
    let docs = render(&[], AuditKind::Job, 33);
    let bindings = of_kind(&docs, "ClusterRoleBinding");
    let names: Vec<&str> = bindings
        .iter()
        .map(|b| b["roleRef"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sidescan-sidescan-audit-read",
            "sidescan-sidescan-audit-namespaces"
        ]
    );
    // Clones in the scan namespace: the write role is bound there only.
    let role_bindings = of_kind(&docs, "RoleBinding");
    assert_eq!(role_bindings.len(), 1);
    assert_eq!(role_bindings[0]["metadata"]["namespace"], "sidescan");
    assert_eq!(
        role_bindings[0]["roleRef"]["name"],
        "sidescan-sidescan-audit-clones"
    );

    let docs = render(
        &["select.namespaces.0=shop", "select.namespaces.1=tools"],
        AuditKind::Job,
        33,
    );
    let reads: Vec<&str> = of_kind(&docs, "RoleBinding")
        .iter()
        .filter(|b| b["roleRef"]["name"] == "sidescan-sidescan-audit-read")
        .map(|b| b["metadata"]["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(reads, ["shop", "tools"]);
    let namespaces_role = of_kind(&docs, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "sidescan-sidescan-audit-namespaces")
        .unwrap();
    assert_eq!(
        namespaces_role["rules"][0]["verbs"],
        serde_json::json!(["get"])
    );
    assert_eq!(
        namespaces_role["rules"][0]["resourceNames"],
        serde_json::json!(["shop", "tools"])
    );
}

#[test]
fn rules_are_exactly_the_documented_ones() {
    let docs = render(&["placement.mode=workload-namespace"], AuditKind::Job, 33);
    let rules = |name: &str| -> serde_json::Value {
        of_kind(&docs, "ClusterRole")
            .into_iter()
            .find(|r| r["metadata"]["name"] == name)
            .unwrap()["rules"]
            .clone()
    };
    let flat = |rules: serde_json::Value| -> Vec<String> {
        let mut out = Vec::new();
        for rule in rules.as_array().unwrap() {
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    for verb in rule["verbs"].as_array().unwrap() {
                        out.push(format!(
                            "{}/{}:{}",
                            group.as_str().unwrap(),
                            resource.as_str().unwrap(),
                            verb.as_str().unwrap()
                        ));
                    }
                }
            }
        }
        out
    };
    assert_eq!(
        flat(rules("sidescan-sidescan-audit-read")),
        [
            "apps/deployments:list",
            "apps/statefulsets:list",
            "apps/daemonsets:list",
            "batch/jobs:list",
            "batch/cronjobs:list",
            "/pods:list",
            "/serviceaccounts:list"
        ]
    );
    assert_eq!(
        flat(rules("sidescan-sidescan-audit-clones")),
        [
            "/pods:create",
            "/pods:list",
            "/pods:watch",
            "/pods:delete",
            "/events:list"
        ]
    );
    // A profile without a URL is copied beside each clone outside the audit's namespace: the
    // copies are created (and collected with their clone), never read, listed or deleted.
    let copied = render(
        &[
            "placement.mode=workload-namespace",
            "profile.url=null",
            "profile.configMap.name=baseline",
            "profile.configMap.files=[inspec.yml]",
        ],
        AuditKind::Job,
        33,
    );
    let clones = of_kind(&copied, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "sidescan-sidescan-audit-clones")
        .unwrap()["rules"]
        .clone();
    assert!(flat(clones).contains(&"/configmaps:create".to_string()));
    let profile_role = of_kind(&copied, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "sidescan-audit-profile")
        .expect("the profile Role");
    assert_eq!(
        profile_role["rules"][0]["resourceNames"],
        serde_json::json!(["baseline"])
    );
    // Only the kinds the audit selects are read (a CronJob's Jobs too).
    let narrow = render(&["select.kinds=[CronJob]"], AuditKind::Job, 33);
    let read = of_kind(&narrow, "ClusterRole")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "sidescan-sidescan-audit-read")
        .unwrap()["rules"]
        .clone();
    assert_eq!(
        flat(read),
        [
            "batch/jobs:list",
            "batch/cronjobs:list",
            "/pods:list",
            "/serviceaccounts:list"
        ]
    );
    // Workload-namespace clones of every namespace: writing is cluster-wide, and nothing reaches
    // secrets, exec or the workloads themselves.
    assert!(
        of_kind(&docs, "ClusterRoleBinding")
            .iter()
            .any(|b| b["roleRef"]["name"] == "sidescan-sidescan-audit-clones")
    );
    let text = serde_json::to_string(&docs).unwrap();
    for forbidden in ["secrets", "pods/exec", "\"update\"", "\"patch\"", "\"*\""] {
        assert!(!text.contains(forbidden), "{forbidden}");
    }
}

#[test]
fn the_job_resumes_its_own_audit_and_reads_the_resolved_spec() {
    let docs = render(
        &[
            "thresholds.configMap=t",
            "results.credentialsSecret.name=store",
        ],
        AuditKind::Job,
        20,
    );
    let job = of_kind(&docs, "Job")[0];
    let pod = &job["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(
        container["args"],
        serde_json::json!([
            "audit",
            "--spec",
            "/etc/sidescan/audit/audit-spec.yaml",
            "--in-job"
        ])
    );
    let env = container["env"].as_array().unwrap();
    let field = |name: &str| {
        env.iter().find(|e| e["name"] == name).unwrap()["valueFrom"]["fieldRef"]["fieldPath"]
            .clone()
    };
    assert_eq!(
        field("SIDESCAN_AUDIT_JOB_NAME"),
        "metadata.labels['job-name']"
    );
    assert_eq!(
        field("SIDESCAN_AUDIT_JOB_UID"),
        "metadata.labels['controller-uid']"
    );
    let secret = env
        .iter()
        .find(|e| e["name"] == "AWS_SECRET_ACCESS_KEY")
        .unwrap();
    assert_eq!(secret["valueFrom"]["secretKeyRef"]["name"], "store");
    assert_eq!(job["spec"]["backoffLimit"], 2);
    assert!(
        job["spec"].get("ttlSecondsAfterFinished").is_none(),
        "not on 1.20"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let cm = of_kind(&docs, "ConfigMap")[0];
    let text = cm["data"][AUDIT_SPEC_KEY].as_str().unwrap();
    let resolved = sidescan_core::audit::from_value(serde_json::from_str(text).unwrap()).unwrap();
    assert_eq!(
        resolved.thresholds.unwrap().config_map.as_deref(),
        Some("t")
    );
}

#[test]
fn local_profile_and_thresholds_become_config_maps() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("p/controls")).unwrap();
    std::fs::write(dir.path().join("p/inspec.yml"), "name: p\n").unwrap();
    std::fs::write(dir.path().join("p/controls/a.rb"), "control 'a' do; end\n").unwrap();
    std::fs::write(dir.path().join("t.yml"), "compliance:\n  min: 80\n").unwrap();
    let spec = spec(&[
        "profile.url=null",
        "profile.dir=p",
        "thresholds.file=t.yml",
        "placement.mode=workload-namespace",
    ]);
    let generator = Generator::new().unwrap();
    let docs = generate(
        &generator,
        &spec,
        dir.path(),
        KubeVersion::DEFAULT,
        AuditKind::CronJob,
    )
    .unwrap();
    let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
    let docs = crate::documents(&stream).unwrap();
    let names: Vec<&str> = of_kind(&docs, "ConfigMap")
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sidescan-audit-spec",
            "sidescan-audit-profile",
            "sidescan-audit-thresholds"
        ]
    );
    let profile = of_kind(&docs, "ConfigMap")[1];
    assert!(profile["data"]["controls__a.rb"].is_string());
    // Clones beside their workloads need a copy: the runner may read this one ConfigMap.
    let role = of_kind(&docs, "Role")[0];
    assert_eq!(
        role["rules"][0]["resourceNames"],
        serde_json::json!(["sidescan-audit-profile"])
    );
    let spec_text = of_kind(&docs, "ConfigMap")[0]["data"][AUDIT_SPEC_KEY]
        .as_str()
        .unwrap();
    let resolved =
        sidescan_core::audit::from_value(serde_json::from_str(spec_text).unwrap()).unwrap();
    let cm = resolved.profile.unwrap().config_map.unwrap();
    assert_eq!(cm.files, ["controls/a.rb", "inspec.yml"]);
    let err = generate(
        &generator,
        &spec,
        Path::new("/nonexistent"),
        KubeVersion::DEFAULT,
        AuditKind::Job,
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("profile.dir"), "{err}");
}

#[test]
fn admission_policies_fence_the_audit_where_clones_run_from_1_30() {
    let docs = render(&[], AuditKind::Job, 30);
    let policies = of_kind(&docs, "ValidatingAdmissionPolicy");
    let names: Vec<&str> = policies
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sidescan-clone-pods.audit.sidescan",
            "sidescan-clone-configmaps.audit.sidescan"
        ]
    );
    let bindings = of_kind(&docs, "ValidatingAdmissionPolicyBinding");
    assert_eq!(bindings.len(), 2);
    for (policy, binding) in policies.iter().zip(&bindings) {
        assert_eq!(binding["spec"]["policyName"], policy["metadata"]["name"]);
        assert_eq!(
            binding["spec"]["validationActions"],
            serde_json::json!(["Deny"])
        );
        assert_eq!(policy["spec"]["failurePolicy"], "Fail");
        assert_eq!(
            policy["spec"]["matchConditions"][0]["expression"],
            "request.userInfo.username in ['system:serviceaccount:sidescan:sidescan-audit']"
        );
    }
    let first = |docs: &[serde_json::Value]| {
        of_kind(docs, "ValidatingAdmissionPolicy")[0]["spec"]["validations"][0]["expression"]
            .clone()
    };
    assert_eq!(first(&docs), "request.namespace == 'sidescan'");
    let every = render(&["placement.mode=workload-namespace"], AuditKind::Job, 33);
    assert_eq!(first(&every), "!(request.namespace in ['kube-system'])");
    let named = render(
        &[
            "placement.mode=workload-namespace",
            "select.namespaces.0=shop",
            "select.namespaces.1=kube-system",
        ],
        AuditKind::CronJob,
        33,
    );
    assert_eq!(
        first(&named),
        "request.namespace in ['shop', 'kube-system']"
    );
    // Before 1.30: no policy, a comment says why.
    assert!(
        of_kind(
            &render(&[], AuditKind::Job, 29),
            "ValidatingAdmissionPolicy"
        )
        .is_empty()
    );
    let generator = Generator::new().unwrap();
    let text = generate(
        &generator,
        &spec(&[]),
        Path::new("."),
        KubeVersion::parse("1.29").unwrap(),
        AuditKind::Job,
    )
    .unwrap()
    .concat();
    assert!(text.contains("# No ValidatingAdmissionPolicy: admissionregistration.k8s.io/v1 needs Kubernetes 1.30 (rendering\n# for 1.29)"), "{text}");
}
