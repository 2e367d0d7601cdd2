//! The scan spec: what to scan, with which profile and thresholds, and how the scan pod, its RBAC
//! and its orchestration Job look. Pure serde types: unknown keys are errors everywhere
//! (`deny_unknown_fields`), so a misspelled key fails instead of being silently ignored.
//!
//! Split by concern: the schema here, [`validate`] for the rules serde cannot express, [`naming`]
//! for the names derived from a spec.
//!
//! `sidescan-gen` renders manifests from it; `sidescan-runner orchestrate` reads the same type
//! from the spec ConfigMap the generator writes (key [`SPEC_CONFIGMAP_KEY`]).

use crate::RunId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod naming;
mod validate;

pub use naming::{GENERATED_RUN_ID_LEN, object_name, profile_key, profile_path, scan_pod_name};
pub use validate::{SpecError, is_quantity};

/// Where the scanner sidecar sees the profile ConfigMap (the directory tree is restored there).
pub const PROFILE_MOUNT_PATH: &str = "/etc/sidescan/profile";
/// Where the scanner sidecar sees the thresholds ConfigMap.
pub const THRESHOLDS_MOUNT_PATH: &str = "/etc/sidescan/thresholds";
/// The key (and file name) of the threshold file in the thresholds ConfigMap.
pub const THRESHOLDS_KEY: &str = "threshold.yml";
/// Where the orchestration Job sees the spec ConfigMap.
pub const SPEC_MOUNT_PATH: &str = "/etc/sidescan/spec";
/// The key (and file name) of the resolved spec in the spec ConfigMap.
pub const SPEC_CONFIGMAP_KEY: &str = "scan-spec.yaml";

/// The whole scan spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanSpec {
    /// Namespace of every namespaced object.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Run id for the scan pod's labels; derived from the spec's content when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    pub target: Target,
    #[serde(default)]
    pub scanner: Scanner,
    #[serde(default)]
    pub images: Images,
    #[serde(default)]
    pub security: Security,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    #[serde(default)]
    pub results: Results,
    #[serde(default)]
    pub scheduling: Scheduling,
    #[serde(default)]
    pub cluster: Cluster,
    #[serde(default)]
    pub orchestrator: Orchestrator,
    #[serde(default)]
    pub schedule: Schedule,
}

fn default_namespace() -> String {
    "default".into()
}

/// The container to scan. Its image, command and args are used as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// Workload name: names the scan pod and ConfigMaps, and the `sidescan.io/target` label.
    pub name: String,
    /// The target container's name inside the scan pod.
    #[serde(default = "default_target_container")]
    pub container: String,
    pub image: String,
    /// Overrides the image's entrypoint only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's arguments only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default = "Resources::target_default")]
    pub resources: Resources,
}

fn default_target_container() -> String {
    "target".into()
}

/// The scanner sidecar (`sidescan-runner agent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scanner {
    #[serde(default = "default_scanner_container")]
    pub container: String,
    #[serde(default = "default_scanner_image")]
    pub image: String,
    #[serde(default)]
    pub backend: ScanBackend,
    /// The shared `emptyDir` the agent writes results to.
    #[serde(default = "default_results_dir")]
    pub results_dir: String,
    /// Size limit of the results `emptyDir`.
    #[serde(default = "default_results_size_limit")]
    pub results_size_limit: String,
    #[serde(default = "Resources::scanner_default")]
    pub resources: Resources,
}

fn default_scanner_container() -> String {
    "sidescan-scanner".into()
}
fn default_scanner_image() -> String {
    concat!("sidescan-scanner:", env!("CARGO_PKG_VERSION")).into()
}
fn default_results_dir() -> String {
    "/var/run/sidescan/results".into()
}
fn default_results_size_limit() -> String {
    "256Mi".into()
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            container: default_scanner_container(),
            image: default_scanner_image(),
            backend: ScanBackend::default(),
            results_dir: default_results_dir(),
            results_size_limit: default_results_size_limit(),
            resources: Resources::scanner_default(),
        }
    }
}

/// How the agent scans: CINC Auditor with the profile, or the native baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanBackend {
    #[default]
    Cinc,
    Builtin,
}

impl ScanBackend {
    pub const fn as_str(self) -> &'static str {
        match self {
            ScanBackend::Cinc => "cinc",
            ScanBackend::Builtin => "builtin",
        }
    }
}

/// CPU and memory quantities, as Kubernetes writes them ("100m", "128Mi").
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

impl Resources {
    fn of(requests: [(&str, &str); 2], memory_limit: &str) -> Resources {
        Resources {
            requests: requests
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            limits: BTreeMap::from([("memory".to_string(), memory_limit.to_string())]),
        }
    }
    pub fn target_default() -> Resources {
        Resources::of([("cpu", "50m"), ("memory", "64Mi")], "512Mi")
    }
    pub fn scanner_default() -> Resources {
        Resources::of([("cpu", "100m"), ("memory", "128Mi")], "512Mi")
    }
    pub fn orchestrator_default() -> Resources {
        Resources::of([("cpu", "50m"), ("memory", "64Mi")], "256Mi")
    }
}

/// Images: a registry prefix applied to every image, pull policy and pull secrets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Images {
    /// Prepended as `<registry>/<image>` to every image (target, scanner, runner) when not empty.
    #[serde(default)]
    pub registry: String,
    #[serde(default)]
    pub pull_policy: PullPolicy,
    /// Names of existing `kubernetes.io/dockerconfigjson` Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,
}

impl Images {
    /// `image` with the registry prefix, if any.
    pub fn reference(&self, image: &str) -> String {
        let registry = self.registry.trim_end_matches('/');
        if registry.is_empty() {
            image.to_string()
        } else {
            format!("{registry}/{image}")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

impl PullPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "Always",
            PullPolicy::IfNotPresent => "IfNotPresent",
            PullPolicy::Never => "Never",
        }
    }
}

/// The scanner's security context.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Security {
    #[serde(default)]
    pub mode: SecurityMode,
    /// The target's UID: required for `same-uid`; for `ptrace` the scanner's UID (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_group: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecurityMode {
    /// Same UID as the target, every capability dropped (Pod Security "restricted").
    #[default]
    SameUid,
    /// Only `SYS_PTRACE` kept, to read another UID's `/proc/<pid>/root` (Pod Security "privileged").
    Ptrace,
}

impl SecurityMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            SecurityMode::SameUid => "same-uid",
            SecurityMode::Ptrace => "ptrace",
        }
    }
}

/// Where the profile comes from: exactly one of `dir`, `url`, `configMap`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// A local profile directory, rendered into a ConfigMap that keeps its tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// An object-store URL the agent fetches (for profiles above the ConfigMap size limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An existing ConfigMap with encoded keys (see [`profile_key`]) and the tree to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ProfileConfigMap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfigMap {
    pub name: String,
    /// Relative paths of the profile's files; keys are [`profile_key`] of each.
    pub files: Vec<String>,
}

/// Where the threshold file comes from: exactly one of `file`, `configMap`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Thresholds {
    /// A local SAF threshold file, rendered into a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// An existing ConfigMap holding the threshold file under [`THRESHOLDS_KEY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
}

/// Where results go.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Results {
    /// `s3://bucket/prefix`, `file:///dir`, ...; absent: results stay on the pod's volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_url: Option<String>,
    /// S3 endpoint for S3-compatible servers (`AWS_ENDPOINT_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Allow plain-HTTP endpoints (`AWS_ALLOW_HTTP`), for a store on loopback.
    #[serde(default)]
    pub allow_http: bool,
    /// Store credentials, read from a Secret (never inline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<CredentialsSecret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialsSecret {
    pub name: String,
    #[serde(default = "default_access_key_id_key")]
    pub access_key_id_key: String,
    #[serde(default = "default_secret_access_key_key")]
    pub secret_access_key_key: String,
}

fn default_access_key_id_key() -> String {
    "AWS_ACCESS_KEY_ID".into()
}
fn default_secret_access_key_key() -> String {
    "AWS_SECRET_ACCESS_KEY".into()
}

/// Where the scan pod may run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scheduling {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// A Kubernetes `Affinity` object, checked field by field against the API schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<TolerationOperator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TolerationOperator {
    Exists,
    Equal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

/// Cluster quirks: host networking and an explicit API server address for in-cluster clients
/// (a loopback development cluster has no pod network and no Service network).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    #[serde(default)]
    pub host_network: bool,
    /// Sets `KUBERNETES_SERVICE_HOST`/`_PORT` in the scanner and orchestrator containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ApiServer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiServer {
    pub host: String,
    pub port: u16,
}

/// The orchestration Job (`sidescan-runner orchestrate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Orchestrator {
    #[serde(default = "default_runner_image")]
    pub image: String,
    #[serde(default = "default_active_deadline")]
    pub active_deadline_seconds: i64,
    #[serde(default)]
    pub backoff_limit: i32,
    #[serde(default = "default_ttl_after_finished")]
    pub ttl_seconds_after_finished: i32,
    #[serde(default = "Resources::orchestrator_default")]
    pub resources: Resources,
    /// How long each phase of a run may take before the run is abandoned (and cleaned up).
    #[serde(default)]
    pub deadlines: Deadlines,
}

/// Per-phase deadlines of an orchestrated run, in seconds. Their sum is also the scan pod's
/// `activeDeadlineSeconds`, so a scan pod whose orchestrator died stops by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deadlines {
    /// Creating the scan pod until both containers have started (image pulls included).
    #[serde(default = "default_deploy_seconds")]
    pub deploy_seconds: i64,
    /// Both containers started until the scanner has finished (identify, scan, upload).
    #[serde(default = "default_scan_seconds")]
    pub scan_seconds: i64,
    /// Reading the result back from the store (or the scanner's log) and checking it.
    #[serde(default = "default_retrieve_seconds")]
    pub retrieve_seconds: i64,
    /// Deleting the scan pod and the run's objects until the API says they are gone.
    #[serde(default = "default_cleanup_seconds")]
    pub cleanup_seconds: i64,
}

fn default_deploy_seconds() -> i64 {
    300
}
fn default_scan_seconds() -> i64 {
    1200
}
fn default_retrieve_seconds() -> i64 {
    120
}
fn default_cleanup_seconds() -> i64 {
    120
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            deploy_seconds: default_deploy_seconds(),
            scan_seconds: default_scan_seconds(),
            retrieve_seconds: default_retrieve_seconds(),
            cleanup_seconds: default_cleanup_seconds(),
        }
    }
}

impl Deadlines {
    /// The whole run: the scan pod's `activeDeadlineSeconds`.
    pub fn total_seconds(&self) -> i64 {
        self.deploy_seconds
            .saturating_add(self.scan_seconds)
            .saturating_add(self.retrieve_seconds)
            .saturating_add(self.cleanup_seconds)
    }
}

fn default_runner_image() -> String {
    concat!("sidescan-runner:", env!("CARGO_PKG_VERSION")).into()
}
fn default_active_deadline() -> i64 {
    1800
}
fn default_ttl_after_finished() -> i32 {
    86400
}

impl Default for Orchestrator {
    fn default() -> Self {
        Orchestrator {
            image: default_runner_image(),
            active_deadline_seconds: default_active_deadline(),
            backoff_limit: 0,
            ttl_seconds_after_finished: default_ttl_after_finished(),
            resources: Resources::orchestrator_default(),
            deadlines: Deadlines::default(),
        }
    }
}

/// The CronJob's schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    #[serde(default = "default_cron")]
    pub cron: String,
    /// IANA time zone name (Kubernetes 1.25+); absent: the controller's local time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default = "default_history")]
    pub successful_jobs_history_limit: i32,
    #[serde(default = "default_history")]
    pub failed_jobs_history_limit: i32,
    #[serde(default = "default_starting_deadline")]
    pub starting_deadline_seconds: i64,
    #[serde(default)]
    pub suspend: bool,
}

fn default_cron() -> String {
    "0 3 * * *".into()
}
fn default_history() -> i32 {
    3
}
fn default_starting_deadline() -> i64 {
    600
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            cron: default_cron(),
            time_zone: None,
            successful_jobs_history_limit: default_history(),
            failed_jobs_history_limit: default_history(),
            starting_deadline_seconds: default_starting_deadline(),
            suspend: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names;

    fn minimal() -> ScanSpec {
        serde_json::from_value(serde_json::json!({
            "target": {"name": "nginx", "image": "nginx:1.27"},
            "security": {"runAsUser": 101},
            "profile": {"url": "s3://profiles/baseline.tar.gz"},
        }))
        .unwrap()
    }

    #[test]
    fn minimal_spec_validates_with_defaults() {
        let spec = minimal();
        spec.validate().unwrap();
        assert_eq!(spec.namespace, "default");
        assert_eq!(spec.target.container, "target");
        assert_eq!(spec.security.mode, SecurityMode::SameUid);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_value::<ScanSpec>(serde_json::json!({
            "target": {"name": "nginx", "image": "nginx", "imag": "x"},
        }))
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `imag`"), "{err}");
    }

    #[test]
    fn rules_name_the_field() {
        let mut spec = minimal();
        spec.security.run_as_user = None;
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.starts_with("security.runAsUser:"), "{err}");

        let mut spec = minimal();
        spec.scanner.container = "target".into();
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .starts_with("scanner.container")
        );

        let mut spec = minimal();
        spec.target.name = "Nginx".into();
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .starts_with("target.name")
        );

        let mut spec = minimal();
        spec.profile.as_mut().unwrap().dir = Some("p".into());
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .starts_with("profile:")
        );
    }

    #[test]
    fn deadlines_are_positive_and_fit_in_the_job() {
        let spec = minimal();
        assert_eq!(spec.orchestrator.deadlines.total_seconds(), 1740);
        assert!(
            spec.orchestrator.deadlines.total_seconds()
                <= spec.orchestrator.active_deadline_seconds
        );
        let mut spec = minimal();
        spec.orchestrator.deadlines.scan_seconds = 0;
        let err = spec.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("orchestrator.deadlines.scanSeconds:"),
            "{err}"
        );
        let mut spec = minimal();
        spec.orchestrator.active_deadline_seconds = 600;
        let err = spec.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("orchestrator.activeDeadlineSeconds:") && err.contains("1740"),
            "{err}"
        );
        let spec: ScanSpec = serde_json::from_value(serde_json::json!({
            "target": {"name": "a", "image": "b"},
            "security": {"runAsUser": 1},
            "scanner": {"backend": "builtin"},
            "orchestrator": {"activeDeadlineSeconds": 100, "deadlines": {"deploySeconds": 10,
                "scanSeconds": 20, "retrieveSeconds": 5, "cleanupSeconds": 5}},
        }))
        .unwrap();
        spec.validate().unwrap();
        assert_eq!(spec.orchestrator.deadlines.total_seconds(), 40);
        let err = serde_json::from_value::<ScanSpec>(serde_json::json!({
            "target": {"name": "a", "image": "b"},
            "orchestrator": {"deadlines": {"scanSecs": 1}},
        }))
        .unwrap_err();
        assert!(err.to_string().contains("scanSecs"), "{err}");
    }

    #[test]
    fn quantities_and_env_names_are_checked() {
        for good in ["100m", "128Mi", "1", "0.5", "1e3", "2Gi", "+1"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "lots", "1 Gi", "Mi", "1.2.3", "1mi", "1e", "."] {
            assert!(!is_quantity(bad), "{bad}");
        }
        let mut spec = minimal();
        spec.target
            .resources
            .limits
            .insert("memory".into(), "1 GB".into());
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.starts_with("target.resources.limits.memory:"), "{err}");
        let mut spec = minimal();
        spec.target.env.insert("1BAD".into(), "x".into());
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .starts_with("target.env.1BAD")
        );
    }

    #[test]
    fn profile_keys_round_trip_and_refuse_ambiguous_paths() {
        assert_eq!(
            profile_key("controls/ssh_config.rb").as_deref(),
            Some("controls__ssh_config.rb")
        );
        assert_eq!(
            profile_path("controls__ssh_config.rb"),
            "controls/ssh_config.rb"
        );
        assert_eq!(profile_key("a__b"), None);
        assert_eq!(profile_key("a_/b"), None);
        assert_eq!(profile_key("a b"), None);
        assert_eq!(profile_key("/abs"), None);
    }

    #[test]
    fn target_names_leave_room_for_the_run_id() {
        let mut spec = minimal();
        spec.target.name = "a".repeat(50);
        spec.validate().unwrap();
        spec.target.name = "a".repeat(51);
        assert!(
            spec.validate()
                .unwrap_err()
                .to_string()
                .starts_with("target.name:")
        );
        spec.target.name = "a".repeat(30);
        spec.run_id = Some(RunId::parse(&"b".repeat(32)).unwrap());
        spec.validate().unwrap();
        spec.target.name = "a".repeat(31);
        assert!(spec.validate().is_err());
        assert_eq!(
            RunId::from_entropy([7; 8]).as_str().len(),
            GENERATED_RUN_ID_LEN
        );
    }

    #[test]
    fn derived_names_are_labels() {
        let long = "a".repeat(63);
        names::check_dns_label("x", &scan_pod_name(&long)).unwrap();
        names::check_dns_label("x", &object_name(&long, "profile")).unwrap();
        assert_eq!(object_name("nginx", "profile"), "sidescan-nginx-profile");
        assert_eq!(scan_pod_name("nginx"), "sidescan-scan-nginx");
    }
}
