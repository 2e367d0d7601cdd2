//! The pure step: spec + file contents + target version -> the data every template renders.
//! All decisions (names, labels, arguments, version gates, security settings) are made here, so
//! templates only lay out fields.

use crate::inputs::Inputs;
use crate::{GenError, KubeVersion};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sidescan_core::RunId;
use sidescan_core::labels::{self, Component};
use sidescan_core::spec::{
    self, PROFILE_MOUNT_PATH, ProfileConfigMap, SPEC_CONFIGMAP_KEY, SPEC_MOUNT_PATH, ScanBackend,
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

#[derive(Debug, Clone, Serialize)]
pub struct RenderContext {
    pub namespace: String,
    pub spec_mount_path: &'static str,
    pub thresholds_mount_path: &'static str,
    pub kube: KubeGates,
    pub pod: PodContext,
    pub rbac: RbacContext,
    // Rendered on their own (configmap template): kept out of the shared template data.
    #[serde(skip)]
    pub profile: Option<ConfigMapContext>,
    #[serde(skip)]
    pub thresholds: Option<ConfigMapContext>,
    pub spec_config_map: ConfigMapContext,
    pub job: JobContext,
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
    pub service_account: String,
    pub host_network: bool,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetContainer {
    pub name: String,
    pub image: String,
    pub pull_policy: &'static str,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub env: Vec<Value>,
    pub resources: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScannerContainer {
    pub name: String,
    pub image: String,
    pub pull_policy: &'static str,
    pub args: Vec<String>,
    pub env: Vec<Value>,
    pub credentials: Option<Credentials>,
    pub resources: Value,
    pub results_dir: String,
    pub security: SecurityContext,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecurityContext {
    pub mode: &'static str,
    pub ptrace: bool,
    pub run_as_user: i64,
    pub has_run_as_group: bool,
    pub run_as_group: i64,
    pub run_as_non_root: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Credentials {
    pub secret: String,
    pub access_key_id_key: String,
    pub secret_access_key_key: String,
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
    pub orchestrator: String,
    pub scanner: String,
    /// The profile ConfigMap the orchestrator checks before deploying (profile.dir/configMap).
    pub profile_config_map: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigMapContext {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub data: BTreeMap<String, String>,
    pub binary_data: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobContext {
    pub name: String,
    pub cronjob_name: String,
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
    pub host_network: bool,
    pub image: String,
    pub pull_policy: &'static str,
    pub args: Vec<String>,
    pub env: Vec<Value>,
    pub credentials: Option<Credentials>,
    pub resources: Value,
    pub run_as_user: i64,
    pub image_pull_secrets: Vec<Value>,
    /// Room for the cleanup phase after SIGTERM (Job deleted or past its deadline).
    pub termination_grace_period_seconds: i64,
    pub active_deadline_seconds: i64,
    pub backoff_limit: i32,
    pub ttl_seconds_after_finished: i32,
    pub thresholds_config_map: Option<String>,
    pub schedule: String,
    pub time_zone: Option<String>,
    pub successful_jobs_history_limit: i32,
    pub failed_jobs_history_limit: i32,
    pub starting_deadline_seconds: i64,
    pub suspend: bool,
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
    labels
}

fn resources(r: &spec::Resources) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

fn env_value(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// Store and API-server settings both the scanner and the orchestrator need.
fn client_env(spec: &ScanSpec) -> Vec<Value> {
    let mut env = Vec::new();
    if let Some(api) = &spec.cluster.api_server {
        env.push(env_value("KUBERNETES_SERVICE_HOST", &api.host));
        env.push(env_value("KUBERNETES_SERVICE_PORT", &api.port.to_string()));
    }
    if let Some(endpoint) = &spec.results.endpoint {
        env.push(env_value("AWS_ENDPOINT_URL", endpoint));
    }
    if let Some(region) = &spec.results.region {
        env.push(env_value("AWS_REGION", region));
    }
    if spec.results.allow_http {
        env.push(env_value("AWS_ALLOW_HTTP", "true"));
    }
    if spec.results.store_url.is_some() {
        // No metadata-service probing: credentials come from the Secret or nowhere.
        env.push(env_value("AWS_EC2_METADATA_DISABLED", "true"));
    }
    env
}

fn credentials(spec: &ScanSpec) -> Option<Credentials> {
    spec.results
        .credentials_secret
        .as_ref()
        .map(|s| Credentials {
            secret: s.name.clone(),
            access_key_id_key: s.access_key_id_key.clone(),
            secret_access_key_key: s.secret_access_key_key.clone(),
        })
}

fn configmap_items(files: impl IntoIterator<Item = String>) -> Vec<Value> {
    files
        .into_iter()
        .filter_map(|path| spec::profile_key(&path).map(|key| json!({"key": key, "path": path})))
        .collect()
}

/// The standard-alphabet base64 of `bytes` (ConfigMap `binaryData`).
fn base64(bytes: &[u8]) -> String {
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

/// The spec the orchestration Job reads: local files replaced by the ConfigMaps rendered from
/// them, no fixed run id (every orchestrated run makes its own).
pub fn orchestration_spec(spec: &ScanSpec, inputs: &Inputs) -> ScanSpec {
    let mut resolved = spec.clone();
    resolved.run_id = None;
    if let (Some(profile), Some(files)) = (resolved.profile.as_mut(), inputs.profile.as_ref()) {
        profile.dir = None;
        profile.config_map = Some(ProfileConfigMap {
            name: spec::object_name(&spec.target.name, "profile"),
            files: files.files.keys().cloned().collect(),
        });
    }
    if let Some(thresholds) = resolved.thresholds.as_mut()
        && thresholds.file.is_some()
    {
        thresholds.file = None;
        thresholds.config_map = Some(spec::object_name(&spec.target.name, "thresholds"));
    }
    resolved
}

/// Builds the render data. Fails only on choices the target Kubernetes version cannot express
/// and on an `affinity` that is not a Kubernetes `Affinity`.
pub fn build(
    spec: &ScanSpec,
    inputs: &Inputs,
    kube: KubeVersion,
) -> Result<RenderContext, GenError> {
    let run_id = run_id(spec);
    let target = &spec.target.name;
    let pull_policy = spec.images.pull_policy.as_str();
    let pod_name = spec::scan_pod_name(target);
    let orchestrator_name = spec::object_name(target, ORCHESTRATOR_KIND);
    let scanner_sa = spec::object_name(target, SCANNER_KIND);
    let image_pull_secrets: Vec<Value> = spec
        .images
        .pull_secrets
        .iter()
        .map(|name| json!({"name": name}))
        .collect();

    if let Some(affinity) = &spec.scheduling.affinity {
        crate::strict::check::<k8s_openapi::api::core::v1::Affinity>(affinity).map_err(
            |found| {
                // `found` is `<path> (<problem>)` or `: <deserializer message>`.
                let (path, problem) = match found.split_once(" (") {
                    Some((path, rest)) => {
                        (path.to_string(), rest.trim_end_matches(')').to_string())
                    }
                    None => (String::new(), found.trim_start_matches(": ").to_string()),
                };
                GenError::Unsupported {
                    field: format!("scheduling.affinity{path}"),
                    reason: format!("{problem} (checked against the Kubernetes Affinity schema)"),
                }
            },
        )?;
    }
    if spec.schedule.time_zone.is_some() && !kube.has_cronjob_time_zone() {
        return Err(GenError::Unsupported {
            field: "schedule.timeZone".into(),
            reason: format!(
                "CronJob time zones need Kubernetes 1.25 or newer (rendering for {kube})"
            ),
        });
    }

    // Profile: a ConfigMap rendered from a directory, an existing ConfigMap, or a URL.
    let profile_name = spec::object_name(target, "profile");
    let profile_cm = inputs.profile.as_ref().map(|files| {
        let mut data = BTreeMap::new();
        let mut binary_data = BTreeMap::new();
        for (path, bytes) in &files.files {
            let key = spec::profile_key(path).unwrap_or_else(|| path.clone());
            match std::str::from_utf8(bytes) {
                Ok(text) => data.insert(key, text.to_string()),
                Err(_) => binary_data.insert(key, base64(bytes)),
            };
        }
        ConfigMapContext {
            name: profile_name.clone(),
            labels: stable_labels(spec, &run_id, Component::Profile),
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
        Some(p) => match &p.url {
            Some(url) => Some(url.clone()),
            None => Some(PROFILE_MOUNT_PATH.to_string()),
        },
        None => None,
    };

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
        data: BTreeMap::from([(THRESHOLDS_KEY.to_string(), text.clone())]),
        binary_data: BTreeMap::new(),
    });
    let thresholds_volume = thresholds_name.as_ref().map(|name| ConfigMapVolume {
        config_map: name.clone(),
        mount_path: THRESHOLDS_MOUNT_PATH,
        items: vec![json!({"key": THRESHOLDS_KEY, "path": THRESHOLDS_KEY})],
    });

    // The scanner sidecar: `sidescan-runner agent` (its flags: crates/runner/src/main.rs).
    let mut agent_args = vec![
        "agent".to_string(),
        "--backend".into(),
        spec.scanner.backend.as_str().into(),
        "--target-container".into(),
        spec.target.container.clone(),
        "--scanner-container".into(),
        spec.scanner.container.clone(),
        "--target-name".into(),
        spec.target.name.clone(),
        "--run-id".into(),
        run_id.to_string(),
        "--results-dir".into(),
        spec.scanner.results_dir.clone(),
    ];
    if spec.scanner.backend == ScanBackend::Cinc
        && let Some(profile) = profile_arg
    {
        agent_args.extend(["--profile".into(), profile]);
    }
    match &spec.results.store_url {
        Some(url) => agent_args.extend(["--store".into(), url.clone()]),
        // No store: the orchestrator reads the results from the scanner's log.
        None => agent_args.push("--log-results".into()),
    }
    let security = match spec.security.mode {
        SecurityMode::SameUid => SecurityContext {
            mode: SecurityMode::SameUid.as_str(),
            ptrace: false,
            run_as_user: spec.security.run_as_user.unwrap_or_default(),
            has_run_as_group: spec.security.run_as_group.is_some(),
            run_as_group: spec.security.run_as_group.unwrap_or_default(),
            run_as_non_root: true,
        },
        SecurityMode::Ptrace => {
            // Capabilities only take effect for UID 0 (Kubernetes sets no ambient set).
            let uid = spec.security.run_as_user.unwrap_or(0);
            SecurityContext {
                mode: SecurityMode::Ptrace.as_str(),
                ptrace: true,
                run_as_user: uid,
                has_run_as_group: spec.security.run_as_group.is_some(),
                run_as_group: spec.security.run_as_group.unwrap_or_default(),
                run_as_non_root: uid != 0,
            }
        }
    };
    let mut annotations = BTreeMap::new();
    if !kube.has_seccomp_field() {
        annotations.insert(
            format!(
                "container.seccomp.security.alpha.kubernetes.io/{}",
                spec.scanner.container
            ),
            "runtime/default".to_string(),
        );
    }
    let scanner = ScannerContainer {
        name: spec.scanner.container.clone(),
        image: spec.images.reference(&spec.scanner.image),
        pull_policy,
        args: agent_args,
        env: client_env(spec),
        credentials: credentials(spec),
        resources: resources(&spec.scanner.resources),
        results_dir: spec.scanner.results_dir.clone(),
        security,
    };
    let pod = PodContext {
        name: pod_name.clone(),
        labels: labels::run_labels(target, &run_id, Component::ScanPod),
        annotations,
        service_account: scanner_sa.clone(),
        host_network: spec.cluster.host_network,
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
            resources: resources(&spec.target.resources),
        },
        scanner,
        results_size_limit: spec.scanner.results_size_limit.clone(),
        active_deadline_seconds: spec.orchestrator.deadlines.total_seconds(),
        termination_grace_period_seconds: SCAN_POD_GRACE_SECONDS,
        profile_volume,
        thresholds_volume,
    };

    // The orchestration Job and CronJob.
    let spec_cm_name = spec::object_name(target, "spec");
    let resolved = orchestration_spec(spec, inputs);
    let spec_text = serde_json::to_string_pretty(&resolved).unwrap_or_default() + "\n";
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
    let job = JobContext {
        name: job_name,
        cronjob_name,
        labels: job_labels.clone(),
        service_account: orchestrator_name.clone(),
        host_network: spec.cluster.host_network,
        image: spec.images.reference(&spec.orchestrator.image),
        pull_policy,
        args: orchestrate_args,
        env: client_env(spec),
        credentials: credentials(spec),
        resources: resources(&spec.orchestrator.resources),
        run_as_user: ORCHESTRATOR_UID,
        image_pull_secrets,
        termination_grace_period_seconds: spec.orchestrator.deadlines.cleanup_seconds
            + ORCHESTRATOR_GRACE_MARGIN_SECONDS,
        active_deadline_seconds: spec.orchestrator.active_deadline_seconds,
        backoff_limit: spec.orchestrator.backoff_limit,
        ttl_seconds_after_finished: spec.orchestrator.ttl_seconds_after_finished,
        thresholds_config_map: thresholds_name,
        schedule: spec.schedule.cron.clone(),
        time_zone: spec.schedule.time_zone.clone(),
        successful_jobs_history_limit: spec.schedule.successful_jobs_history_limit,
        failed_jobs_history_limit: spec.schedule.failed_jobs_history_limit,
        starting_deadline_seconds: spec.schedule.starting_deadline_seconds,
        suspend: spec.schedule.suspend,
    };

    Ok(RenderContext {
        namespace: spec.namespace.clone(),
        spec_mount_path: SPEC_MOUNT_PATH,
        thresholds_mount_path: THRESHOLDS_MOUNT_PATH,
        kube: KubeGates {
            version: kube.to_string(),
            cronjob_api_version: kube.cronjob_api_version(),
            ttl_after_finished: kube.has_ttl_after_finished(),
            seccomp_field: kube.has_seccomp_field(),
            cronjob_time_zone: kube.has_cronjob_time_zone(),
            bound_token: kube.has_bound_token_projection(),
        },
        pod,
        rbac: RbacContext {
            labels_orchestrator: job_labels,
            labels_scanner: stable_labels(spec, &run_id, Component::Scanner),
            orchestrator: orchestrator_name,
            scanner: scanner_sa,
            profile_config_map,
        },
        profile: profile_cm,
        thresholds: thresholds_cm,
        spec_config_map: ConfigMapContext {
            name: spec_cm_name,
            labels: stable_labels(spec, &run_id, Component::Orchestrator),
            data: BTreeMap::from([(SPEC_CONFIGMAP_KEY.to_string(), spec_text)]),
            binary_data: BTreeMap::new(),
        },
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
}
