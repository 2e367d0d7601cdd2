//! The pure step: spec + file contents + target version -> the data every template renders.
//! All decisions (names, labels, arguments, version gates, security settings) are made here, so
//! templates only lay out fields. One builder per object: [`objects`] (the profile, input,
//! threshold and spec ConfigMaps), [`pod`] (the scanner, the scan pod, its NetworkPolicy and
//! admission fence), [`job`] (the orchestration Job and CronJob); [`checks`] holds the spec's
//! Kubernetes objects to their schemas. [`build`] puts them together.

mod checks;
mod job;
mod objects;
mod pod;

pub(crate) use checks::*;
pub(crate) use job::*;
pub(crate) use objects::*;
pub use objects::{orchestration_spec, profile_inputs_name};
pub(crate) use pod::*;

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
pub(crate) fn with_user_labels(
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
pub(crate) fn stable_labels(
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

    let profile = profile_objects(spec, inputs, &run_id);
    let input_files = input_objects(spec, inputs, &run_id);
    let thresholds = threshold_objects(spec, inputs, &run_id);
    let invocation = scanner_invocation(spec, &run_id, profile.arg.clone(), &input_files);
    let pod = scan_pod(
        spec,
        kube,
        &run_id,
        scanner_container(spec, kube, invocation),
        PodVolumes {
            profile: profile.volume,
            thresholds: thresholds.volume,
            inputs: input_files.volume,
        },
    )?;
    let job = job_context(spec, kube, &run_id, schedule, thresholds.name);

    let orchestrator_name = spec::object_name(target, ORCHESTRATOR_KIND);
    let scanner_sa = spec::object_name(target, SCANNER_KIND);
    let user_annotations = spec.metadata.annotations.clone();
    let mut service_account_annotations = user_annotations.clone();
    service_account_annotations.extend(spec.service_account.annotations.clone());
    let admission = crate::admission::policies(
        &scan_fence(spec, &pod, &job.labels, &orchestrator_name, &scanner_sa),
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
            labels_orchestrator: job.labels.clone(),
            labels_scanner: stable_labels(spec, &run_id, Component::Scanner),
            annotations: user_annotations,
            service_account_annotations,
            orchestrator: orchestrator_name,
            scanner: scanner_sa,
            scanner_rbac: spec.scanner.identify == spec::ScannerIdentify::Api,
            admission,
            profile_config_map: profile.checked_name,
        },
        profile: profile.config_map,
        profile_inputs: input_files.config_map,
        thresholds: thresholds.config_map,
        spec_config_map: spec_config_map(spec, &run_id, spec_text),
        job,
    })
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
