//! The admission policies rendered beside the Roles, evaluated as the API server evaluates them
//! (Kubernetes 1.30+), without a cluster: their CEL expressions run in the `cel` crate against
//! every pod and ConfigMap sidescan renders or creates (all of them must be admitted) and against
//! what a holder of sidescan's tokens could send instead (every one must be refused, each by the
//! rule meant for it).
//!
//! The evaluation follows the API server's: `matchConstraints` (resource and operation), then
//! `matchConditions` (all true, or the policy does not apply; an error is a refusal under
//! `failurePolicy: Fail`), then `variables` (in order, each seeing the earlier ones; an erroring
//! variable fails the expressions that use it, as the lazy evaluation does), then each
//! validation (false or an error refuses). The CEL variables are `request`, `object`,
//! `oldObject` (null where the operation has none), `params` (null: no paramKind) and
//! `variables`.

use crate::audit::clone::{self, CloneRequest, ProfileMount};
use crate::orchestrator::plan::{self, OwnerJob, PlanInput};
use cel::objects::Key;
use cel::{Context, Program, Value as Cel};
use serde_json::{Value, json};
use sidescan_core::audit::AuditId;
use sidescan_core::labels::{self, Component};
use sidescan_core::spec::ScanSpec;
use sidescan_core::{RunId, spec};
use sidescan_gen::{Generator, Inputs, Kind, KubeVersion};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn generator() -> &'static Generator {
    static G: std::sync::OnceLock<Generator> = std::sync::OnceLock::new();
    G.get_or_init(|| Generator::new().unwrap())
}

/// JSON as the API server hands objects to CEL: integers are `int`, maps have string keys.
fn cel_value(value: &Value) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => Cel::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Cel::String(s.clone().into()),
        Value::Array(items) => Cel::List(items.iter().map(cel_value).collect::<Vec<_>>().into()),
        Value::Object(map) => {
            let map: HashMap<Key, Cel> = map
                .iter()
                .map(|(k, v)| (Key::String(k.clone().into()), cel_value(v)))
                .collect();
            Cel::Map(map.into())
        }
    }
}

/// One admission request, as the API server describes it to the policies.
#[derive(Debug, Clone)]
struct Request {
    operation: &'static str,
    namespace: String,
    username: String,
    /// `pods` or `configmaps`.
    resource: &'static str,
    object: Option<Value>,
    old_object: Option<Value>,
}

impl Request {
    fn create(user: &str, doc: &Value) -> Request {
        Request {
            operation: "CREATE",
            namespace: doc["metadata"]["namespace"].as_str().unwrap().to_string(),
            username: user.to_string(),
            resource: resource_of(doc),
            object: Some(doc.clone()),
            old_object: None,
        }
    }

    fn delete(user: &str, doc: &Value) -> Request {
        Request {
            operation: "DELETE",
            object: None,
            old_object: Some(doc.clone()),
            ..Request::create(user, doc)
        }
    }

    fn cel(&self) -> Value {
        let doc = self.object.as_ref().or(self.old_object.as_ref()).unwrap();
        let kind = doc["kind"].as_str().unwrap_or_default();
        json!({
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": self.resource},
            "subResource": "",
            "requestKind": {"group": "", "version": "v1", "kind": kind},
            "requestResource": {"group": "", "version": "v1", "resource": self.resource},
            "name": doc["metadata"]["name"],
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": {"username": self.username, "groups": [
                "system:serviceaccounts", "system:authenticated"]},
            "dryRun": false,
        })
    }
}

fn resource_of(doc: &Value) -> &'static str {
    match doc["kind"].as_str() {
        Some("Pod") => "pods",
        Some("ConfigMap") => "configmaps",
        other => panic!("no admission request for {other:?}"),
    }
}

/// Which validation of which policy refused a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Refusal {
    policy: String,
    /// The refusing validation's expression (or the match condition that failed to evaluate).
    rule: String,
    message: String,
}

/// The rendered ValidatingAdmissionPolicies and their bindings.
#[derive(Debug, Clone, Default)]
struct Policies {
    policies: Vec<Value>,
}

impl Policies {
    fn from_documents(docs: &[Value]) -> Policies {
        let bound: BTreeMap<&str, &Value> = docs
            .iter()
            .filter(|d| d["kind"] == "ValidatingAdmissionPolicyBinding")
            .map(|b| (b["spec"]["policyName"].as_str().unwrap(), b))
            .collect();
        let mut policies = Vec::new();
        for policy in docs
            .iter()
            .filter(|d| d["kind"] == "ValidatingAdmissionPolicy")
        {
            let name = policy["metadata"]["name"].as_str().unwrap();
            let binding = bound
                .get(name)
                .unwrap_or_else(|| panic!("policy {name} has no binding"));
            assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
            // Neither narrows what the policy matches: the harness would not model it.
            assert!(binding["spec"].get("matchResources").is_none());
            assert!(binding["spec"].get("paramRef").is_none());
            assert!(policy["spec"].get("paramKind").is_none());
            let constraints = &policy["spec"]["matchConstraints"];
            assert!(constraints.get("namespaceSelector").is_none());
            assert!(constraints.get("objectSelector").is_none());
            assert_eq!(policy["spec"]["failurePolicy"], "Fail");
            policies.push(policy.clone());
        }
        Policies { policies }
    }

    fn len(&self) -> usize {
        self.policies.len()
    }

    /// Every refusal of `req` (empty: admitted).
    fn evaluate(&self, req: &Request) -> Vec<Refusal> {
        let mut refusals = Vec::new();
        for policy in &self.policies {
            refusals.extend(evaluate_policy(policy, req));
        }
        refusals
    }
}

/// Each expression parsed once per test thread.
fn compile(expression: &str, what: &str) -> std::rc::Rc<Program> {
    thread_local! {
        static PROGRAMS: std::cell::RefCell<HashMap<String, std::rc::Rc<Program>>> =
            std::cell::RefCell::new(HashMap::new());
    }
    PROGRAMS.with(|programs| {
        programs
            .borrow_mut()
            .entry(expression.to_string())
            .or_insert_with(|| {
                std::rc::Rc::new(
                    Program::compile(expression)
                        .unwrap_or_else(|e| panic!("{what}: {e:?}\n{expression}")),
                )
            })
            .clone()
    })
}

fn rule_matches(rule: &Value, req: &Request) -> bool {
    let has = |field: &str, value: &str| {
        rule[field]
            .as_array()
            .is_some_and(|l| l.iter().any(|v| v == value || v == "*"))
    };
    has("apiGroups", "")
        && has("apiVersions", "v1")
        && has("operations", req.operation)
        && has("resources", req.resource)
}

fn evaluate_policy(policy: &Value, req: &Request) -> Vec<Refusal> {
    let name = policy["metadata"]["name"].as_str().unwrap().to_string();
    let spec = &policy["spec"];
    let rules = spec["matchConstraints"]["resourceRules"]
        .as_array()
        .unwrap();
    if !rules.iter().any(|r| rule_matches(r, req)) {
        return Vec::new();
    }
    let mut ctx = Context::default();
    ctx.add_variable_from_value("request", cel_value(&req.cel()));
    ctx.add_variable_from_value(
        "object",
        cel_value(req.object.as_ref().unwrap_or(&Value::Null)),
    );
    ctx.add_variable_from_value(
        "oldObject",
        cel_value(req.old_object.as_ref().unwrap_or(&Value::Null)),
    );
    ctx.add_variable_from_value("params", Cel::Null);
    let refuse = |rule: &str, message: String| Refusal {
        policy: name.clone(),
        rule: rule.to_string(),
        message,
    };
    for condition in spec["matchConditions"].as_array().into_iter().flatten() {
        let expression = condition["expression"].as_str().unwrap();
        match compile(expression, &name).execute(&ctx) {
            Ok(Cel::Bool(true)) => {}
            Ok(Cel::Bool(false)) => return Vec::new(),
            other => {
                return vec![refuse(
                    expression,
                    format!("match condition {expression}: {other:?}"),
                )];
            }
        }
    }
    let mut variables: HashMap<Key, Cel> = HashMap::new();
    let mut failed: Vec<String> = Vec::new();
    ctx.add_variable_from_value("variables", Cel::Map(variables.clone().into()));
    for variable in spec["variables"].as_array().into_iter().flatten() {
        let var = variable["name"].as_str().unwrap();
        let expression = variable["expression"].as_str().unwrap();
        match compile(expression, &name).execute(&ctx) {
            Ok(value) => {
                variables.insert(Key::String(var.to_string().into()), value);
            }
            Err(_) => failed.push(format!("variables.{var}")),
        }
        ctx.add_variable_from_value("variables", Cel::Map(variables.clone().into()));
    }
    let mut refusals = Vec::new();
    for validation in spec["validations"].as_array().unwrap() {
        let expression = validation["expression"].as_str().unwrap();
        let message = validation["message"].as_str().unwrap().to_string();
        if failed.iter().any(|v| expression.contains(v.as_str())) {
            refusals.push(refuse(
                expression,
                format!("{message} (a variable it uses failed)"),
            ));
            continue;
        }
        match compile(expression, &name).execute(&ctx) {
            Ok(Cel::Bool(true)) => {}
            Ok(Cel::Bool(false)) => refusals.push(refuse(expression, message)),
            other => refusals.push(refuse(
                expression,
                format!("{message} (evaluation: {other:?})"),
            )),
        }
    }
    refusals
}

/// The documents of a YAML stream.
fn documents(text: &str) -> Vec<Value> {
    sidescan_gen::documents(text).unwrap()
}

/// The spec a rendered stream's spec ConfigMap holds (what the orchestration Job reads).
fn spec_of(docs: &[Value]) -> Option<ScanSpec> {
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["data"].get(spec::SPEC_CONFIGMAP_KEY).is_some())?;
    let text = cm["data"][spec::SPEC_CONFIGMAP_KEY].as_str().unwrap();
    let tree = sidescan_gen::values::parse_values(text, "spec ConfigMap").unwrap();
    Some(sidescan_gen::values::spec_from_value(tree).unwrap())
}

/// The scan workflow's policies for `spec`, rendered for `kube`.
fn scan_policies(spec: &ScanSpec, inputs: &Inputs, kube: KubeVersion) -> Policies {
    let ctx = sidescan_gen::context::build(spec, inputs, kube).unwrap();
    let rendered = generator().render_kinds(Some(Kind::Rbac), &ctx).unwrap();
    Policies::from_documents(&documents(&sidescan_gen::to_stream(&rendered)))
}

fn orchestrator_user(spec: &ScanSpec) -> String {
    format!(
        "system:serviceaccount:{}:{}",
        spec.namespace,
        spec::object_name(&spec.target.name, "orchestrator")
    )
}

const KUBECTL_USER: &str = "kubernetes-admin";

/// Requests that must be admitted, with where they come from.
#[derive(Default)]
struct Admitted {
    checked: usize,
    pods: usize,
    config_maps: usize,
    failures: Vec<String>,
}

impl Admitted {
    fn expect(&mut self, policies: &Policies, req: &Request, what: &str) {
        assert!(policies.len() >= 2, "{what}: no policies to evaluate");
        self.checked += 1;
        if req.operation == "CREATE" {
            match req.resource {
                "pods" => self.pods += 1,
                _ => self.config_maps += 1,
            }
        }
        let refusals = policies.evaluate(req);
        if !refusals.is_empty() {
            self.failures.push(format!(
                "{what} ({} {} as {}): {refusals:#?}",
                req.operation, req.resource, req.username
            ));
        }
    }

    /// A scan pod the orchestrator creates and deletes.
    fn scan_pod(&mut self, policies: &Policies, spec: &ScanSpec, pod: &Value, what: &str) {
        let user = orchestrator_user(spec);
        self.expect(policies, &Request::create(&user, pod), what);
        self.expect(policies, &Request::delete(&user, pod), what);
    }
}

/// The rendered streams to check: every golden file and every committed example directory.
fn rendered_streams() -> Vec<(String, Vec<Value>)> {
    let mut out = Vec::new();
    let golden = repo().join("crates/gen/tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        out.push((file.display().to_string(), documents(&text)));
    }
    let examples = repo().join("manifests/examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut docs = Vec::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for file in names {
            docs.extend(documents(&std::fs::read_to_string(&file).unwrap()));
        }
        out.push((dir.display().to_string(), docs));
    }
    out
}

/// Example specs with the knobs that change what the policy admits.
fn plan_specs() -> Vec<(ScanSpec, Inputs, String)> {
    let cases: [(&str, &[&str]); 9] = [
        ("distroless-same-uid", &[]),
        ("distroless-same-uid", &["scanner.identify=api"]),
        (
            "distroless-same-uid",
            &[
                "security.mode=ptrace",
                "security.runAsUser=null",
                "security.runAsGroup=null",
            ],
        ),
        ("dev-cluster", &[]),
        ("dev-cluster", &["scanner.identify=api", "results=null"]),
        ("scheduled-remote-profile", &[]),
        ("private-store", &[]),
        (
            "private-store",
            &[
                "results.caBundle.configMap=null",
                "results.caBundle.secret=store-ca",
                "target.envFrom.0.secretRef.name=app-secrets",
                "target.volumes.0.name=tls",
                "target.volumes.0.secret.secretName=app-tls",
                "target.volumes.1.name=data",
                "target.volumes.1.persistentVolumeClaim.claimName=app-data",
                "target.volumes.2.name=certs",
                "target.volumes.2.projected.sources.0.secret.name=app-certs",
                "target.volumeMounts.0.name=tls",
                "target.volumeMounts.0.mountPath=/etc/tls",
                "target.volumeMounts.1.name=data",
                "target.volumeMounts.1.mountPath=/data",
                "target.volumeMounts.2.name=certs",
                "target.volumeMounts.2.mountPath=/etc/certs",
            ],
        ),
        (
            "private-store",
            &[
                "security.mode=ptrace",
                "security.runAsUser=null",
                "security.runAsGroup=null",
                "target.command.0=/bin/app",
                "target.args.0=--serve",
                "target.securityContext.capabilities.add.0=NET_BIND_SERVICE",
                "target.volumes.0.name=scratch",
                "target.volumes.0.csi.driver=inline.example.com",
                "target.volumeMounts.0.name=scratch",
                "target.volumeMounts.0.mountPath=/scratch",
            ],
        ),
    ];
    cases
        .iter()
        .map(|(name, sets)| {
            let path = repo().join(format!("examples/specs/{name}.yaml"));
            let text = std::fs::read_to_string(&path).unwrap();
            let mut tree = sidescan_gen::values::parse_values(&text, name).unwrap();
            for set in *sets {
                sidescan_gen::values::apply_set(&mut tree, set, false).unwrap();
            }
            let spec = sidescan_gen::values::spec_from_value(tree)
                .unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"));
            let inputs = sidescan_gen::inputs::load_inputs(&spec, path.parent().unwrap())
                .unwrap_or_else(|e| panic!("{name} {sets:?}: {e}"));
            (spec, inputs, format!("{name} {sets:?}"))
        })
        .collect()
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    let v = serde_json::to_value(value).unwrap();
    // The API server sees the object's kind; k8s-openapi serializes it.
    assert!(v.get("kind").is_some());
    v
}

fn plan_objects(spec: &ScanSpec, inputs: &Inputs, kube: KubeVersion, per_run: bool) -> plan::Plan {
    // `orchestrate` reads the resolved spec from its ConfigMap; `scan` the spec as given.
    let resolved = if per_run {
        spec.clone()
    } else {
        sidescan_gen::context::orchestration_spec(spec, inputs)
    };
    let owner = OwnerJob {
        name: format!("sidescan-{}-scan-29000000", spec.target.name),
        uid: "3f1c0a4e-uid".into(),
    };
    let pod_name = spec::scan_pod_name(&spec.target.name);
    let empty = Inputs::default();
    // As `prepare` binds every run: its folder and, for an S3 store, its presigned uploads.
    let location = sidescan_core::RunLocation::new(
        "",
        &spec.namespace,
        &spec.target.name,
        "2026-12-07T12:00:00Z".parse().unwrap(),
        sidescan_gen::context::run_id(&resolved),
    )
    .unwrap();
    let binding = bound(location, resolved.results.store_url.as_deref());
    plan::plan(
        generator(),
        PlanInput {
            spec: &resolved,
            inputs: if per_run { inputs } else { &empty },
            kube,
            pod_name: &pod_name,
            owner: (!per_run).then_some(&owner),
            per_run,
            archive: None,
            binding: Some(&binding),
        },
    )
    .unwrap()
}

/// The audit's policies for `spec`, rendered for `kube`.
fn audit_policies(spec: &sidescan_core::audit::AuditSpec, kube: KubeVersion) -> Policies {
    let ctx = sidescan_gen::audit::build(spec, &Inputs::default(), kube).unwrap();
    let docs = sidescan_gen::audit::render(generator(), sidescan_gen::audit::AuditKind::Job, &ctx)
        .unwrap();
    let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
    Policies::from_documents(&documents(&stream))
}

fn audit_user(spec: &sidescan_core::audit::AuditSpec) -> String {
    format!(
        "system:serviceaccount:{}:sidescan-{}",
        spec.namespace, spec.name
    )
}

/// The profile ConfigMap the audit runner copies beside a clone, owned by the clone (as
/// `audit::profile` builds it).
fn audit_profile_config_map(audit: &AuditId, namespace: &str) -> Value {
    let run = RunId::parse("abc123def456").unwrap();
    let owner: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "sidescan-web-abc123def456", "uid": "u-1"}
    }))
    .unwrap();
    let data =
        std::collections::BTreeMap::from([("inspec.yml".to_string(), "name: p\n".to_string())]);
    let mut cm = to_json(&crate::audit::profile::copy_config_map(
        audit, &run, &data, &owner,
    ));
    cm["apiVersion"] = json!("v1");
    cm["kind"] = json!("ConfigMap");
    cm["metadata"]["namespace"] = json!(namespace);
    cm
}

/// A run bound as `prepare` and the audit bind theirs: for an `s3://` store, presigned uploads of
/// the folder's two files (URLs made up: the policy never sees inside them).
fn bound(location: sidescan_core::RunLocation, store: Option<&str>) -> plan::RunBinding {
    let grant = store
        .filter(|u| u.starts_with("s3://"))
        .map(|store| sidescan_store::UploadGrant {
            store: store.to_string(),
            expires: "2026-12-07T13:00:00Z".into(),
            objects: ["hdf.json", "metadata.json"]
                .iter()
                .map(|f| {
                    let key = format!("scans/{}/{f}", location.folder());
                    let object = sidescan_store::ObjectGrant {
                        key: key.clone(),
                        content_type: "application/json".into(),
                        put: format!("https://s3.test/{key}?X-Amz-Signature=p"),
                        get: format!("https://s3.test/{key}?X-Amz-Signature=g"),
                    };
                    (f.to_string(), object)
                })
                .collect(),
        });
    plan::RunBinding {
        location,
        store_prefix: Some("scans".into()),
        grant,
    }
}

fn clone_of(spec: &sidescan_core::audit::AuditSpec, namespace: &str) -> Value {
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let run = RunId::parse("abc123def456").unwrap();
    let target = clone::tests::target();
    let location = sidescan_core::RunLocation::new(
        "",
        &target.namespace,
        &target.segment(),
        "2026-11-26T03:00:00Z".parse().unwrap(),
        run.clone(),
    )
    .unwrap();
    let binding = bound(location, spec.results.store_url.as_deref());
    let req = CloneRequest {
        spec,
        audit_id: &audit,
        run_id: &run,
        namespace,
        owner: None,
        profile: Some(ProfileMount {
            config_map: crate::audit::profile::copy_name(&audit, &run),
            files: vec!["inspec.yml".into()],
        }),
        seccomp_field: true,
        now: "2026-11-26T03:00:00Z".parse().unwrap(),
        binding: Some(&binding),
    };
    to_json(&clone::build(&target, &req).unwrap().pod)
}

#[test]
fn every_pod_and_config_map_sidescan_renders_or_creates_is_admitted() {
    let mut admitted = Admitted::default();
    let newest = KubeVersion::parse("1.33").unwrap();
    let oldest_with_policy = KubeVersion::parse("1.30").unwrap();

    // 1. The committed golden files and examples: the scan pod as the orchestrator creates it
    //    (or, with static credentials, as a user applies it), the ConfigMaps as a user applies
    //    them. Streams for releases before 1.30 carry no
    //    policy: the same spec's policy, rendered for 1.30, judges their pods.
    let mut streams = 0;
    for (source, docs) in rendered_streams() {
        let spec = spec_of(&docs).unwrap_or_else(|| panic!("{source}: no spec ConfigMap"));
        let mut policies = Policies::from_documents(&docs);
        if policies.len() == 0 {
            policies = scan_policies(&spec, &Inputs::default(), oldest_with_policy);
        } else {
            // The committed policy is the one the spec renders today.
            let fresh = scan_policies(&spec, &Inputs::default(), newest);
            assert!(
                fresh.policies == policies.policies,
                "{source}: the committed policies are not what the spec renders today"
            );
        }
        let pods: Vec<&Value> = docs.iter().filter(|d| d["kind"] == "Pod").collect();
        assert!(!pods.is_empty(), "{source}: no scan pod");
        for pod in pods {
            // A bare scan pod with static store credentials is the manual path: a user applies
            // it (the workflows bind their pods to presigned uploads instead, step 2).
            let manual = pod["spec"]["volumes"]
                .as_array()
                .is_some_and(|v| v.iter().any(|v| v["name"] == "store-credentials"));
            if manual {
                admitted.expect(&policies, &Request::create(KUBECTL_USER, pod), &source);
            } else {
                admitted.scan_pod(&policies, &spec, pod, &source);
            }
        }
        for cm in docs.iter().filter(|d| d["kind"] == "ConfigMap") {
            admitted.expect(&policies, &Request::create(KUBECTL_USER, cm), &source);
        }
        streams += 1;
    }
    assert!(streams >= 10, "{streams} golden files and examples");

    // 2. The orchestrator's plan: `orchestrate` (the Job's scan pod) and `scan` (its per-run
    //    ConfigMaps, and with the heuristic its pod; in api mode `scan` runs as the caller, whose
    //    kubeconfig these policies do not fence).
    for kube in [oldest_with_policy, newest] {
        for (spec, inputs, what) in plan_specs() {
            let policies = scan_policies(&spec, &inputs, kube);
            let user = orchestrator_user(&spec);
            let orchestrate = plan_objects(&spec, &inputs, kube, false);
            admitted.scan_pod(
                &policies,
                &spec,
                &to_json(&orchestrate.pod),
                &format!("orchestrate {what} {kube}"),
            );
            let scan = plan_objects(&spec, &inputs, kube, true);
            if spec.scanner.identify == spec::ScannerIdentify::Heuristic {
                admitted.scan_pod(
                    &policies,
                    &spec,
                    &to_json(&scan.pod),
                    &format!("scan {what} {kube}"),
                );
            }
            for cm in &scan.config_maps {
                let cm = to_json(cm);
                admitted.expect(&policies, &Request::create(&user, &cm), &what);
                admitted.expect(&policies, &Request::delete(&user, &cm), &what);
            }
        }
    }

    // 3. Audit clones of the clone tests' workload, for every spec variant the clone tests use,
    //    in the namespace each places it; and the profile ConfigMaps beside them.
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    for kube in [oldest_with_policy, newest] {
        for extra in clone::tests::spec_variants() {
            let spec = clone::tests::spec(extra.clone());
            let policies = audit_policies(&spec, kube);
            let user = audit_user(&spec);
            let namespace = spec.clone_namespace("shop").to_string();
            let pod = clone_of(&spec, &namespace);
            let what = format!("clone {extra} {kube}");
            admitted.expect(&policies, &Request::create(&user, &pod), &what);
            admitted.expect(&policies, &Request::delete(&user, &pod), &what);
            let cm = audit_profile_config_map(&audit, &namespace);
            admitted.expect(&policies, &Request::create(&user, &cm), &what);
            admitted.expect(&policies, &Request::delete(&user, &cm), &what);
        }
    }

    assert!(
        admitted.failures.is_empty(),
        "{} of {} requests refused:\n{}",
        admitted.failures.len(),
        admitted.checked,
        admitted.failures.join("\n")
    );
    eprintln!(
        "admitted: {} requests ({} pod and {} ConfigMap creations, and their deletions)",
        admitted.checked, admitted.pods, admitted.config_maps
    );
    assert!(admitted.pods >= 50, "{}", admitted.pods);
    assert!(admitted.config_maps >= 20, "{}", admitted.config_maps);
}

/// One request a holder of sidescan's token could send, and the rules that must refuse it.
struct Attack {
    what: &'static str,
    req: Request,
    /// Substrings of the messages of exactly the validations that must refuse it.
    refused_by: &'static [&'static str],
}

fn with(mut doc: Value, change: impl FnOnce(&mut Value)) -> Value {
    change(&mut doc);
    doc
}

fn container_mut<'a>(pod: &'a mut Value, name: &str) -> &'a mut Value {
    pod["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().unwrap().push(item);
}

fn mount(pod: &mut Value, container: &str, volume: Value, path: &str) {
    let name = volume["name"].clone();
    push(&mut pod["spec"]["volumes"], volume);
    push(
        &mut container_mut(pod, container)["volumeMounts"],
        json!({"name": name, "mountPath": path}),
    );
}

/// The attacks on the scan workflow's policies, from an admitted scan pod (`pod`) of `spec`.
fn scan_attacks(spec: &ScanSpec, pod: &Value) -> Vec<Attack> {
    let user = orchestrator_user(spec);
    let target = spec.target.container.clone();
    let scanner = spec.scanner.container.clone();
    let create = |doc: Value| Request::create(&user, &doc);
    let p = || pod.clone();
    let t = target.clone();
    let s = scanner.clone();
    let cm = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "sidescan-abc123def456-profile", "namespace": spec.namespace,
            "labels": labels::run_labels(&spec.target.name, &RunId::parse("abc123def456").unwrap(), Component::Profile)},
        "data": {"a": "b"},
    });
    vec![
        Attack {
            what: "another ServiceAccount",
            req: create(with(p(), |p| {
                p["spec"]["serviceAccountName"] = json!("ci-deployer")
            })),
            refused_by: &["runs as ServiceAccount"],
        },
        Attack {
            what: "the deprecated serviceAccount field",
            req: create(with(p(), |p| {
                p["spec"]["serviceAccount"] = json!("ci-deployer")
            })),
            refused_by: &["runs as ServiceAccount"],
        },
        Attack {
            what: "automount on",
            req: create(with(p(), |p| {
                p["spec"]["automountServiceAccountToken"] = json!(true)
            })),
            refused_by: &["automountServiceAccountToken: false"],
        },
        Attack {
            what: "automount left to the ServiceAccount",
            req: create(with(p(), |p| {
                p["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("automountServiceAccountToken");
            })),
            refused_by: &["automountServiceAccountToken: false"],
        },
        Attack {
            what: "a Secret volume",
            req: create(with(p(), |p| {
                mount(
                    p,
                    &t,
                    json!({"name": "loot", "secret": {"secretName": "db-admin"}}),
                    "/loot",
                )
            })),
            refused_by: &["mounts no Secret", "mounts only the Secrets"],
        },
        Attack {
            what: "a Secret in a projected volume",
            req: create(with(p(), |p| {
                mount(
                    p,
                    &t,
                    json!({"name": "loot", "projected": {"sources": [
                    {"secret": {"name": "db-admin"}}]}}),
                    "/loot",
                )
            })),
            refused_by: &["mounts no Secret", "mounts only the Secrets"],
        },
        Attack {
            what: "a hostPath volume",
            req: create(with(p(), |p| {
                mount(
                    p,
                    &t,
                    json!({"name": "host", "hostPath": {"path": "/"}}),
                    "/host",
                )
            })),
            refused_by: &["no hostPath"],
        },
        Attack {
            what: "a PersistentVolumeClaim",
            req: create(with(p(), |p| {
                mount(
                    p,
                    &t,
                    json!({"name": "db", "persistentVolumeClaim": {"claimName": "postgres-data"}}),
                    "/db",
                )
            })),
            refused_by: &["PersistentVolumeClaim"],
        },
        Attack {
            what: "a projected ServiceAccount token",
            req: create(with(p(), |p| {
                mount(
                    p,
                    &t,
                    json!({"name": "kube-api-access", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}),
                    "/var/run/secrets/kubernetes.io/serviceaccount",
                )
            })),
            refused_by: &["ServiceAccount token"],
        },
        Attack {
            what: "an NFS volume",
            req: create(with(p(), |p| {
                mount(
                    p,
                    &t,
                    json!({"name": "nfs", "nfs": {"server": "10.0.0.9", "path": "/"}}),
                    "/nfs",
                )
            })),
            refused_by: &["emptyDir, configMap, downwardAPI"],
        },
        Attack {
            what: "another scanner image",
            req: create(with(p(), |p| {
                container_mut(p, &s)["image"] = json!("busybox:1.36")
            })),
            refused_by: &["the scanner image is pinned"],
        },
        Attack {
            what: "the scanner image with another command",
            req: create(with(p(), |p| {
                container_mut(p, &s)["command"] = json!(["/bin/sh", "-c", "cat /proc/1/environ"])
            })),
            refused_by: &["the scanner image is pinned"],
        },
        Attack {
            what: "another target image",
            req: create(with(p(), |p| {
                container_mut(p, &t)["image"] = json!("busybox:1.36")
            })),
            refused_by: &["with the spec's command and args"],
        },
        Attack {
            what: "the target with another command",
            req: create(with(p(), |p| {
                container_mut(p, &t)["command"] = json!(["/bin/sh", "-c", "env"])
            })),
            refused_by: &["with the spec's command and args"],
        },
        Attack {
            what: "a third container",
            req: create(with(p(), |p| {
                push(
                    &mut p["spec"]["containers"],
                    json!({"name": "miner", "image": "xmrig"}),
                )
            })),
            refused_by: &["has two containers"],
        },
        Attack {
            what: "an init container",
            req: create(with(p(), |p| {
                push(
                    &mut p["spec"]["initContainers"],
                    json!({"name": "x", "image": "busybox"}),
                )
            })),
            refused_by: &["has two containers"],
        },
        Attack {
            what: "no sidescan labels",
            req: create(with(p(), |p| {
                let l = p["metadata"]["labels"].as_object_mut().unwrap();
                l.remove(labels::APP_MANAGED_BY);
                l.remove(labels::APP_PART_OF);
            })),
            refused_by: &["labelled app.kubernetes.io/managed-by=sidescan"],
        },
        Attack {
            what: "no labels at all",
            req: create(with(p(), |p| {
                p["metadata"].as_object_mut().unwrap().remove("labels");
            })),
            refused_by: &[
                "labelled app.kubernetes.io/managed-by=sidescan",
                "carry app.kubernetes.io/component",
            ],
        },
        Attack {
            what: "another target's labels",
            req: create(with(p(), |p| {
                p["metadata"]["labels"][labels::TARGET] = json!("payments")
            })),
            refused_by: &["carry app.kubernetes.io/component"],
        },
        Attack {
            what: "another pod name",
            req: create(with(p(), |p| {
                p["metadata"]["name"] = json!("payments-debug")
            })),
            refused_by: &["the scan pod is named"],
        },
        Attack {
            what: "a kube-system target",
            req: Request {
                namespace: "kube-system".into(),
                ..create(with(p(), |p| {
                    p["metadata"]["namespace"] = json!("kube-system")
                }))
            },
            refused_by: &["only in namespace"],
        },
        Attack {
            what: "hostPID",
            req: create(with(p(), |p| p["spec"]["hostPID"] = json!(true))),
            refused_by: &["uses no hostPID"],
        },
        Attack {
            what: "hostNetwork",
            req: create(with(p(), |p| p["spec"]["hostNetwork"] = json!(true))),
            refused_by: &["uses no hostPID"],
        },
        Attack {
            what: "a privileged container",
            req: create(with(p(), |p| {
                container_mut(p, &t)["securityContext"]["privileged"] = json!(true)
            })),
            refused_by: &["is privileged"],
        },
        Attack {
            what: "SYS_ADMIN",
            req: create(with(p(), |p| {
                container_mut(p, &t)["securityContext"]["capabilities"]["add"] =
                    json!(["SYS_ADMIN"])
            })),
            refused_by: &["capabilities Pod Security baseline allows"],
        },
        Attack {
            what: "a Secret in the target's environment",
            req: create(with(p(), |p| {
                push(
                    &mut container_mut(p, &t)["env"],
                    json!({"name": "PW", "valueFrom": {
                    "secretKeyRef": {"name": "db-admin", "key": "password"}}}),
                )
            })),
            refused_by: &["reads a Secret", "Secrets reach the environment"],
        },
        Attack {
            what: "a whole Secret as the target's environment",
            req: create(with(p(), |p| {
                push(
                    &mut container_mut(p, &t)["envFrom"],
                    json!({"secretRef": {"name": "db-admin"}}),
                )
            })),
            refused_by: &["reads a Secret", "Secrets reach the environment"],
        },
        Attack {
            what: "deleting an unlabelled pod",
            req: Request::delete(
                &user,
                &json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod["metadata"]["name"], "namespace": spec.namespace},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]}}),
            ),
            refused_by: &[
                "labelled app.kubernetes.io/managed-by=sidescan",
                "carry app.kubernetes.io/component",
            ],
        },
        Attack {
            what: "deleting another sidescan target's scan pod",
            req: Request::delete(
                &user,
                &with(p(), |p| {
                    p["metadata"]["labels"][labels::TARGET] = json!("payments")
                }),
            ),
            refused_by: &["carry app.kubernetes.io/component"],
        },
        Attack {
            what: "a ConfigMap not named after its run",
            req: create(with(cm.clone(), |c| {
                c["metadata"]["name"] = json!("kube-proxy")
            })),
            refused_by: &["is named sidescan-<sidescan.io/run-id>-*"],
        },
        Attack {
            what: "an unlabelled ConfigMap",
            req: create(with(cm.clone(), |c| {
                let l = c["metadata"]["labels"].as_object_mut().unwrap();
                l.remove(labels::APP_MANAGED_BY);
            })),
            refused_by: &["only ConfigMaps labelled"],
        },
        Attack {
            what: "a ConfigMap of another component",
            req: create(with(cm.clone(), |c| {
                c["metadata"]["labels"][labels::APP_COMPONENT] = json!("spec")
            })),
            refused_by: &["ConfigMaps sidescan creates and deletes carry"],
        },
        Attack {
            what: "a ConfigMap in kube-system",
            req: Request {
                namespace: "kube-system".into(),
                ..create(with(cm.clone(), |c| {
                    c["metadata"]["namespace"] = json!("kube-system")
                }))
            },
            refused_by: &["ConfigMaps only in namespace"],
        },
        Attack {
            what: "deleting an unlabelled ConfigMap",
            req: Request::delete(
                &user,
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "sidescan-abc123def456-profile", "namespace": spec.namespace}}),
            ),
            refused_by: &[
                "only ConfigMaps labelled",
                "ConfigMaps sidescan creates and deletes carry",
                "is named sidescan-",
            ],
        },
    ]
}

/// The scanner's projected token source in an api-mode scan pod.
fn token_source(p: &mut Value) -> &mut Value {
    let volumes = p["spec"]["volumes"].as_array_mut().unwrap();
    let v = volumes
        .iter_mut()
        .find(|v| v["name"] == "api-token")
        .unwrap();
    &mut v["projected"]["sources"][0]["serviceAccountToken"]
}

/// Attacks that only the `scanner.identify: api` policy has a rule for: its token.
fn api_token_attacks(spec: &ScanSpec, pod: &Value) -> Vec<Attack> {
    let user = orchestrator_user(spec);
    let target = spec.target.container.clone();
    vec![
        Attack {
            what: "a long-lived scanner token",
            req: Request::create(
                &user,
                &with(pod.clone(), |p| {
                    token_source(p)["expirationSeconds"] = json!(86400)
                }),
            ),
            refused_by: &["the only ServiceAccount token is the scanner's"],
        },
        Attack {
            what: "a scanner token for another audience",
            req: Request::create(
                &user,
                &with(pod.clone(), |p| {
                    token_source(p)["audience"] = json!("vault")
                }),
            ),
            refused_by: &["the only ServiceAccount token is the scanner's"],
        },
        Attack {
            what: "the scanner's token in the target",
            req: Request::create(
                &user,
                &with(pod.clone(), |p| {
                    push(
                        &mut container_mut(p, &target)["volumeMounts"],
                        json!({"name": "api-token",
                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}),
                    )
                }),
            ),
            refused_by: &["the only ServiceAccount token is the scanner's"],
        },
    ]
}

/// The attacks on the audit's policies, from an admitted clone.
fn clone_attacks(spec: &sidescan_core::audit::AuditSpec, pod: &Value) -> Vec<Attack> {
    let hold = spec.target.run == sidescan_core::audit::RunMode::Hold;
    let user = audit_user(spec);
    let ns = pod["metadata"]["namespace"].as_str().unwrap().to_string();
    let create = |doc: Value| Request::create(&user, &doc);
    let p = || pod.clone();
    let s = spec.scanner.container.clone();
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let cm = audit_profile_config_map(&audit, &ns);
    let mut attacks = vec![
        Attack {
            what: "a clone with the workload's Secret volume",
            req: create(with(p(), |p| {
                mount(
                    p,
                    "app",
                    json!({"name": "creds", "secret": {"secretName": "web-creds"}}),
                    "/etc/creds",
                )
            })),
            refused_by: &["mounts no Secret"],
        },
        Attack {
            what: "a clone reading a Secret into the target's environment",
            req: create(with(p(), |p| {
                push(
                    &mut container_mut(p, "app")["env"],
                    json!({"name": "DB_PASSWORD",
                    "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}),
                )
            })),
            refused_by: &["reads a Secret", "Secrets reach the environment"],
        },
        Attack {
            what: "the store credentials in the target",
            req: create(with(p(), |p| {
                push(
                    &mut container_mut(p, "app")["env"],
                    json!({"name": "K",
                    "valueFrom": {"secretKeyRef": {"name": "store", "key": "AWS_SECRET_ACCESS_KEY"}}}),
                )
            })),
            refused_by: &["reads a Secret", "Secrets reach the environment"],
        },
        Attack {
            what: "a clone with envFrom a Secret",
            req: create(with(p(), |p| {
                push(
                    &mut container_mut(p, "app")["envFrom"],
                    json!({"secretRef": {"name": "web-secrets"}}),
                )
            })),
            refused_by: &["reads a Secret", "Secrets reach the environment"],
        },
        Attack {
            what: "a clone as the workload's ServiceAccount",
            req: create(with(p(), |p| {
                p["spec"]["serviceAccountName"] = json!("web")
            })),
            refused_by: &["runs as ServiceAccount default"],
        },
        Attack {
            what: "a clone with the token automounted",
            req: create(with(p(), |p| {
                p["spec"]
                    .as_object_mut()
                    .unwrap()
                    .remove("automountServiceAccountToken");
            })),
            refused_by: &["automountServiceAccountToken: false"],
        },
        Attack {
            what: "a clone with a projected token",
            req: create(with(p(), |p| {
                mount(
                    p,
                    "app",
                    json!({"name": "vault", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "audience": "vault"}}]}}),
                    "/var/run/tokens",
                )
            })),
            refused_by: &["mounts no ServiceAccount token"],
        },
        Attack {
            what: "a clone with a hostPath",
            req: create(with(p(), |p| {
                mount(
                    p,
                    "app",
                    json!({"name": "host", "hostPath": {"path": "/var/lib/kubelet"}}),
                    "/host",
                )
            })),
            refused_by: &["no hostPath"],
        },
        Attack {
            what: "a clone with the workload's PVC",
            req: create(with(p(), |p| {
                mount(
                    p,
                    "app",
                    json!({"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}),
                    "/data",
                )
            })),
            refused_by: &["no PersistentVolumeClaim"],
        },
        Attack {
            what: "a clone with another scanner image",
            req: create(with(p(), |p| {
                container_mut(p, &s)["image"] = json!("evil/scanner:1")
            })),
            refused_by: &["the scanner image is pinned"],
        },
        Attack {
            what: "an init container running the workload's migration",
            req: create(with(p(), |p| {
                push(
                    &mut p["spec"]["initContainers"],
                    json!({"name": "migrate", "image": "web:1"}),
                )
            })),
            refused_by: &["has two containers"],
        },
        Attack {
            what: "a third container",
            req: create(with(p(), |p| {
                push(
                    &mut p["spec"]["containers"],
                    json!({"name": "miner", "image": "xmrig"}),
                )
            })),
            refused_by: &["has two containers"],
        },
        Attack {
            what: "a clone with an NFS volume",
            req: create(with(p(), |p| {
                mount(
                    p,
                    "app",
                    json!({"name": "nfs", "nfs": {"server": "10.0.0.9", "path": "/"}}),
                    "/nfs",
                )
            })),
            refused_by: &["emptyDir, configMap, downwardAPI"],
        },
        Attack {
            what: "a clone without sidescan's labels",
            req: create(with(p(), |p| {
                let l = p["metadata"]["labels"].as_object_mut().unwrap();
                l.remove(labels::APP_MANAGED_BY);
                l.remove(labels::APP_PART_OF);
            })),
            refused_by: &["labelled app.kubernetes.io/managed-by=sidescan"],
        },
        Attack {
            what: "a privileged clone",
            req: create(with(p(), |p| {
                container_mut(p, "app")["securityContext"]["privileged"] = json!(true)
            })),
            refused_by: &["is privileged"],
        },
        Attack {
            what: "a clone adding NET_ADMIN",
            req: create(with(p(), |p| {
                container_mut(p, "app")["securityContext"]["capabilities"] =
                    json!({"add": ["NET_ADMIN"]})
            })),
            refused_by: &["capabilities Pod Security baseline allows"],
        },
        Attack {
            what: "a clone with hostPID",
            req: create(with(p(), |p| p["spec"]["hostPID"] = json!(true))),
            refused_by: &["uses no hostPID"],
        },
        Attack {
            what: "a clone in kube-system",
            req: Request {
                namespace: "kube-system".into(),
                ..create(with(p(), |p| {
                    p["metadata"]["namespace"] = json!("kube-system")
                }))
            },
            refused_by: &["kube-system", "only in namespace"],
        },
        Attack {
            what: "a pod without the clone labels",
            req: create(with(p(), |p| {
                p["metadata"]["labels"]
                    .as_object_mut()
                    .unwrap()
                    .remove(labels::AUDIT_ID);
            })),
            refused_by: &["carry app.kubernetes.io/component=audit-clone"],
        },
        Attack {
            what: "deleting the audit Job's own pod",
            req: Request::delete(
                &user,
                &with(p(), |p| {
                    p["metadata"]["labels"][labels::APP_COMPONENT] = json!("audit")
                }),
            ),
            refused_by: &["carry app.kubernetes.io/component=audit-clone"],
        },
        Attack {
            what: "deleting a workload's pod",
            req: Request::delete(
                &user,
                &json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-7d9f-abcde", "namespace": ns,
                    "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "web:1"}]}}),
            ),
            refused_by: &[
                "labelled app.kubernetes.io/managed-by=sidescan",
                "carry app.kubernetes.io/component=audit-clone",
            ],
        },
        Attack {
            what: "a ConfigMap not named after its audit",
            req: create(with(cm.clone(), |c| {
                c["metadata"]["name"] = json!("coredns")
            })),
            refused_by: &["is named sidescan-<sidescan.io/audit-id>-*"],
        },
        Attack {
            what: "deleting a workload's ConfigMap",
            req: Request::delete(
                &user,
                &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "web-config", "namespace": ns}}),
            ),
            refused_by: &[
                "only ConfigMaps labelled",
                "ConfigMaps sidescan creates and deletes carry",
                "is named sidescan-",
            ],
        },
        Attack {
            what: "an unlabelled ConfigMap",
            req: create(with(cm.clone(), |c| {
                c["metadata"]["labels"]
                    .as_object_mut()
                    .unwrap()
                    .remove(labels::APP_PART_OF);
            })),
            refused_by: &["only ConfigMaps labelled"],
        },
        Attack {
            what: "a ConfigMap of another component",
            req: create(with(cm.clone(), |c| {
                c["metadata"]["labels"][labels::APP_COMPONENT] = json!("audit")
            })),
            refused_by: &["ConfigMaps sidescan creates and deletes carry"],
        },
        Attack {
            what: "a ConfigMap in kube-system",
            req: Request {
                namespace: "kube-system".into(),
                ..create(with(cm.clone(), |c| {
                    c["metadata"]["namespace"] = json!("kube-system")
                }))
            },
            refused_by: &["kube-system", "only in namespace"],
        },
    ];
    if hold {
        attacks.push(Attack {
            what: "a hold installer running something else",
            req: create(with(p(), |p| {
                p["spec"]["initContainers"][0]["args"] = json!(["sh", "-c", "id"])
            })),
            refused_by: &["the scanner image is pinned"],
        });
    }
    attacks
}

/// Checks each attack is refused by exactly the rules it names, and returns which rules of
/// which policy refused an attack alone.
fn check_attacks(
    policies: &Policies,
    attacks: Vec<Attack>,
    alone: &mut BTreeSet<(String, String)>,
    refused: &mut usize,
) -> Vec<String> {
    let mut problems = Vec::new();
    for attack in attacks {
        let refusals = policies.evaluate(&attack.req);
        if refusals.is_empty() {
            problems.push(format!("ADMITTED: {}", attack.what));
            continue;
        }
        *refused += 1;
        let unexpected: Vec<&Refusal> = refusals
            .iter()
            .filter(|r| !attack.refused_by.iter().any(|m| r.message.contains(m)))
            .collect();
        if !unexpected.is_empty() {
            problems.push(format!(
                "{}: refused by rules it was not meant for: {unexpected:#?}",
                attack.what
            ));
        }
        if let [only] = refusals.as_slice() {
            alone.insert((only.policy.clone(), only.rule.clone()));
        }
    }
    problems
}

#[test]
fn what_a_token_holder_would_create_instead_is_refused_each_by_its_rule() {
    let kube = KubeVersion::parse("1.33").unwrap();
    let mut problems = Vec::new();
    let mut alone = BTreeSet::new();
    let mut every_rule = BTreeSet::new();
    let mut refused = 0;
    let mut attacks = 0;
    let mut note = |policies: &Policies| {
        for p in &policies.policies {
            let name = p["metadata"]["name"].as_str().unwrap().to_string();
            for v in p["spec"]["validations"].as_array().unwrap() {
                every_rule.insert((name.clone(), v["expression"].as_str().unwrap().to_string()));
            }
        }
    };

    for (spec, inputs, what) in plan_specs() {
        let policies = scan_policies(&spec, &inputs, kube);
        note(&policies);
        let pod = to_json(&plan_objects(&spec, &inputs, kube, false).pod);
        assert!(
            policies
                .evaluate(&Request::create(&orchestrator_user(&spec), &pod))
                .is_empty(),
            "{what}"
        );
        let mut list = scan_attacks(&spec, &pod);
        if spec.cluster.host_network {
            list.retain(|a| a.what != "hostNetwork");
        }
        if spec.scanner.identify == spec::ScannerIdentify::Api {
            list.retain(|a| a.what != "a projected ServiceAccount token");
            list.extend(api_token_attacks(&spec, &pod));
        }
        attacks += list.len();
        for p in check_attacks(&policies, list, &mut alone, &mut refused) {
            problems.push(format!("{what}: {p}"));
        }
        // Another user's request is not the policies' business.
        let other = Request::create(
            KUBECTL_USER,
            &with(pod.clone(), |p| p["spec"]["hostPID"] = json!(true)),
        );
        assert!(policies.evaluate(&other).is_empty());
    }
    for extra in clone::tests::spec_variants() {
        let spec = clone::tests::spec(extra.clone());
        let policies = audit_policies(&spec, kube);
        note(&policies);
        let pod = clone_of(&spec, spec.clone_namespace("shop"));
        let list = clone_attacks(&spec, &pod);
        attacks += list.len();
        for p in check_attacks(&policies, list, &mut alone, &mut refused) {
            problems.push(format!("clone {extra}: {p}"));
        }
    }
    // Where the audit may place clones: the scan namespace only, or named ones.
    let scan_ns = clone::tests::spec(json!({}));
    let policies = audit_policies(&scan_ns, kube);
    let pod = clone_of(&scan_ns, "sidescan");
    let elsewhere = Request {
        namespace: "shop".into(),
        ..Request::create(
            &audit_user(&scan_ns),
            &with(pod, |p| p["metadata"]["namespace"] = json!("shop")),
        )
    };
    assert!(
        !policies.evaluate(&elsewhere).is_empty(),
        "a clone outside the scan namespace"
    );

    let uncovered: Vec<&(String, String)> = every_rule.difference(&alone).collect();
    assert!(
        problems.is_empty() && uncovered.is_empty(),
        "{}\nrules no attack isolates (each needs an attack only it refuses): {uncovered:#?}",
        problems.join("\n")
    );
    eprintln!(
        "refused: {refused} of {attacks} attacks; {} rules, each the only one refusing at least one",
        every_rule.len()
    );
    assert_eq!(refused, attacks);
}

#[test]
fn the_expressions_use_only_what_the_api_server_declares() {
    // Kubernetes escapes object fields named like CEL reserved words (`namespace` becomes
    // `__namespace__`), so `object.metadata.namespace` would not compile there: the policies
    // use `request.namespace`. Every expression compiles, and names only the variables the API
    // server declares.
    let kube = KubeVersion::parse("1.33").unwrap();
    let mut all = Vec::new();
    for (spec, inputs, _) in plan_specs() {
        all.extend(scan_policies(&spec, &inputs, kube).policies);
    }
    for extra in clone::tests::spec_variants() {
        all.extend(audit_policies(&clone::tests::spec(extra), kube).policies);
    }
    let declared = ["request", "object", "oldObject", "variables", "params"];
    for policy in &all {
        let spec = &policy["spec"];
        let expressions = ["matchConditions", "variables", "validations"]
            .iter()
            .flat_map(|k| spec[*k].as_array().cloned().unwrap_or_default())
            .map(|e| e["expression"].as_str().unwrap().to_string());
        for expression in expressions {
            compile(&expression, "policy");
            let stripped = expression.replace("request.namespace", "");
            assert!(!stripped.contains(".namespace"), "{expression}");
            let program = Program::compile(&expression).unwrap();
            for var in program.references().variables() {
                assert!(
                    declared.contains(&var) || var.len() == 1 || var == "cap",
                    "{var} in {expression}"
                );
            }
        }
    }
}
