//! The pure step: spec + file contents + target version -> the data every template renders.
//! All decisions (names, labels, arguments, version gates, security settings) are made here, so
//! templates only lay out fields.

use crate::inputs::{CONFIGMAP_LIMIT, Inputs, profile_key};
use crate::pss::{self, Level};
use crate::{GenError, KubeVersion};
use k8s_openapi::api::core::v1 as core;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sidescan_core::RunId;
use sidescan_core::labels::{self, Component};
use sidescan_core::scanner::AgentInvocation;
use sidescan_core::spec::{
    self, API_TOKEN_MOUNT_PATH, CA_BUNDLE_MOUNT_PATH, PROFILE_INPUTS_MOUNT_PATH,
    PROFILE_MOUNT_PATH, ProfileConfigMap, SPEC_CONFIGMAP_KEY, SPEC_MOUNT_PATH, ScanBackend,
    ScanSpec, SecurityMode, THRESHOLDS_KEY, THRESHOLDS_MOUNT_PATH,
};
use std::collections::BTreeMap;

/// UID the orchestrator runs as (the distroless `nonroot` user).
pub const ORCHESTRATOR_UID: i64 = 65532;
/// The scan pod's grace period: scan pods are disposable, so a target that ignores SIGTERM is
/// killed at once instead of holding up cleanup (the kubelet rounds it up to its 2 s minimum).
pub const SCAN_POD_GRACE_SECONDS: i64 = 1;
/// Time the orchestrator's pod gets, beyond its cleanup deadline, between SIGTERM and SIGKILL.
pub const ORCHESTRATOR_GRACE_MARGIN_SECONDS: i64 = 15;
/// Names of the orchestrator's and scanner's RBAC objects: `sidescan-<target>-<kind>`.
pub const ORCHESTRATOR_KIND: &str = "orchestrator";
pub const SCANNER_KIND: &str = "scanner";
/// The env var the agent and orchestrator read the store's CA bundle path from.
pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";
/// The ServiceAccount a scan pod runs as when the scanner identifies without the API.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// Lifetime of the scanner's projected token (`scanner.identify: api`): the agent reads its pod
/// once, early.
pub const API_TOKEN_EXPIRATION_SECONDS: i64 = 600;
/// The scan pod's volume that carries the scanner's API token (`scanner.identify: api`).
pub const API_TOKEN_VOLUME: &str = "api-token";

#[derive(Debug, Clone, Serialize)]
pub struct RenderContext {
    pub namespace: String,
    pub spec_mount_path: &'static str,
    pub thresholds_mount_path: &'static str,
    pub api_token_mount_path: &'static str,
    pub kube: KubeGates,
    pub pod: PodContext,
    pub rbac: RbacContext,
    // Rendered on their own (configmap template): kept out of the shared template data.
    #[serde(skip)]
    pub profile: Option<ConfigMapContext>,
    #[serde(skip)]
    pub profile_inputs: Option<ConfigMapContext>,
    #[serde(skip)]
    pub thresholds: Option<ConfigMapContext>,
    pub spec_config_map: ConfigMapContext,
    pub job: JobContext,
    pub network_policy: Option<NetworkPolicyContext>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KubeGates {
    pub version: String,
    pub cronjob_api_version: &'static str,
    pub ttl_after_finished: bool,
    pub seccomp_field: bool,
    pub cronjob_time_zone: bool,
    pub bound_token: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PodContext {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The namespace's `default` ServiceAccount, or with `scanner.identify: api` the scanner's.
    pub service_account: String,
    /// `scanner.identify: api` before bound token volumes (1.22): the legacy automounted token.
    pub automount_token: bool,
    /// `scanner.identify: api` from 1.22: a short-lived projected token in the scanner only.
    pub api_token: bool,
    pub api_token_expiration_seconds: i64,
    pub host_network: bool,
    pub priority_class_name: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Value,
    pub affinity: Option<Value>,
    pub image_pull_secrets: Vec<Value>,
    pub target: TargetContainer,
    pub scanner: ScannerContainer,
    pub results_size_limit: String,
    /// The sum of the orchestrator's phase deadlines: the pod stops by itself after that.
    pub active_deadline_seconds: i64,
    pub termination_grace_period_seconds: i64,
    pub profile_volume: Option<ConfigMapVolume>,
    pub thresholds_volume: Option<ConfigMapVolume>,
    pub inputs_volume: Option<ConfigMapVolume>,
    pub ca_bundle_volume: Option<Value>,
    /// The target's own volumes, as the spec gives them.
    pub volumes: Vec<Value>,
    /// The CA bundle's volume and the target's, rendered after sidescan's fixed ones.
    pub extra_volumes: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetContainer {
    pub name: String,
    pub image: String,
    pub pull_policy: &'static str,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<Value>,
    pub env_from: Vec<Value>,
    pub volume_mounts: Vec<Value>,
    pub security_context: Option<Value>,
    pub resources: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScannerContainer {
    pub name: String,
    pub image: String,
    pub pull_policy: &'static str,
    /// What `args` renders: kept so a workflow can bind the pod to its run.
    #[serde(skip)]
    pub invocation: AgentInvocation,
    pub args: Vec<String>,
    pub env: Vec<Value>,
    pub credentials: Option<Credentials>,
    pub resources: Value,
    pub results_dir: String,
    pub mode: &'static str,
    pub security_context: Value,
}

impl ScannerContainer {
    /// Binds the scanner to one run of a workflow that holds the store's credentials: the run's
    /// folder, and its presigned uploads (`grant`, JSON) in place of any credentials.
    pub fn bind_run(&mut self, run_folder: &str, grant: Option<String>) {
        self.invocation.run_folder = Some(run_folder.to_string());
        if let Some(grant) = grant {
            self.invocation.store_credentials = None;
            self.credentials = None;
            self.env
                .push(env_value(sidescan_core::scanner::env::UPLOAD_URLS, &grant));
        }
        self.args = self.invocation.args();
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub secret: String,
    pub access_key_id_key: String,
    pub secret_access_key_key: String,
    /// Where the scanner mounts them as files (the orchestration Jobs read the environment).
    pub mount_path: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigMapVolume {
    pub config_map: String,
    pub mount_path: &'static str,
    pub items: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RbacContext {
    pub labels_orchestrator: BTreeMap<String, String>,
    pub labels_scanner: BTreeMap<String, String>,
    /// Annotations of the Roles and RoleBindings.
    pub annotations: BTreeMap<String, String>,
    /// Annotations of the ServiceAccounts (with `serviceAccount.annotations`).
    pub service_account_annotations: BTreeMap<String, String>,
    pub orchestrator: String,
    pub scanner: String,
    /// The scanner's ServiceAccount, Role and RoleBinding: only with `scanner.identify: api`.
    pub scanner_rbac: bool,
    /// The ValidatingAdmissionPolicies fencing what the ServiceAccounts may create and delete.
    pub admission: crate::admission::Admission,
    /// The profile ConfigMap the orchestrator checks before deploying (profile.dir/configMap).
    pub profile_config_map: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigMapContext {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub data: BTreeMap<String, String>,
    pub binary_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobContext {
    pub name: String,
    pub cronjob_name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// The pod template's annotations (the seccomp annotation before 1.19 included).
    pub template_annotations: BTreeMap<String, String>,
    pub service_account: String,
    pub host_network: bool,
    pub priority_class_name: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Value,
    pub affinity: Option<Value>,
    #[serde(flatten)]
    pub runner: RunnerJob,
    /// Room for the cleanup phase after SIGTERM (Job deleted or past its deadline).
    pub termination_grace_period_seconds: i64,
    /// The CA bundle's volume, when there is one (a list of at most one).
    pub ca_bundle_volumes: Vec<Value>,
    pub ca_bundle_mount_path: &'static str,
    #[serde(flatten)]
    pub schedule: CronJobSchedule,
}

/// The `sidescan-runner` container and the Job's limits, as the orchestration and audit Job
/// templates lay them out.
#[derive(Debug, Clone, Serialize)]
pub struct RunnerJob {
    pub image: String,
    pub pull_policy: &'static str,
    pub args: Vec<String>,
    pub env: Vec<Value>,
    pub credentials: Option<Credentials>,
    pub resources: Value,
    pub run_as_user: i64,
    pub image_pull_secrets: Vec<Value>,
    pub active_deadline_seconds: i64,
    pub backoff_limit: i32,
    pub ttl_seconds_after_finished: i32,
    pub thresholds_config_map: Option<String>,
}

/// The CronJob's schedule fields, as the scan's and the audit's CronJob templates lay them out.
#[derive(Debug, Clone, Serialize)]
pub struct CronJobSchedule {
    pub schedule: String,
    pub time_zone: Option<String>,
    pub successful_jobs_history_limit: i32,
    pub failed_jobs_history_limit: i32,
    pub starting_deadline_seconds: i64,
    pub suspend: bool,
}

impl CronJobSchedule {
    /// The spec's schedule, refused where the target Kubernetes has no CronJob time zones.
    pub(crate) fn new(schedule: &spec::Schedule, kube: KubeVersion) -> Result<Self, GenError> {
        if schedule.time_zone.is_some() && !kube.has_cronjob_time_zone() {
            return Err(GenError::Unsupported {
                field: "schedule.timeZone".into(),
                reason: format!(
                    "CronJob time zones need Kubernetes 1.25 or newer (rendering for {kube})"
                ),
            });
        }
        Ok(CronJobSchedule {
            schedule: schedule.cron.clone(),
            time_zone: schedule.time_zone.clone(),
            successful_jobs_history_limit: schedule.successful_jobs_history_limit,
            failed_jobs_history_limit: schedule.failed_jobs_history_limit,
            starting_deadline_seconds: schedule.starting_deadline_seconds,
            suspend: schedule.suspend,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NetworkPolicyContext {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub pod_selector: BTreeMap<String, String>,
    pub egress: Vec<Value>,
}

/// The run id: the spec's, or one derived from the spec's content (same spec, same manifests).
pub fn run_id(spec: &ScanSpec) -> RunId {
    if let Some(id) = &spec.run_id {
        return id.clone();
    }
    let canonical = serde_json::to_vec(spec).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    RunId::from_entropy(bytes)
}

/// The user's labels under sidescan's own (validation keeps the keys apart).
fn with_user_labels(
    spec: &ScanSpec,
    mut labels: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    for (k, v) in &spec.metadata.labels {
        labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    labels
}

/// Labels of long-lived objects (RBAC, Job, CronJob, input ConfigMaps): the run labels without a
/// run id, instance = target.
fn stable_labels(
    spec: &ScanSpec,
    run_id: &RunId,
    component: Component,
) -> BTreeMap<String, String> {
    let mut labels = labels::run_labels(&spec.target.name, run_id, component);
    labels.remove(labels::RUN_ID);
    labels.insert(labels::APP_INSTANCE.into(), spec.target.name.clone());
    with_user_labels(spec, labels)
}

pub(crate) fn resources(r: &spec::Resources) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

pub(crate) fn env_value(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// The API-server address and the store's endpoint settings, which every in-cluster client of
/// the scan and the audit reads from its environment.
pub(crate) fn api_and_store_env(
    api_server: Option<&spec::ApiServer>,
    results: &spec::Results,
) -> Vec<Value> {
    let mut env = Vec::new();
    if let Some(api) = api_server {
        env.push(env_value("KUBERNETES_SERVICE_HOST", &api.host));
        env.push(env_value("KUBERNETES_SERVICE_PORT", &api.port.to_string()));
    }
    if let Some(endpoint) = &results.endpoint {
        env.push(env_value("AWS_ENDPOINT_URL", endpoint));
    }
    if let Some(region) = &results.region {
        env.push(env_value("AWS_REGION", region));
    }
    if results.allow_http {
        env.push(env_value("AWS_ALLOW_HTTP", "true"));
    }
    env
}

/// Store and API-server settings both the scanner and the orchestrator need.
fn client_env(spec: &ScanSpec) -> Vec<Value> {
    let mut env = api_and_store_env(spec.cluster.api_server.as_ref(), &spec.results);
    if let Some(ca) = &spec.results.ca_bundle {
        env.push(env_value(
            CA_BUNDLE_ENV,
            &format!("{CA_BUNDLE_MOUNT_PATH}/{}", ca.key),
        ));
    }
    if spec.results.store_url.is_some() {
        // No metadata-service probing: credentials come from the Secret or nowhere.
        env.push(env_value("AWS_EC2_METADATA_DISABLED", "true"));
    }
    env
}

/// The pod's `imagePullSecrets` from the spec's pull Secret names.
pub(crate) fn image_pull_secrets(images: &spec::Images) -> Vec<Value> {
    images
        .pull_secrets
        .iter()
        .map(|name| json!({"name": name}))
        .collect()
}

/// The store credentials' Secret, when the results name one.
pub(crate) fn credentials(results: &spec::Results) -> Option<Credentials> {
    results.credentials_secret.as_ref().map(|s| Credentials {
        secret: s.name.clone(),
        access_key_id_key: s.access_key_id_key.clone(),
        secret_access_key_key: s.secret_access_key_key.clone(),
        mount_path: sidescan_core::scanner::STORE_CREDENTIALS_MOUNT_PATH,
    })
}

/// The CA bundle volume (ConfigMap or Secret, only its key, read-only).
pub(crate) fn ca_bundle_volume(results: &spec::Results) -> Option<Value> {
    let ca = results.ca_bundle.as_ref()?;
    let items = json!([{"key": ca.key, "path": ca.key}]);
    Some(match (&ca.config_map, &ca.secret) {
        (Some(name), _) => json!({"name": "s3-ca", "configMap": {
            "name": name, "defaultMode": 0o444, "items": items}}),
        (None, Some(name)) => json!({"name": "s3-ca", "secret": {
            "secretName": name, "defaultMode": 0o444, "items": items}}),
        (None, None) => return None,
    })
}

fn configmap_items(files: impl IntoIterator<Item = String>) -> Vec<Value> {
    files
        .into_iter()
        .filter_map(|path| profile_key(&path).map(|key| json!({"key": key, "path": path})))
        .collect()
}

/// The standard-alphabet base64 of `bytes` (ConfigMap `binaryData`).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The name of the ConfigMap rendered from the profile's input and waiver files.
pub fn profile_inputs_name(target: &str) -> String {
    spec::object_name(target, "profile-inputs")
}

/// The spec the orchestration Job reads: local files replaced by the ConfigMaps rendered from
/// them, no fixed run id (every orchestrated run makes its own).
pub fn orchestration_spec(spec: &ScanSpec, inputs: &Inputs) -> ScanSpec {
    let mut resolved = spec.clone();
    resolved.run_id = None;
    use_rendered_config_maps(
        resolved.profile.as_mut(),
        resolved.thresholds.as_mut(),
        inputs,
        spec::object_name(&spec.target.name, "profile"),
        spec::object_name(&spec.target.name, "thresholds"),
    );
    if let (Some(profile), Some(files)) =
        (resolved.profile.as_mut(), inputs.profile_inputs.as_ref())
    {
        profile.inputs_config_map = Some(profile_inputs_name(&spec.target.name));
        profile.input_files = files.input_files.iter().map(|(k, _)| k.clone()).collect();
        profile.waiver_files = files.waiver_files.iter().map(|(k, _)| k.clone()).collect();
    }
    resolved
}

/// Points a spec's profile directory and threshold file at the ConfigMaps rendered from them
/// (named `profile_name` and `thresholds_name`), for the in-cluster reader of the spec.
pub(crate) fn use_rendered_config_maps(
    profile: Option<&mut spec::Profile>,
    thresholds: Option<&mut spec::Thresholds>,
    inputs: &Inputs,
    profile_name: String,
    thresholds_name: String,
) {
    if let (Some(profile), Some(files)) = (profile, inputs.profile.as_ref()) {
        profile.dir = None;
        profile.config_map = Some(ProfileConfigMap {
            name: profile_name,
            files: files.files.keys().cloned().collect(),
        });
    }
    if let Some(thresholds) = thresholds
        && thresholds.file.is_some()
    {
        thresholds.file = None;
        thresholds.config_map = Some(thresholds_name);
    }
}

/// Checks `value` field by field against the Kubernetes type `T` (named `schema` in errors).
fn strict_field<T: DeserializeOwned + Serialize>(
    field: &str,
    value: &Value,
    schema: &str,
) -> Result<(), GenError> {
    crate::strict::check::<T>(value).map_err(|found| {
        // `found` is `<path> (<problem>)` or `: <deserializer message>`.
        let (path, problem) = match found.split_once(" (") {
            Some((path, rest)) => (path.to_string(), rest.trim_end_matches(')').to_string()),
            None => (String::new(), found.trim_start_matches(": ").to_string()),
        };
        GenError::Unsupported {
            field: format!("{field}{path}"),
            reason: format!("{problem} (checked against the Kubernetes {schema} schema)"),
        }
    })
}

/// The Kubernetes objects the spec passes through, checked against their schemas, plus the
/// rules the API server adds (one volume source, one env source).
fn check_kubernetes_objects(spec: &ScanSpec, kube: KubeVersion) -> Result<(), GenError> {
    for (field, affinity) in [
        ("scheduling.affinity", &spec.scheduling.affinity),
        ("orchestrator.affinity", &spec.orchestrator.affinity),
    ] {
        if let Some(a) = affinity {
            strict_field::<core::Affinity>(field, a, "Affinity")?;
        }
    }
    let target = &spec.target;
    if let Some(sc) = &target.security_context {
        strict_field::<core::SecurityContext>("target.securityContext", sc, "SecurityContext")?;
        if sc.get("seccompProfile").is_some() && !kube.has_seccomp_field() {
            return Err(GenError::Unsupported {
                field: "target.securityContext.seccompProfile".into(),
                reason: format!("the field needs Kubernetes 1.19 or newer (rendering for {kube})"),
            });
        }
    }
    for (i, source) in target.env_from.iter().enumerate() {
        let field = format!("target.envFrom[{i}]");
        strict_field::<core::EnvFromSource>(&field, source, "EnvFromSource")?;
        let refs = ["configMapRef", "secretRef"]
            .iter()
            .filter(|r| source.get(**r).is_some())
            .count();
        if refs != 1 {
            return Err(GenError::Unsupported {
                field,
                reason: "set exactly one of configMapRef, secretRef".into(),
            });
        }
    }
    for (i, volume) in target.volumes.iter().enumerate() {
        let field = format!("target.volumes[{i}]");
        strict_field::<core::Volume>(&field, volume, "Volume")?;
        let sources: Vec<&String> = volume
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        if sources.len() != 1 {
            return Err(GenError::Unsupported {
                field,
                reason: format!(
                    "a volume has exactly one source (configMap, secret, emptyDir, ...), found {}",
                    sources.len()
                ),
            });
        }
    }
    for (i, mount) in target.volume_mounts.iter().enumerate() {
        strict_field::<core::VolumeMount>(
            &format!("target.volumeMounts[{i}]"),
            mount,
            "VolumeMount",
        )?;
    }
    Ok(())
}

/// The JSON leaf with the most bytes (`target.env.BIG`), to name the key behind an oversized
/// ConfigMap.
fn largest_leaf(value: &Value, path: &str) -> (String, usize) {
    let size = |v: &Value| match v {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    };
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                largest_leaf(v, &child)
            })
            .max_by_key(|(_, n)| *n)
            .unwrap_or((path.to_string(), 0)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| largest_leaf(v, &format!("{path}[{i}]")))
            .max_by_key(|(_, n)| *n)
            .unwrap_or((path.to_string(), 0)),
        other => (path.to_string(), size(other)),
    }
}

/// The resolved spec as the spec ConfigMap holds it, refused when it would not fit.
fn spec_config_map_text(spec: &ScanSpec, inputs: &Inputs) -> Result<String, GenError> {
    let resolved = orchestration_spec(spec, inputs);
    let text = serde_json::to_string_pretty(&resolved).unwrap_or_default() + "\n";
    let size = text.len() + SPEC_CONFIGMAP_KEY.len();
    if size > CONFIGMAP_LIMIT {
        let tree = serde_json::to_value(&resolved).unwrap_or_default();
        let (field, bytes) = largest_leaf(&tree, "");
        return Err(GenError::Unsupported {
            field,
            reason: format!(
                "{bytes} bytes make the spec ConfigMap {size} bytes, above the ConfigMap limit \
                 of {CONFIGMAP_LIMIT} bytes (and a pod carrying it would be refused too)"
            ),
        });
    }
    Ok(text)
}

/// The target's security context: the user's, and in `same-uid` mode the fields Pod Security
/// "restricted" needs, where the user left them out.
fn target_security_context(spec: &ScanSpec, kube: KubeVersion) -> Option<Value> {
    let user = spec.target.security_context.clone();
    if spec.security.mode != SecurityMode::SameUid {
        return user;
    }
    let mut sc = match user {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    sc.entry("runAsNonRoot").or_insert(json!(true));
    if let Some(uid) = spec.security.run_as_user {
        sc.entry("runAsUser").or_insert(json!(uid));
    }
    sc.entry("allowPrivilegeEscalation").or_insert(json!(false));
    let caps = sc.entry("capabilities").or_insert(json!({}));
    if let Value::Object(caps) = caps {
        caps.entry("drop").or_insert(json!(["ALL"]));
    }
    if kube.has_seccomp_field() {
        sc.entry("seccompProfile")
            .or_insert(json!({"type": "RuntimeDefault"}));
    }
    Some(Value::Object(sc))
}

/// The scanner's security context for its mode (docs/security.md explains each field).
fn scanner_security_context(spec: &ScanSpec, kube: KubeVersion) -> Value {
    sidescan_core::scanner::security_context(
        spec.security.mode,
        spec.security.run_as_user,
        spec.security.run_as_group,
        kube.has_seccomp_field(),
    )
}

/// Refuses settings that would put the scan pod below the Pod Security level its mode keeps:
/// `restricted` for `same-uid`, `baseline` plus the scanner's `SYS_PTRACE` for `ptrace`. Host
/// networking (the development cluster) is the one documented exception, not checked here.
fn check_pod_security(spec: &ScanSpec, pod: &PodContext) -> Result<(), GenError> {
    let (level, level_name) = match spec.security.mode {
        SecurityMode::SameUid => (Level::Restricted, "restricted"),
        SecurityMode::Ptrace => (Level::Baseline, "baseline"),
    };
    let mut target = json!({"name": pod.target.name, "image": pod.target.image});
    if let Some(sc) = &pod.target.security_context {
        target["securityContext"] = sc.clone();
    }
    let scanner = json!({"name": pod.scanner.name, "image": pod.scanner.image,
        "securityContext": pod.scanner.security_context});
    let template = json!({
        "metadata": {"annotations": pod.annotations},
        "spec": {"containers": [target, scanner], "volumes": pod.volumes},
    });
    let template: core::PodTemplateSpec =
        serde_json::from_value(template).map_err(|e| GenError::Render {
            template: "pod security".into(),
            message: e.to_string(),
        })?;
    let scanner_prefix = format!("spec.containers[{}].", pod.scanner.name);
    let target_prefix = format!("spec.containers[{}].", pod.target.name);
    for v in pss::pss_violations(&template, level) {
        if !v.rule.enforced()
            || (spec.security.mode == SecurityMode::Ptrace
                && v.rule == pss::Rule::Capabilities
                && v.field.starts_with(&scanner_prefix))
        {
            continue;
        }
        let field = if let Some(rest) = v.field.strip_prefix(&target_prefix) {
            format!("target.{rest}")
        } else if let Some(name) = v
            .field
            .strip_prefix("spec.volumes[")
            .and_then(|r| r.strip_suffix(']'))
        {
            format!("target.volumes ({name})")
        } else {
            v.field.clone()
        };
        return Err(GenError::Unsupported {
            field,
            reason: format!(
                "{} breaks the Pod Security rule \"{}\" of level {level_name}, which mode {} \
                 keeps (docs/security.md)",
                v.detail,
                v.rule.title(),
                spec.security.mode.as_str()
            ),
        });
    }
    Ok(())
}

fn network_policy(
    spec: &ScanSpec,
    run_id: &RunId,
    annotations: &BTreeMap<String, String>,
) -> Option<NetworkPolicyContext> {
    if !spec.network_policy.enabled {
        return None;
    }
    let mut egress = Vec::new();
    let mut peers = Vec::new();
    // Only a scanner that identifies through the API talks to the API server.
    if spec.scanner.identify == spec::ScannerIdentify::Api
        && let Some(api) = spec.network_policy_api_server()
    {
        peers.push(api);
    }
    let remote_store = spec
        .results
        .store_url
        .as_deref()
        .is_some_and(|u| !u.starts_with("file:"));
    if remote_store && let Some(store) = spec.network_policy_store() {
        peers.push(store);
    }
    for peer in peers {
        egress.push(json!({
            "to": [{"ipBlock": {"cidr": peer.cidr}}],
            "ports": [{"protocol": "TCP", "port": peer.port}],
        }));
    }
    if spec.network_policy.dns {
        egress.push(json!({"ports": [
            {"protocol": "UDP", "port": 53},
            {"protocol": "TCP", "port": 53},
        ]}));
    }
    Some(NetworkPolicyContext {
        name: spec::object_name(&spec.target.name, "scan-pod"),
        labels: stable_labels(spec, run_id, Component::ScanPod),
        annotations: annotations.clone(),
        pod_selector: BTreeMap::from([
            (labels::TARGET.to_string(), spec.target.name.clone()),
            (
                labels::APP_COMPONENT.to_string(),
                Component::ScanPod.as_str().to_string(),
            ),
        ]),
        egress,
    })
}

/// What the scan workflow's ServiceAccounts create: the scan pod exactly as rendered (its
/// images, command, ServiceAccount, token, Secrets and volumes), in the spec's namespace.
fn scan_fence(
    spec: &ScanSpec,
    pod: &PodContext,
    object_labels: &BTreeMap<String, String>,
    orchestrator: &str,
    scanner_sa: &str,
) -> crate::admission::Fence {
    use crate::admission::{Fence, PinnedTarget, service_account_user, volume_references};
    let mut users = vec![service_account_user(&spec.namespace, orchestrator)];
    if spec.scanner.identify == spec::ScannerIdentify::Api {
        users.push(service_account_user(&spec.namespace, scanner_sa));
    }
    let refs = volume_references(&pod.extra_volumes);
    let mut env_from_secrets: Vec<String> = pod
        .target
        .env_from
        .iter()
        .filter_map(|source| source["secretRef"]["name"].as_str().map(str::to_string))
        .collect();
    env_from_secrets.sort();
    env_from_secrets.dedup();
    Fence {
        base_name: "sidescan-scan".into(),
        name_suffix: format!("{}.{}", spec.target.name, spec.namespace),
        labels: object_labels.clone(),
        annotations: spec.metadata.annotations.clone(),
        users,
        namespaces: sidescan_core::audit::CloneNamespaces::Only(vec![spec.namespace.clone()]),
        pod_component: Component::ScanPod.as_str(),
        id_label: labels::RUN_ID,
        target_label: Some(spec.target.name.clone()),
        pod_name: Some(pod.name.clone()),
        service_account: pod.service_account.clone(),
        api_token_volume: pod.api_token.then(|| API_TOKEN_VOLUME.to_string()),
        scanner_container: pod.scanner.name.clone(),
        scanner_image: pod.scanner.image.clone(),
        ptrace: spec.security.mode == SecurityMode::Ptrace,
        target: Some(PinnedTarget {
            container: pod.target.name.clone(),
            image: pod.target.image.clone(),
            command: pod.target.command.clone(),
            args: pod.target.args.clone(),
        }),
        hold: None,
        host_network: pod.host_network,
        volume_secrets: refs.secrets,
        // The workflows hand their scan pods presigned uploads, never credentials.
        scanner_env_secrets: Vec::new(),
        target_env_from_secrets: env_from_secrets,
        claims: refs.claims,
        other_volumes: refs.other_volumes,
    }
}

/// Builds the render data. Fails on choices the target Kubernetes version cannot express, on
/// Kubernetes objects in the spec that do not match their schema, on a resolved spec above the
/// ConfigMap limit, and on target settings that break the mode's Pod Security level.
pub fn build(
    spec: &ScanSpec,
    inputs: &Inputs,
    kube: KubeVersion,
) -> Result<RenderContext, GenError> {
    // Size first: a huge value fails here, before any rendering work.
    let spec_text = spec_config_map_text(spec, inputs)?;
    check_kubernetes_objects(spec, kube)?;
    let schedule = CronJobSchedule::new(&spec.schedule, kube)?;
    let run_id = run_id(spec);
    let target = &spec.target.name;
    let pull_policy = spec.images.pull_policy.as_str();
    let pod_name = spec::scan_pod_name(target);
    let orchestrator_name = spec::object_name(target, ORCHESTRATOR_KIND);
    let scanner_sa = spec::object_name(target, SCANNER_KIND);
    let user_annotations = spec.metadata.annotations.clone();
    let image_pull_secrets = image_pull_secrets(&spec.images);
    let api_identify = spec.scanner.identify == spec::ScannerIdentify::Api;

    // Profile: a ConfigMap rendered from a directory, an existing ConfigMap, or a URL.
    let profile_name = spec::object_name(target, "profile");
    let profile_cm = inputs.profile.as_ref().map(|files| {
        let (data, binary_data) = profile_config_map_data(files);
        ConfigMapContext {
            name: profile_name.clone(),
            labels: stable_labels(spec, &run_id, Component::Profile),
            annotations: user_annotations.clone(),
            data,
            binary_data,
        }
    });
    let profile_config_map = match spec.profile.as_ref() {
        Some(p) if p.config_map.is_some() => p.config_map.as_ref().map(|cm| cm.name.clone()),
        Some(p) if p.dir.is_some() => Some(profile_name.clone()),
        _ => None,
    };
    let profile_volume = match spec.profile.as_ref() {
        Some(p) if p.config_map.is_some() => p.config_map.as_ref().map(|cm| ConfigMapVolume {
            config_map: cm.name.clone(),
            mount_path: PROFILE_MOUNT_PATH,
            items: configmap_items(cm.files.iter().cloned()),
        }),
        Some(p) if p.dir.is_some() => inputs.profile.as_ref().map(|files| ConfigMapVolume {
            config_map: profile_name.clone(),
            mount_path: PROFILE_MOUNT_PATH,
            items: configmap_items(files.files.keys().cloned()),
        }),
        _ => None,
    };
    let profile_arg = match spec.profile.as_ref() {
        Some(p) => match (&p.url, &p.dir, &p.config_map) {
            (Some(url), _, _) => Some(url.clone()),
            (None, None, None) => None,
            _ => Some(PROFILE_MOUNT_PATH.to_string()),
        },
        None => None,
    };

    // Input and waiver files: a ConfigMap rendered from local files, or an existing one.
    let inputs_name = profile_inputs_name(target);
    let profile_inputs_cm = inputs
        .profile_inputs
        .as_ref()
        .map(|files| ConfigMapContext {
            name: inputs_name.clone(),
            labels: stable_labels(spec, &run_id, Component::Profile),
            annotations: user_annotations.clone(),
            data: files
                .input_files
                .iter()
                .chain(&files.waiver_files)
                .cloned()
                .collect(),
            binary_data: BTreeMap::new(),
        });
    let (input_keys, waiver_keys, inputs_config_map): (Vec<String>, Vec<String>, Option<String>) =
        match (spec.profile.as_ref(), inputs.profile_inputs.as_ref()) {
            (_, Some(files)) => (
                files.input_files.iter().map(|(k, _)| k.clone()).collect(),
                files.waiver_files.iter().map(|(k, _)| k.clone()).collect(),
                Some(inputs_name.clone()),
            ),
            (Some(p), None) if p.inputs_config_map.is_some() => (
                p.input_files.clone(),
                p.waiver_files.clone(),
                p.inputs_config_map.clone(),
            ),
            _ => (Vec::new(), Vec::new(), None),
        };
    let inputs_volume = inputs_config_map.map(|name| ConfigMapVolume {
        config_map: name,
        mount_path: PROFILE_INPUTS_MOUNT_PATH,
        items: input_keys
            .iter()
            .chain(&waiver_keys)
            .map(|k| json!({"key": k, "path": k}))
            .collect(),
    });

    // Thresholds: a ConfigMap rendered from a file, or an existing ConfigMap.
    let thresholds_name = match spec.thresholds.as_ref() {
        Some(t) => t.config_map.clone().or_else(|| {
            t.file
                .as_ref()
                .map(|_| spec::object_name(target, "thresholds"))
        }),
        None => None,
    };
    let thresholds_cm = inputs.thresholds.as_ref().map(|text| ConfigMapContext {
        name: spec::object_name(target, "thresholds"),
        labels: stable_labels(spec, &run_id, Component::Thresholds),
        annotations: user_annotations.clone(),
        data: BTreeMap::from([(THRESHOLDS_KEY.to_string(), text.clone())]),
        binary_data: BTreeMap::new(),
    });
    let thresholds_volume = thresholds_name.as_ref().map(|name| ConfigMapVolume {
        config_map: name.clone(),
        mount_path: THRESHOLDS_MOUNT_PATH,
        items: vec![json!({"key": THRESHOLDS_KEY, "path": THRESHOLDS_KEY})],
    });

    // The scanner sidecar: `sidescan-agent scan`, described once in `sidescan_core::scanner`.
    let mut invocation = AgentInvocation::new(spec.scanner.backend);
    invocation.identify = Some(spec.scanner.identify.agent());
    invocation.target_container = Some(spec.target.container.clone());
    invocation.scanner_container = Some(spec.scanner.container.clone());
    invocation.target_name = Some(spec.target.name.clone());
    invocation.run_id = Some(run_id.to_string());
    invocation.results_dir = Some(spec.scanner.results_dir.clone());
    if spec.scanner.backend == ScanBackend::Cinc
        && let Some(profile) = profile_arg
    {
        invocation.profile = Some(profile);
        invocation.profile_sha256 = spec
            .profile
            .as_ref()
            .and_then(|p| p.sha256.as_ref())
            .map(|sha| sha.to_ascii_lowercase());
    }
    invocation.input_files = input_keys
        .iter()
        .map(|key| format!("{PROFILE_INPUTS_MOUNT_PATH}/{key}"))
        .collect();
    invocation.waiver_files = waiver_keys
        .iter()
        .map(|key| format!("{PROFILE_INPUTS_MOUNT_PATH}/{key}"))
        .collect();
    match &spec.results.store_url {
        Some(url) => {
            invocation.store = Some(url.clone());
            // When the upload fails the orchestrator can still store the files from the log.
            invocation.log_results_on_failure = true;
            if spec.results.credentials_secret.is_some() {
                invocation.store_credentials =
                    Some(sidescan_core::scanner::STORE_CREDENTIALS_MOUNT_PATH.into());
            }
        }
        // No store: the orchestrator reads the results from the scanner's log.
        None => invocation.log_results = true,
    }
    let agent_args = invocation.args();

    let mut pod_annotations = user_annotations.clone();
    if !kube.has_seccomp_field() {
        pod_annotations.insert(
            format!(
                "container.seccomp.security.alpha.kubernetes.io/{}",
                spec.scanner.container
            ),
            "runtime/default".to_string(),
        );
        let user_seccomp = spec
            .target
            .security_context
            .as_ref()
            .is_some_and(|sc| sc.get("seccompProfile").is_some());
        if spec.security.mode == SecurityMode::SameUid && !user_seccomp {
            pod_annotations.insert(
                format!(
                    "container.seccomp.security.alpha.kubernetes.io/{}",
                    spec.target.container
                ),
                "runtime/default".to_string(),
            );
        }
    }
    let scanner = ScannerContainer {
        name: spec.scanner.container.clone(),
        image: spec.images.reference(&spec.scanner.image),
        pull_policy,
        args: agent_args,
        invocation,
        env: client_env(spec),
        credentials: credentials(&spec.results),
        resources: resources(&spec.scanner.resources),
        results_dir: spec.scanner.results_dir.clone(),
        mode: spec.security.mode.as_str(),
        security_context: scanner_security_context(spec, kube),
    };
    let pod = PodContext {
        name: pod_name.clone(),
        labels: with_user_labels(
            spec,
            labels::run_labels(target, &run_id, Component::ScanPod),
        ),
        annotations: pod_annotations,
        service_account: if api_identify {
            scanner_sa.clone()
        } else {
            DEFAULT_SERVICE_ACCOUNT.to_string()
        },
        automount_token: api_identify && !kube.has_bound_token_projection(),
        api_token: api_identify && kube.has_bound_token_projection(),
        api_token_expiration_seconds: API_TOKEN_EXPIRATION_SECONDS,
        host_network: spec.cluster.host_network,
        priority_class_name: spec.scheduling.priority_class_name.clone(),
        node_selector: spec.scheduling.node_selector.clone(),
        tolerations: serde_json::to_value(&spec.scheduling.tolerations).unwrap_or(Value::Null),
        affinity: spec.scheduling.affinity.clone(),
        image_pull_secrets: image_pull_secrets.clone(),
        target: TargetContainer {
            name: spec.target.container.clone(),
            image: spec.images.reference(&spec.target.image),
            pull_policy,
            command: spec.target.command.clone(),
            args: spec.target.args.clone(),
            env: spec
                .target
                .env
                .iter()
                .map(|(k, v)| env_value(k, v))
                .collect(),
            env_from: spec.target.env_from.clone(),
            volume_mounts: spec.target.volume_mounts.clone(),
            security_context: target_security_context(spec, kube),
            resources: resources(&spec.target.resources),
        },
        scanner,
        results_size_limit: spec.scanner.results_size_limit.clone(),
        active_deadline_seconds: spec.orchestrator.deadlines.total_seconds(),
        termination_grace_period_seconds: SCAN_POD_GRACE_SECONDS,
        profile_volume,
        thresholds_volume,
        inputs_volume,
        ca_bundle_volume: ca_bundle_volume(&spec.results),
        volumes: spec.target.volumes.clone(),
        extra_volumes: ca_bundle_volume(&spec.results)
            .into_iter()
            .chain(spec.target.volumes.iter().cloned())
            .collect(),
    };
    check_pod_security(spec, &pod)?;

    // The orchestration Job and CronJob.
    let spec_cm_name = spec::object_name(target, "spec");
    let mut orchestrate_args = vec![
        "orchestrate".to_string(),
        "--spec".into(),
        format!("{SPEC_MOUNT_PATH}/{SPEC_CONFIGMAP_KEY}"),
    ];
    if let Some(url) = &spec.results.store_url {
        orchestrate_args.extend(["--store".into(), url.clone()]);
    }
    let job_labels = stable_labels(spec, &run_id, Component::Orchestrator);
    let job_name = spec::object_name(target, "scan");
    // CronJob names are at most 52 characters: the controller appends an 11-character suffix.
    let cronjob_name = job_name[..job_name.len().min(52)]
        .trim_end_matches('-')
        .to_string();
    let mut template_annotations = user_annotations.clone();
    if !kube.has_seccomp_field() {
        template_annotations.insert(
            "seccomp.security.alpha.kubernetes.io/pod".into(),
            "runtime/default".into(),
        );
    }
    let job = JobContext {
        name: job_name,
        cronjob_name,
        labels: job_labels.clone(),
        annotations: user_annotations.clone(),
        template_annotations,
        service_account: orchestrator_name.clone(),
        host_network: spec.cluster.host_network,
        priority_class_name: spec.orchestrator.priority_class_name.clone(),
        node_selector: spec.orchestrator.node_selector.clone(),
        tolerations: serde_json::to_value(&spec.orchestrator.tolerations).unwrap_or(Value::Null),
        affinity: spec.orchestrator.affinity.clone(),
        runner: RunnerJob {
            image: spec.images.reference(&spec.orchestrator.image),
            pull_policy,
            args: orchestrate_args,
            env: client_env(spec),
            credentials: credentials(&spec.results),
            resources: resources(&spec.orchestrator.resources),
            run_as_user: ORCHESTRATOR_UID,
            image_pull_secrets,
            active_deadline_seconds: spec.orchestrator.active_deadline_seconds,
            backoff_limit: spec.orchestrator.backoff_limit,
            ttl_seconds_after_finished: spec.orchestrator.ttl_seconds_after_finished,
            thresholds_config_map: thresholds_name,
        },
        termination_grace_period_seconds: spec.orchestrator.deadlines.cleanup_seconds
            + ORCHESTRATOR_GRACE_MARGIN_SECONDS,
        ca_bundle_volumes: ca_bundle_volume(&spec.results).into_iter().collect(),
        ca_bundle_mount_path: CA_BUNDLE_MOUNT_PATH,
        schedule,
    };
    let mut service_account_annotations = user_annotations.clone();
    service_account_annotations.extend(spec.service_account.annotations.clone());
    let admission = crate::admission::policies(
        &scan_fence(spec, &pod, &job_labels, &orchestrator_name, &scanner_sa),
        kube,
    );

    Ok(RenderContext {
        namespace: spec.namespace.clone(),
        spec_mount_path: SPEC_MOUNT_PATH,
        thresholds_mount_path: THRESHOLDS_MOUNT_PATH,
        api_token_mount_path: API_TOKEN_MOUNT_PATH,
        kube: KubeGates {
            version: kube.to_string(),
            cronjob_api_version: kube.cronjob_api_version(),
            ttl_after_finished: kube.has_ttl_after_finished(),
            seccomp_field: kube.has_seccomp_field(),
            cronjob_time_zone: kube.has_cronjob_time_zone(),
            bound_token: kube.has_bound_token_projection(),
        },
        network_policy: network_policy(spec, &run_id, &user_annotations),
        pod,
        rbac: RbacContext {
            labels_orchestrator: job_labels,
            labels_scanner: stable_labels(spec, &run_id, Component::Scanner),
            annotations: user_annotations.clone(),
            service_account_annotations,
            orchestrator: orchestrator_name,
            scanner: scanner_sa,
            scanner_rbac: api_identify,
            admission,
            profile_config_map,
        },
        profile: profile_cm,
        profile_inputs: profile_inputs_cm,
        thresholds: thresholds_cm,
        spec_config_map: ConfigMapContext {
            name: spec_cm_name,
            labels: stable_labels(spec, &run_id, Component::Orchestrator),
            annotations: user_annotations,
            data: BTreeMap::from([(SPEC_CONFIGMAP_KEY.to_string(), spec_text)]),
            binary_data: BTreeMap::new(),
        },
        job,
    })
}

/// A profile's files as ConfigMap `data` (text) and `binaryData` (base64), keyed by
/// [`profile_key`].
pub(crate) fn profile_config_map_data(
    files: &crate::inputs::ProfileFiles,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut data = BTreeMap::new();
    let mut binary_data = BTreeMap::new();
    for (path, bytes) in &files.files {
        let key = profile_key(path).unwrap_or_else(|| path.clone());
        match std::str::from_utf8(bytes) {
            Ok(text) => data.insert(key, text.to_string()),
            Err(_) => binary_data.insert(key, base64(bytes)),
        };
    }
    (data, binary_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn the_largest_leaf_names_the_key() {
        let v = json!({"target": {"env": {"A": "x", "BIG": "y".repeat(100)}}, "l": ["zz"]});
        assert_eq!(largest_leaf(&v, ""), ("target.env.BIG".to_string(), 100));
    }
}
