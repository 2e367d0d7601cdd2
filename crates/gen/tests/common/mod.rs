//! Shared test helpers: render specs through the library, parse the YAML stream, and check every
//! document strictly against its Kubernetes type.
#![allow(dead_code)]

use serde_json::Value;
use sidescan_gen::{Generator, Kind, KubeVersion, Rendered, ScanSpec, strict, values};
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example_spec(name: &str) -> PathBuf {
    repo_root()
        .join("examples/specs")
        .join(format!("{name}.yaml"))
}

/// The `# kube-version: X.Y` line at the top of an example spec.
pub fn example_kube_version(path: &Path) -> KubeVersion {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("# kube-version: "))
        .unwrap_or_else(|| panic!("{} has no kube-version line", path.display()));
    KubeVersion::parse(line.trim()).unwrap()
}

/// Loads a spec file and applies `--set` style overrides.
pub fn load(path: &Path, sets: &[&str]) -> ScanSpec {
    let text = std::fs::read_to_string(path).unwrap();
    let mut tree = values::parse_values(&text, &path.display().to_string()).unwrap();
    for set in sets {
        values::apply_set(&mut tree, set, false).unwrap();
    }
    values::spec_from_value(tree).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Templates compiled once per test binary (compiling them is most of a debug build's render).
pub fn generator() -> &'static Generator {
    static GENERATOR: std::sync::OnceLock<Generator> = std::sync::OnceLock::new();
    GENERATOR.get_or_init(|| Generator::new().unwrap())
}

/// Every document: `render all` (the Job path) followed by `render scan-pod` (the manual path).
pub fn render(path: &Path, sets: &[&str], kube: KubeVersion) -> Vec<Rendered> {
    let spec = load(path, sets);
    let generator = generator();
    let run = || -> Result<Vec<Rendered>, sidescan_gen::GenError> {
        let inputs = sidescan_gen::inputs::load_inputs(&spec, path.parent().unwrap())?;
        let ctx = sidescan_gen::context::build(&spec, &inputs, kube)?;
        let mut out = generator.render_kinds(None, &ctx)?;
        out.extend(generator.render_kinds(Some(Kind::ScanPod), &ctx)?);
        Ok(out)
    };
    run().unwrap_or_else(|e| panic!("{} {sets:?} {kube}: {e}", path.display()))
}

pub fn stream(path: &Path, sets: &[&str], kube: KubeVersion) -> String {
    sidescan_gen::to_stream(&render(path, sets, kube))
}

/// Parses a multi-document YAML stream into JSON values.
pub fn documents(stream: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(stream).unwrap_or_else(|e| panic!("{e}\n{stream}"))
}

/// Checks one document against the `k8s-openapi` type its apiVersion and kind name; fails on any
/// field the type does not know.
pub fn check_strictly(doc: &Value) {
    use k8s_openapi::api::{batch, core, rbac};
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let result = match (api, kind) {
        ("v1", "Pod") => strict::check::<core::v1::Pod>(doc),
        ("v1", "ConfigMap") => strict::check::<core::v1::ConfigMap>(doc),
        ("v1", "ServiceAccount") => strict::check::<core::v1::ServiceAccount>(doc),
        ("rbac.authorization.k8s.io/v1", "Role") => strict::check::<rbac::v1::Role>(doc),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            strict::check::<rbac::v1::RoleBinding>(doc)
        }
        ("batch/v1", "Job") => strict::check::<batch::v1::Job>(doc),
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            strict::check::<k8s_openapi::api::networking::v1::NetworkPolicy>(doc)
        }
        ("batch/v1", "CronJob") => strict::check::<batch::v1::CronJob>(doc),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy") => strict::check::<
            k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
        >(doc),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding") => strict::check::<
            k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        >(doc),
        // batch/v1beta1 CronJob (before 1.21) has the same fields as batch/v1 minus timeZone,
        // which is never rendered for those releases; k8s-openapi only ships current types.
        ("batch/v1beta1", "CronJob") => {
            assert!(doc["spec"].get("timeZone").is_none(), "timeZone in v1beta1");
            let mut as_v1 = doc.clone();
            as_v1["apiVersion"] = Value::String("batch/v1".into());
            strict::check::<batch::v1::CronJob>(&as_v1)
        }
        other => panic!("unexpected document type {other:?}"),
    };
    if let Err(path) = result {
        panic!("{api} {kind}: {path}\n{doc:#}");
    }
}

pub fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

pub fn kinds(rendered: &[Rendered]) -> Vec<Kind> {
    rendered.iter().map(|r| r.kind).collect()
}

/// The pod template of a rendered Pod, Job or CronJob, for the Pod Security check.
pub fn pod_template(doc: &Value) -> Option<k8s_openapi::api::core::v1::PodTemplateSpec> {
    let template = match doc["kind"].as_str()? {
        "Pod" => serde_json::json!({"metadata": doc["metadata"], "spec": doc["spec"]}),
        "Job" => doc["spec"]["template"].clone(),
        "CronJob" => doc["spec"]["jobTemplate"]["spec"]["template"].clone(),
        _ => return None,
    };
    Some(serde_json::from_value(template).unwrap())
}

/// Checks a rendered Pod, Job or CronJob against the Pod Security Standards its spec's mode
/// promises: the orchestrator's pod and a `same-uid` scan pod are `restricted` (the rules Pod
/// Security Admission enforces: not the optional non-root groups, since a GID 0 is the spec's
/// choice); a `ptrace` scan pod breaks `baseline` only by the scanner's `SYS_PTRACE` and is not
/// `restricted`. Host networking (the development cluster) is the one documented exception.
pub fn check_pod_security(doc: &Value, spec: &ScanSpec) {
    use sidescan_gen::pss::{Level, Rule, pss_violations};
    let Some(template) = pod_template(doc) else {
        return;
    };
    let exempt = |rule: Rule| {
        !rule.enforced() || (rule == Rule::HostNamespaces && spec.cluster.host_network)
    };
    let kind = doc["kind"].as_str().unwrap_or_default();
    let ptrace_pod =
        kind == "Pod" && spec.security.mode == sidescan_core::spec::SecurityMode::Ptrace;
    if !ptrace_pod {
        let found: Vec<_> = pss_violations(&template, Level::Restricted)
            .into_iter()
            .filter(|v| !exempt(v.rule))
            .collect();
        assert!(found.is_empty(), "{kind} not restricted: {found:#?}");
        return;
    }
    let scanner_caps = format!(
        "spec.containers[{}].securityContext.capabilities.add",
        spec.scanner.container
    );
    let baseline: Vec<_> = pss_violations(&template, Level::Baseline)
        .into_iter()
        .filter(|v| !exempt(v.rule))
        .collect();
    assert!(
        !baseline.is_empty()
            && baseline
                .iter()
                .all(|v| v.rule == Rule::Capabilities && v.field == scanner_caps),
        "ptrace pod: baseline must fail on the scanner's capability only: {baseline:#?}"
    );
    let restricted = pss_violations(&template, Level::Restricted)
        .into_iter()
        .filter(|v| !exempt(v.rule))
        .count();
    assert!(restricted > baseline.len(), "ptrace pod passes restricted");
}
