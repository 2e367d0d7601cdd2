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
mod quantity;
pub(crate) mod validate;

pub use naming::{GENERATED_RUN_ID_LEN, object_name, scan_pod_name};
pub use quantity::{is_quantity, parse_quantity};
pub use validate::{
    RESERVED_VOLUME_NAMES, SpecError, check_profile, has_registry_host, is_config_map_key,
    is_time_zone, validate_cron, validate_image_reference,
};

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
/// Where the scanner sees the profile's input and waiver files.
pub const PROFILE_INPUTS_MOUNT_PATH: &str = "/etc/sidescan/profile-inputs";
/// Where the scanner and the orchestrator see the object store's CA bundle.
pub const CA_BUNDLE_MOUNT_PATH: &str = "/etc/sidescan/s3-ca";
/// Where the scanner's projected API token is mounted (the usual in-cluster path).
pub const API_TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The scanner's scratch directory (its root filesystem is read-only).
pub const TMP_MOUNT_PATH: &str = "/tmp";

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
    /// Labels and annotations added to every rendered object.
    #[serde(default, skip_serializing_if = "ObjectMetadata::is_empty")]
    pub metadata: ObjectMetadata,
    /// Settings of both ServiceAccounts (cloud identity annotations).
    #[serde(default, skip_serializing_if = "ServiceAccountSettings::is_empty")]
    pub service_account: ServiceAccountSettings,
    /// An optional NetworkPolicy for the scan pod.
    #[serde(default, skip_serializing_if = "NetworkPolicySettings::is_disabled")]
    pub network_policy: NetworkPolicySettings,
}

/// Labels and annotations for every rendered object (and the pods they create).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ObjectMetadata {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.annotations.is_empty()
    }
}

/// Settings of the orchestrator's and the scanner's ServiceAccounts.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountSettings {
    /// Annotations on both ServiceAccounts, e.g. `eks.amazonaws.com/role-arn` or
    /// `iam.gke.io/gcp-service-account` for cloud identity.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ServiceAccountSettings {
    pub fn is_empty(&self) -> bool {
        self.annotations.is_empty()
    }
}

/// A NetworkPolicy for the scan pod: no ingress; egress only to the API server, the object
/// store and, when asked, DNS.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicySettings {
    #[serde(default)]
    pub enabled: bool,
    /// The API server's endpoint addresses (`kubectl get endpoints kubernetes`); default:
    /// `cluster.apiServer` when its host is an IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_server: Option<EgressPeer>,
    /// The object store's addresses; default: `results.endpoint` when its host is an IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<EgressPeer>,
    /// Allow DNS (UDP and TCP port 53) to any destination: needed when the store endpoint is a
    /// host name.
    #[serde(default)]
    pub dns: bool,
}

impl NetworkPolicySettings {
    pub fn is_disabled(&self) -> bool {
        *self == NetworkPolicySettings::default()
    }
}

/// An egress destination: an IP block and a TCP port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EgressPeer {
    /// `10.0.0.1/32`, `2001:db8::/64`; a bare address means a single host.
    pub cidr: String,
    pub port: u16,
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
    /// Kubernetes `EnvFromSource` objects (whole ConfigMaps or Secrets as environment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<serde_json::Value>,
    /// Kubernetes `Volume` objects for the target container's mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<serde_json::Value>,
    /// Kubernetes `VolumeMount` objects in the target container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<serde_json::Value>,
    /// A Kubernetes `SecurityContext` for the target container. In `same-uid` mode the fields Pod
    /// Security "restricted" needs are filled in when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<serde_json::Value>,
    #[serde(default = "Resources::target_default")]
    pub resources: Resources,
}

fn default_target_container() -> String {
    "target".into()
}

/// The scanner sidecar (`sidescan-agent scan`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scanner {
    #[serde(default = "default_scanner_container")]
    pub container: String,
    #[serde(default = "default_scanner_image")]
    pub image: String,
    #[serde(default)]
    pub backend: ScanBackend,
    /// How the agent finds the target: by the heuristic (no API token in the scan pod) or from
    /// the pod's status through the API (a short-lived token and a Role reading the one pod).
    /// Left out of the serialized spec when it is the default, so default specs keep their
    /// derived run ids.
    #[serde(default, skip_serializing_if = "ScannerIdentify::is_heuristic")]
    pub identify: ScannerIdentify,
    /// The shared `emptyDir` the agent writes results to.
    #[serde(default = "default_results_dir")]
    pub results_dir: String,
    /// Size limit of the results `emptyDir` (a quantity: `256Mi`, or a number of bytes).
    #[serde(
        default = "default_results_size_limit",
        deserialize_with = "quantity::deserialize"
    )]
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
            identify: ScannerIdentify::default(),
            results_dir: default_results_dir(),
            results_size_limit: default_results_size_limit(),
            resources: Resources::scanner_default(),
        }
    }
}

/// How the scanner finds the target container's process (`scanner.identify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScannerIdentify {
    /// The one process in the pod whose root differs from the scanner's: no API access, so the
    /// scan pod mounts no ServiceAccount token.
    #[default]
    Heuristic,
    /// The target container's ID from the pod's status, read with a short-lived token of the
    /// scanner's own ServiceAccount (a Role that reads the one pod).
    Api,
}

impl ScannerIdentify {
    pub const fn as_str(self) -> &'static str {
        match self {
            ScannerIdentify::Heuristic => "heuristic",
            ScannerIdentify::Api => "api",
        }
    }

    pub fn is_heuristic(&self) -> bool {
        *self == ScannerIdentify::Heuristic
    }

    /// The agent's `--identify` value.
    pub const fn agent(self) -> crate::scanner::Identify {
        match self {
            ScannerIdentify::Heuristic => crate::scanner::Identify::Heuristic,
            ScannerIdentify::Api => crate::scanner::Identify::Api,
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

/// CPU and memory quantities, as Kubernetes writes them ("100m", "128Mi"); YAML numbers (`cpu: 2`)
/// are read as quantities too.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "quantity::deserialize_map"
    )]
    pub requests: BTreeMap<String, String>,
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "quantity::deserialize_map"
    )]
    pub limits: BTreeMap<String, String>,
}

impl Resources {
    /// CPU and memory requests and a memory limit, as the defaults give them.
    pub fn of(requests: [(&str, &str); 2], memory_limit: &str) -> Resources {
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

/// Images: a registry prefix, pull policy and pull secrets.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Images {
    /// `host[:port][/path]`, prepended as `<registry>/<image>` to every image reference that
    /// names no registry host of its own (see [`has_registry_host`]).
    #[serde(default)]
    pub registry: String,
    #[serde(default)]
    pub pull_policy: PullPolicy,
    /// Names of existing `kubernetes.io/dockerconfigjson` Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,
}

impl Images {
    /// `image` with the registry prefix, if any and if `image` names no registry host itself
    /// (`ghcr.io/a/b:1` stays as it is; `a/b:1` becomes `<registry>/a/b:1`).
    pub fn reference(&self, image: &str) -> String {
        let registry = self.registry.trim_end_matches('/');
        if registry.is_empty() || has_registry_host(image) {
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

/// Where the profile comes from: exactly one of `dir`, `url`, `configMap`; plus the input and
/// waiver files the agent passes to the scanner.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Profile {
    /// A local profile directory, rendered into a ConfigMap that keeps its tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// An object-store URL the agent fetches (for profiles above the ConfigMap size limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An existing ConfigMap with encoded keys (`/` written as `__`) and the tree to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ProfileConfigMap>,
    /// The profile archive's SHA-256 (64 hex digits), checked by the agent after fetching
    /// `url`; required for `https://` URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Local input files (relative to the values file), passed as `--input-file`; with
    /// `inputsConfigMap`, keys of that ConfigMap instead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_files: Vec<String>,
    /// Local waiver files, passed as `--waiver-file`; with `inputsConfigMap`, keys of it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiver_files: Vec<String>,
    /// An existing ConfigMap holding the input and waiver files under the keys listed in
    /// `inputFiles`/`waiverFiles` (what the generator writes into the orchestrator's spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_config_map: Option<String>,
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
    /// A PEM CA bundle for a store endpoint with a private CA, from a ConfigMap or Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundle>,
}

/// A CA bundle in an existing ConfigMap or Secret (exactly one), under `key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaBundle {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default = "default_ca_bundle_key")]
    pub key: String,
}

fn default_ca_bundle_key() -> String {
    "ca.crt".into()
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
    /// An existing PriorityClass for the scan pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
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
    /// Where the orchestration Job's pod may run (as `scheduling` for the scan pod).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
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

/// The runner image of this release (orchestration and audit Jobs).
pub(crate) fn default_runner_image() -> String {
    concat!("sidescan-runner:", env!("CARGO_PKG_VERSION")).into()
}
fn default_active_deadline() -> i64 {
    1800
}
/// A finished Job stays a day for its logs, then goes.
pub(crate) fn default_ttl_after_finished() -> i32 {
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
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            affinity: None,
            priority_class_name: None,
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
    fn yaml_numbers_are_quantities_and_negatives_are_refused() {
        let spec: ScanSpec = serde_json::from_value(serde_json::json!({
            "target": {"name": "n", "image": "nginx", "resources": {"requests": {"cpu": 2}, "limits": {"cpu": 2.5}}},
            "security": {"runAsUser": 101},
            "scanner": {"backend": "builtin", "resultsSizeLimit": 1048576},
        }))
        .unwrap();
        assert_eq!(spec.target.resources.requests["cpu"], "2");
        assert_eq!(spec.scanner.results_size_limit, "1048576");
        spec.validate().unwrap();
        let mut spec = minimal();
        spec.target
            .resources
            .limits
            .insert("memory".into(), "-1Gi".into());
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("must not be negative"), "{err}");
        let mut spec = minimal();
        spec.target
            .resources
            .requests
            .insert("memory".into(), "1Gi".into());
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.contains("must not exceed the limit 512Mi"), "{err}");
    }

    #[test]
    fn huge_values_give_one_short_line() {
        let mut spec = minimal();
        spec.schedule.cron = "x".repeat(100_000);
        let err = spec.validate().unwrap_err().to_string();
        assert!(err.len() < 400 && !err.contains('\n'), "{}", err.len());
    }

    #[test]
    fn registry_prefix_only_for_references_without_a_host() {
        let images = Images {
            registry: "mirror.local:5000/".into(),
            ..Images::default()
        };
        assert_eq!(
            images.reference("nginx:1.27"),
            "mirror.local:5000/nginx:1.27"
        );
        assert_eq!(
            images.reference("ghcr.io/example/checkout:2.4.1"),
            "ghcr.io/example/checkout:2.4.1"
        );
        assert_eq!(images.reference("localhost/a:dev"), "localhost/a:dev");
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
