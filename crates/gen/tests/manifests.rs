//! Every rendered document parses into its Kubernetes type with no unknown field, for every
//! template and every option that changes the output; and the documents say what they must.

mod common;

use common::*;
use serde_json::{Value, json};
use sidescan_gen::{KubeVersion, ScanSpec};
use std::collections::BTreeSet;

const KUBE_VERSIONS: [u32; 11] = [18, 19, 20, 21, 22, 23, 24, 25, 27, 30, 33];
const SPECS: [&str; 3] = [
    "distroless-same-uid",
    "dev-cluster",
    "scheduled-remote-profile",
];

fn kube(minor: u32) -> KubeVersion {
    KubeVersion::parse(&format!("1.{minor}")).unwrap()
}

/// Releases the newer knobs are combined with (their output does not depend on the release
/// otherwise; the base variants cover every release).
const KNOB_RELEASES: [u32; 3] = [18, 22, 33];

/// Overrides that change the output, combined with every spec and release.
fn variants(spec: &str, minor: u32) -> Vec<Vec<&'static str>> {
    let mut out: Vec<Vec<&str>> = vec![
        vec![],
        vec!["security.mode=ptrace", "security.runAsUser=null"],
        vec![
            "security.mode=ptrace",
            "security.runAsUser=0",
            "security.runAsGroup=1000",
        ],
        vec!["scanner.backend=builtin"],
        vec![
            "cluster.hostNetwork=true",
            "cluster.apiServer.host=127.0.0.1",
            "cluster.apiServer.port=6443",
        ],
        vec![
            "images.pullSecrets.0=regcred",
            "scheduling.nodeSelector.disk=ssd",
        ],
        vec![
            "scheduling.tolerations.0.operator=Exists",
            "scheduling.tolerations.0.value=null",
        ],
        vec!["target.command.0=/bin/app", "target.args.0=--serve"],
        vec!["scanner.identify=api"],
    ];
    if spec != "scheduled-remote-profile" {
        out.push(vec![
            "profile.dir=null",
            "profile.url=s3://profiles/p.tar.gz",
        ]);
        out.push(vec![
            "profile.dir=null",
            "profile.configMap.name=existing",
            "profile.configMap.files.0=inspec.yml",
            "profile.configMap.files.1=controls/a.rb",
        ]);
        out.push(vec!["thresholds=null"]);
        out.push(vec!["results=null"]);
    }
    if !KNOB_RELEASES.contains(&minor) {
        return finish(spec, minor, out);
    }
    out.extend([
        // The knobs for the clusters users run: labels and annotations everywhere, cloud
        // identity, priority classes, the orchestrator's placement, the target's own settings.
        vec![
            r"metadata.labels.team\.example\.com/owner=payments",
            "metadata.annotations.note=scanned by sidescan",
            r"serviceAccount.annotations.eks\.amazonaws\.com/role-arn=arn:aws:iam::1:role/scan",
            "scheduling.priorityClassName=scans",
            "orchestrator.priorityClassName=scans",
            r"orchestrator.nodeSelector.kubernetes\.io/os=linux",
            "orchestrator.tolerations.0.operator=Exists",
            "orchestrator.tolerations.0.value=null",
            r"orchestrator.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.weight=1",
            r"orchestrator.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.preference.matchExpressions.0.key=pool",
            r"orchestrator.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.preference.matchExpressions.0.operator=Exists",
        ],
        vec![
            "target.envFrom.0.configMapRef.name=app-env",
            "target.envFrom.1.secretRef.name=app-secrets",
            "target.envFrom.1.prefix=SECRET_",
            "target.volumes.0.name=config",
            "target.volumes.0.configMap.name=app-config",
            "target.volumes.1.name=scratch",
            "target.volumes.1.emptyDir.sizeLimit=64Mi",
            "target.volumeMounts.0.name=config",
            "target.volumeMounts.0.mountPath=/etc/app",
            "target.volumeMounts.0.readOnly=true",
            "target.volumeMounts.1.name=scratch",
            "target.volumeMounts.1.mountPath=/var/cache/app",
            "target.securityContext.readOnlyRootFilesystem=true",
        ],
        vec![
            "results.storeUrl=s3://results/scans",
            "results.endpoint=https://10.0.0.5:9000",
            "results.caBundle.configMap=store-ca",
            "results.credentialsSecret.name=store",
            "networkPolicy.enabled=true",
            "networkPolicy.apiServer.cidr=10.0.0.1",
            "networkPolicy.apiServer.port=6443",
            "networkPolicy.dns=true",
        ],
        vec![
            "results.storeUrl=s3://results/scans",
            "results.caBundle.secret=store-ca",
            "results.caBundle.key=bundle.pem",
        ],
    ]);
    if spec != "scheduled-remote-profile" {
        out.push(vec![
            "profile.dir=null",
            "profile.url=https://profiles.example.com/cis.tar.gz",
            "profile.sha256=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "profile.inputFiles.0=../inputs/baseline-inputs.yml",
            "profile.waiverFiles.0=../inputs/waivers.yml",
        ]);
        out.push(vec![
            "profile.inputFiles.0=site.yml",
            "profile.inputsConfigMap=site-inputs",
        ]);
    }
    finish(spec, minor, out)
}

fn finish(spec: &str, minor: u32, mut out: Vec<Vec<&'static str>>) -> Vec<Vec<&'static str>> {
    if spec == "scheduled-remote-profile" && minor < 25 {
        for v in &mut out {
            v.push("schedule.timeZone=null");
        }
    }
    out
}

fn all_cases() -> Vec<(String, Vec<&'static str>, u32)> {
    let mut cases = Vec::new();
    for spec in SPECS {
        for minor in KUBE_VERSIONS {
            for sets in variants(spec, minor) {
                cases.push((spec.to_string(), sets, minor));
            }
        }
    }
    cases
}

#[test]
fn every_document_of_every_combination_is_strictly_valid_and_keeps_its_pod_security() {
    let mut checked = 0;
    let mut pods = 0;
    for (spec, sets, minor) in all_cases() {
        let text = stream(&example_spec(&spec), &sets, kube(minor));
        let loaded = load(&example_spec(&spec), &sets);
        let docs = documents(&text);
        assert!(
            docs.len() >= 6,
            "{spec} {sets:?}: only {} documents",
            docs.len()
        );
        for doc in &docs {
            check_strictly(doc);
            check_pod_security(doc, &loaded);
            checked += 1;
            pods += usize::from(pod_template(doc).is_some());
        }
    }
    assert!(checked > 2000, "{checked}");
    assert!(pods > 1000, "{pods}");
}

#[test]
fn the_strict_check_catches_a_misspelled_field() {
    let text = stream(&example_spec("dev-cluster"), &[], kube(33));
    let mut docs = documents(&text);
    let pod = docs.iter_mut().find(|d| d["kind"] == "Pod").unwrap();
    pod["spec"]["containers"][1]["securityContext"]["runAsNonroot"] = json!(true);
    let err = sidescan_gen::strict::check::<k8s_openapi::api::core::v1::Pod>(pod).unwrap_err();
    assert!(err.contains("runAsNonroot"), "{err}");
}

fn scan_pod(spec: &str, sets: &[&str], minor: u32) -> Value {
    let docs = documents(&stream(&example_spec(spec), sets, kube(minor)));
    find(&docs, "Pod")[0].clone()
}

fn container<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn same_uid_mode_is_restricted() {
    let pod = scan_pod("distroless-same-uid", &[], 33);
    let sc = &container(&pod, "sidescan-scanner")["securityContext"];
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["runAsGroup"], 65532);
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["capabilities"], json!({"drop": ["ALL"]}));
    assert_eq!(sc["seccompProfile"], json!({"type": "RuntimeDefault"}));
    assert_eq!(pod["spec"]["shareProcessNamespace"], true);
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
}

#[test]
fn ptrace_mode_keeps_only_sys_ptrace_and_is_never_privileged() {
    for (spec, minor) in [("dev-cluster", 20), ("distroless-same-uid", 33)] {
        let pod = scan_pod(
            spec,
            &["security.mode=ptrace", "security.runAsUser=null"],
            minor,
        );
        let sc = &container(&pod, "sidescan-scanner")["securityContext"];
        assert_eq!(
            sc["capabilities"],
            json!({"drop": ["ALL"], "add": ["SYS_PTRACE"]})
        );
        assert_eq!(sc["privileged"], false);
        assert_eq!(sc["runAsUser"], 0);
        assert_eq!(sc["runAsNonRoot"], false);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
    }
}

#[test]
fn the_target_container_is_untouched_unless_the_spec_or_mode_says_so() {
    // ptrace mode: the target exactly as its image defines it.
    let pod = scan_pod(
        "distroless-same-uid",
        &["security.mode=ptrace", "security.runAsUser=null"],
        33,
    );
    let target = container(&pod, "checkout");
    let keys: BTreeSet<&str> = target
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["name", "image", "imagePullPolicy", "resources"]),
        "{target:#}"
    );
    // same-uid mode: what Pod Security "restricted" needs, and nothing else.
    let pod = scan_pod("distroless-same-uid", &[], 33);
    let target = container(&pod, "checkout");
    assert_eq!(
        target["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 65532, "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}})
    );
    // What the user sets wins; the rest is filled in.
    let pod = scan_pod(
        "distroless-same-uid",
        &[
            "target.securityContext.readOnlyRootFilesystem=true",
            "target.securityContext.capabilities.add.0=NET_BIND_SERVICE",
        ],
        33,
    );
    let sc = &container(&pod, "checkout")["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(
        sc["capabilities"],
        json!({"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]})
    );
    let pod = scan_pod("scheduled-remote-profile", &[], 27);
    let target = container(&pod, "app");
    assert_eq!(target["command"], json!(["/usr/local/bin/ledger"]));
    assert_eq!(
        target["args"],
        json!(["serve", "--config", "/etc/ledger/config.yaml"])
    );
    assert_eq!(
        target["image"],
        "registry.example.com/mirror/payments/ledger:5.2.0"
    );
}

#[test]
fn the_scanner_gets_run_details_and_downward_api() {
    let pod = scan_pod("dev-cluster", &[], 20);
    let scanner = container(&pod, "sidescan-scanner");
    let args: Vec<&str> = scanner["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let run_id = pod["metadata"]["labels"]["sidescan.io/run-id"]
        .as_str()
        .unwrap();
    let value = |flag: &str| {
        args.iter()
            .position(|a| *a == flag)
            .and_then(|i| args.get(i + 1).copied())
    };
    assert_eq!(args[0], "scan");
    assert_eq!(value("--target-container"), Some("target"));
    assert_eq!(value("--target-name"), Some("glibc"));
    assert_eq!(value("--backend"), Some("builtin"));
    assert_eq!(value("--run-id"), Some(run_id));
    assert_eq!(value("--results-dir"), Some("/var/run/sidescan/results"));
    assert_eq!(value("--store"), Some("s3://sidescan-test/scans"));
    // With a store the orchestrator can still recover the result from the log.
    assert!(args.contains(&"--log-results-on-failure"), "{args:?}");
    let env = scanner["env"].as_array().unwrap();
    let field = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
    };
    assert_eq!(field("POD_NAME"), Some(json!("metadata.name")));
    assert_eq!(field("POD_NAMESPACE"), Some(json!("metadata.namespace")));
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(value("KUBERNETES_SERVICE_HOST"), Some(json!("127.0.0.1")));
    assert_eq!(value("KUBERNETES_SERVICE_PORT"), Some(json!("6443")));
    assert_eq!(pod["spec"]["hostNetwork"], true);
    // Without the cluster overrides, neither is set.
    let pod = scan_pod("distroless-same-uid", &[], 33);
    let text = pod.to_string();
    assert!(!text.contains("KUBERNETES_SERVICE_HOST") && !text.contains("hostNetwork"));
}

#[test]
fn the_profile_tree_is_restored_by_volume_items() {
    let docs = documents(&stream(&example_spec("dev-cluster"), &[], kube(20)));
    let cm = find(&docs, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == "sidescan-glibc-profile")
        .unwrap();
    let pod = find(&docs, "Pod")[0];
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "profile")
        .unwrap();
    let items = volume["configMap"]["items"].as_array().unwrap();
    let paths: BTreeSet<&str> = items.iter().map(|i| i["path"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = [
        "inspec.yml",
        "controls/accounts.rb",
        "controls/os.rb",
        "libraries/os_release.rb",
        "files/banner.txt",
    ]
    .into();
    assert_eq!(paths, expected);
    let root = repo_root().join("examples/profiles/baseline");
    for item in items {
        let key = item["key"].as_str().unwrap();
        let path = item["path"].as_str().unwrap();
        assert!(!key.contains('/'));
        let on_disk = std::fs::read_to_string(root.join(path)).unwrap();
        assert_eq!(cm["data"][key], on_disk, "{path}");
    }
    let mount = container(pod, "sidescan-scanner")["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "profile")
        .unwrap()
        .clone();
    assert_eq!(mount["readOnly"], true);
}

#[test]
fn rbac_is_exactly_what_the_workflow_needs() {
    let docs = documents(&stream(&example_spec("distroless-same-uid"), &[], kube(33)));
    // The scanner identifies by the heuristic: no ServiceAccount, Role or binding of its own.
    let roles = find(&docs, "Role");
    assert_eq!(roles.len(), 1);
    let accounts: Vec<&Value> = find(&docs, "ServiceAccount");
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        accounts[0]["metadata"]["name"],
        "sidescan-checkout-orchestrator"
    );
    let orchestrator = roles
        .iter()
        .find(|r| r["metadata"]["name"] == "sidescan-checkout-orchestrator")
        .unwrap();
    assert_eq!(
        orchestrator["rules"],
        json!([
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["sidescan-scan-checkout"], "verbs": ["list", "watch", "delete"]},
            {"apiGroups": [""], "resources": ["pods/log"], "resourceNames": ["sidescan-scan-checkout"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["sidescan-checkout-profile"], "verbs": ["get"]},
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
        ])
    );
    // A profile fetched from a URL: no ConfigMap to check, so no ConfigMap rule at all.
    let docs_url = documents(&stream(
        &example_spec("distroless-same-uid"),
        &["profile.dir=null", "profile.url=s3://p/x.tar.gz"],
        kube(33),
    ));
    let rules = &find(&docs_url, "Role")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "sidescan-checkout-orchestrator")
        .unwrap()["rules"];
    assert!(!rules.to_string().contains("configmaps"), "{rules}");
    let pod = find(&docs, "Pod")[0];
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
    assert!(!pod.to_string().contains("serviceAccountToken"));
    let args = container(pod, "sidescan-scanner")["args"].to_string();
    assert!(args.contains(r#""--identify","heuristic""#), "{args}");

    // scanner.identify: api: the scanner's ServiceAccount, a Role reading the one pod, and a
    // short-lived token in the scanner only.
    let docs = documents(&stream(
        &example_spec("distroless-same-uid"),
        &["scanner.identify=api"],
        kube(33),
    ));
    let roles = find(&docs, "Role");
    assert_eq!(roles.len(), 2);
    let scanner = roles
        .iter()
        .find(|r| r["metadata"]["name"] == "sidescan-checkout-scanner")
        .unwrap();
    assert_eq!(
        scanner["rules"],
        json!([{"apiGroups": [""], "resources": ["pods"], "resourceNames": ["sidescan-scan-checkout"], "verbs": ["get", "list", "watch"]}])
    );
    let text = serde_json::to_string(&docs).unwrap();
    assert!(
        !text.contains("pods/exec") && !text.contains("\"secrets\"") && !text.contains("\"*\"")
    );
    let pod = find(&docs, "Pod")[0];
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        "sidescan-checkout-scanner"
    );
    assert_eq!(pod["metadata"]["name"], "sidescan-scan-checkout");
    assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
    let token = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "api-token")
        .unwrap();
    assert_eq!(
        token["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
        600
    );
    assert!(
        !container(pod, "checkout").to_string().contains("api-token"),
        "the target gets no token"
    );
    let args = container(pod, "sidescan-scanner")["args"].to_string();
    assert!(args.contains(r#""--identify","api""#), "{args}");
}

#[test]
fn version_dependent_fields_follow_the_release() {
    for minor in KUBE_VERSIONS {
        let docs = documents(&stream(
            &example_spec("distroless-same-uid"),
            &[],
            kube(minor),
        ));
        let cron = find(&docs, "CronJob")[0];
        let job = find(&docs, "Job")[0];
        assert_eq!(
            cron["apiVersion"],
            if minor >= 21 {
                "batch/v1"
            } else {
                "batch/v1beta1"
            }
        );
        assert_eq!(
            job["spec"].get("ttlSecondsAfterFinished").is_some(),
            minor >= 21,
            "1.{minor}"
        );
        assert_eq!(
            cron["spec"]["jobTemplate"]["spec"]
                .get("ttlSecondsAfterFinished")
                .is_some(),
            minor >= 21
        );
        let pod = find(&docs, "Pod")[0];
        let sc = &container(pod, "sidescan-scanner")["securityContext"];
        assert_eq!(sc.get("seccompProfile").is_some(), minor >= 19, "1.{minor}");
        let annotation = &pod["metadata"]["annotations"]["container.seccomp.security.alpha.kubernetes.io/sidescan-scanner"];
        assert_eq!(annotation == "runtime/default", minor < 19, "1.{minor}");
        // No token at all by default; with scanner.identify: api, bound tokens for the scanner
        // from 1.22 and the legacy automount before.
        assert_eq!(pod["spec"]["automountServiceAccountToken"], false);
        let api = documents(&stream(
            &example_spec("distroless-same-uid"),
            &["scanner.identify=api"],
            kube(minor),
        ));
        let pod = find(&api, "Pod")[0];
        assert_eq!(pod["spec"]["automountServiceAccountToken"], minor < 22);
        assert_eq!(
            pod["spec"]["volumes"].to_string().contains("api-token"),
            minor >= 22
        );
        // The admission policies from 1.30 (admissionregistration.k8s.io/v1); a comment before.
        let policies = find(&docs, "ValidatingAdmissionPolicy").len();
        let bindings = find(&docs, "ValidatingAdmissionPolicyBinding").len();
        assert_eq!(
            (policies, bindings),
            if minor >= 30 { (2, 2) } else { (0, 0) }
        );
        let rbac = stream(&example_spec("distroless-same-uid"), &[], kube(minor));
        assert_eq!(
            rbac.contains("# No ValidatingAdmissionPolicy: admissionregistration.k8s.io/v1 needs Kubernetes 1.30"),
            minor < 30,
            "1.{minor}"
        );
    }
    let docs = documents(&stream(
        &example_spec("scheduled-remote-profile"),
        &[],
        kube(27),
    ));
    assert_eq!(
        find(&docs, "CronJob")[0]["spec"]["timeZone"],
        "Europe/Berlin"
    );
    let spec = load(&example_spec("scheduled-remote-profile"), &[]);
    let generator = sidescan_gen::Generator::new().unwrap();
    let err = sidescan_gen::generate(&generator, &spec, &repo_root(), kube(24), None).unwrap_err();
    assert!(err.to_string().starts_with("schedule.timeZone:"), "{err}");
}

#[test]
fn jobs_take_credentials_from_a_secret_and_the_spec_from_a_configmap() {
    let docs = documents(&stream(&example_spec("distroless-same-uid"), &[], kube(33)));
    for job in find(&docs, "Job") {
        let pod = &job["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        assert_eq!(c["args"][0], "orchestrate");
        for env in c["env"].as_array().unwrap() {
            if env["name"].as_str().unwrap().starts_with("AWS_SECRET")
                || env["name"] == "AWS_ACCESS_KEY_ID"
            {
                assert_eq!(env["valueFrom"]["secretKeyRef"]["name"], "sidescan-store");
                assert!(env.get("value").is_none());
            }
        }
        assert_eq!(job["spec"]["activeDeadlineSeconds"], 1800);
        assert_eq!(job["spec"]["backoffLimit"], 0);
        // SIGTERM leaves the cleanup deadline (120 s by default) and a margin.
        assert_eq!(pod["terminationGracePeriodSeconds"], 135);
        // The owner Job's name and UID come from the Job controller's labels.
        let field = |name: &str| {
            c["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .map(|e| e["valueFrom"]["fieldRef"]["fieldPath"].clone())
        };
        assert_eq!(
            field("JOB_NAME"),
            Some(json!("metadata.labels['job-name']"))
        );
        assert_eq!(
            field("JOB_UID"),
            Some(json!("metadata.labels['controller-uid']"))
        );
    }
    let cron = find(&docs, "CronJob")[0];
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"],
        find(&docs, "Job")[0]["spec"]
    );
    // The spec ConfigMap holds a spec the orchestrator can read back, local files resolved.
    let cm = find(&docs, "ConfigMap")
        .into_iter()
        .find(|c| c["metadata"]["name"] == "sidescan-checkout-spec")
        .unwrap();
    let resolved: ScanSpec =
        serde_saphyr::from_str(cm["data"]["scan-spec.yaml"].as_str().unwrap()).unwrap();
    resolved.validate().unwrap();
    let profile = resolved.profile.unwrap();
    assert!(profile.dir.is_none());
    assert_eq!(
        profile.config_map.unwrap().name,
        "sidescan-checkout-profile"
    );
    assert_eq!(
        resolved.thresholds.unwrap().config_map.as_deref(),
        Some("sidescan-checkout-thresholds")
    );
}

#[test]
fn rendering_is_deterministic() {
    for (spec, sets, minor) in all_cases().into_iter().step_by(7) {
        let a = stream(&example_spec(&spec), &sets, kube(minor));
        let b = stream(&example_spec(&spec), &sets, kube(minor));
        assert_eq!(a, b);
    }
}

#[test]
fn user_strings_cannot_change_the_structure() {
    let nasty = "x\"\n- injected: true\n#: {a}\n";
    let mut tree = serde_json::json!({
        "target": {"name": "t", "image": "img", "env": {"A": nasty}, "args": [nasty]},
        "security": {"runAsUser": 1000},
        "profile": {"url": "s3://p/p.tgz"},
        "metadata": {"annotations": {"note": nasty}},
    });
    sidescan_gen::values::apply_set(&mut tree, "results.storeUrl=s3://b/p", false).unwrap();
    let spec = sidescan_gen::values::spec_from_value(tree).unwrap();
    let generator = sidescan_gen::Generator::new().unwrap();
    let mut rendered =
        sidescan_gen::generate(&generator, &spec, &repo_root(), kube(33), None).unwrap();
    rendered.extend(
        sidescan_gen::generate(
            &generator,
            &spec,
            &repo_root(),
            kube(33),
            Some(sidescan_gen::Kind::ScanPod),
        )
        .unwrap(),
    );
    let docs = documents(&sidescan_gen::to_stream(&rendered));
    for doc in &docs {
        check_strictly(doc);
    }
    let pod = find(&docs, "Pod")[0];
    let target = container(pod, "target");
    assert_eq!(target["env"][0]["value"], nasty);
    assert_eq!(target["args"][0], nasty);
    assert_eq!(pod["metadata"]["annotations"]["note"], nasty);
}

#[test]
fn strict_mode_rejects_a_missing_value() {
    let registry = sidescan_gen::render::registry().unwrap();
    let err = registry
        .render_template("a: {{missing.value}}", &json!({}))
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn the_longest_target_name_gives_valid_names_and_labels() {
    let long = "t".repeat(50);
    let set = format!("target.name={long}");
    let docs = documents(&stream(
        &example_spec("dev-cluster"),
        &[set.as_str()],
        kube(33),
    ));
    for doc in &docs {
        check_strictly(doc);
        let name = doc["metadata"]["name"].as_str().unwrap();
        if doc["kind"]
            .as_str()
            .unwrap()
            .starts_with("ValidatingAdmissionPolicy")
        {
            // Cluster-scoped, named with the target and namespace: an RFC 1123 subdomain.
            sidescan_core::names::check_dns_subdomain("name", name).unwrap();
        } else {
            sidescan_core::names::check_dns_label("name", name).unwrap();
        }
        if doc["kind"] == "CronJob" {
            assert!(
                name.len() <= 52,
                "CronJob name {name} too long for its Jobs"
            );
        }
        let labels = doc["metadata"]["labels"].as_object().unwrap();
        for (key, value) in labels {
            let value = value.as_str().unwrap();
            assert!(value.len() <= 63, "{key}={value}");
            sidescan_core::names::check_dns_label(key, value).unwrap();
        }
    }
}

#[test]
fn the_scan_pod_stops_by_itself_and_is_disposable() {
    let pod = scan_pod("dev-cluster", &[], 20);
    // deploy 60 + scan 300 + retrieve 60 + cleanup 60 in the example spec.
    assert_eq!(pod["spec"]["activeDeadlineSeconds"], 480);
    assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 1);
    let pod = scan_pod("distroless-same-uid", &[], 33);
    assert_eq!(pod["spec"]["activeDeadlineSeconds"], 1740);
}

#[test]
fn without_a_store_the_agent_prints_its_results_to_its_log() {
    let has_flag = |pod: &Value| {
        container(pod, "sidescan-scanner")["args"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--log-results")
    };
    assert!(!has_flag(&scan_pod("dev-cluster", &[], 20)));
    assert!(has_flag(&scan_pod("dev-cluster", &["results=null"], 20)));
}
