//! Batch audits: many workloads, none touched. The audit spec says which workloads and
//! containers to scan ([`Select`]), how each clone runs ([`AuditTarget`], [`Placement`],
//! [`AuditSecurity`]) and the scan settings it shares with the scan spec (scanner, images,
//! profile, thresholds, results store, cluster quirks). Pure serde types: unknown keys are errors
//! everywhere.
//!
//! Also here: the audit id ([`AuditId`]), the records an audit writes (`audit.json` and one
//! progress record per target, [`record`]) and the label [`selector`] syntax.

use crate::spec::{
    Cluster, Images, Profile, Resources, Results, Scanner, Schedule, Thresholds,
    default_runner_image, default_ttl_after_finished,
};
use serde::{Deserialize, Serialize};

mod id;
pub mod record;
pub mod selector;
mod validate;

pub use id::AuditId;
pub use validate::{AuditSpecError, from_value};

/// Where the audit Job sees the audit spec ConfigMap.
pub const AUDIT_SPEC_MOUNT_PATH: &str = "/etc/sidescan/audit";
/// The key (and file name) of the resolved audit spec in its ConfigMap.
pub const AUDIT_SPEC_KEY: &str = "audit-spec.yaml";
/// Where clones mount the volume that carries the `hold` program.
pub const HOLD_MOUNT_PATH: &str = "/.sidescan-hold";
/// The `hold` program's file name inside [`HOLD_MOUNT_PATH`].
pub const HOLD_FILE: &str = "hold";
/// Where the scanner image keeps the static `hold` program `install-hold` copies.
pub const HOLD_SOURCE_PATH: &str = "/usr/local/lib/sidescan/hold";
/// The clones' init container that brings `hold` in (the scanner image).
pub const HOLD_CONTAINER: &str = "sidescan-hold";

/// The hold installer's arguments: `install-hold /.sidescan-hold/hold`.
pub fn install_hold_args() -> Vec<String> {
    vec![
        crate::scanner::INSTALL_HOLD_SUBCOMMAND.to_string(),
        format!("{HOLD_MOUNT_PATH}/{HOLD_FILE}"),
    ]
}

/// The whole audit spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSpec {
    /// The audit's name: its Job, CronJob, ServiceAccount and ConfigMaps are
    /// `sidescan-<name>[-...]`.
    #[serde(default = "default_name")]
    pub name: String,
    /// A name for the cluster, recorded in `audit.json` so reports across clusters tell them
    /// apart; with several clusters in one bucket, give each its own `results.storeUrl` prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// The audit's own namespace: its Job, RBAC and spec ConfigMap, and the clones unless
    /// `placement` says otherwise.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default)]
    pub select: Select,
    #[serde(default)]
    pub target: AuditTarget,
    #[serde(default)]
    pub placement: Placement,
    #[serde(default)]
    pub scanner: Scanner,
    #[serde(default)]
    pub images: Images,
    #[serde(default)]
    pub security: AuditSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    #[serde(default)]
    pub results: Results,
    #[serde(default)]
    pub cluster: Cluster,
    /// Targets scanned at the same time.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Seconds one target may take, from creating its clone to its verdict.
    #[serde(default = "default_target_deadline")]
    pub target_deadline_seconds: u64,
    /// Retries of a target that failed for an infrastructure reason.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default)]
    pub runner: AuditRunner,
    #[serde(default)]
    pub schedule: Schedule,
    /// Who hears about new failures at the end of the audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
}

/// Notifications at the end of an audit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notify {
    /// A webhook that gets the new failures (nothing is sent when nothing newly fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

/// A webhook: the URL often holds a secret (Slack's does), so it is never logged or recorded;
/// only its host is.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("host", &webhook_host(&self.url))
            .field("format", &self.format)
            .finish()
    }
}

/// The host of a webhook URL (what logs and `audit.json` name), `?` when it has none.
pub fn webhook_host(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "?".into())
}

/// The body a webhook gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookFormat {
    /// Slack's incoming webhooks (and compatible chats: Mattermost, Rocket.Chat): `text` and
    /// `blocks`.
    Slack,
    /// A generic JSON document.
    #[default]
    Json,
}

impl WebhookFormat {
    pub const fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Slack => "slack",
            WebhookFormat::Json => "json",
        }
    }
}

fn default_name() -> String {
    "audit".into()
}
fn default_namespace() -> String {
    "sidescan".into()
}
fn default_concurrency() -> u32 {
    4
}
fn default_target_deadline() -> u64 {
    600
}
fn default_retries() -> u32 {
    1
}

/// Which workloads and containers are targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Select {
    /// Namespaces to audit; empty: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Namespaces never audited (applied after `namespaces`).
    #[serde(default)]
    pub exclude_namespaces: Vec<String>,
    /// Label selector on the workloads' own labels (`app=web,tier in (a,b)`); empty: all.
    #[serde(default)]
    pub label_selector: String,
    #[serde(default = "WorkloadKind::all")]
    pub kinds: Vec<WorkloadKind>,
    /// Container names to scan; empty: every container (init containers are never targets).
    #[serde(default)]
    pub containers: Vec<String>,
    /// Only containers running one of these images (exact, or a repository without tag or
    /// digest); empty: any image.
    #[serde(default)]
    pub images: Vec<String>,
}

impl Default for Select {
    fn default() -> Self {
        Select {
            namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            label_selector: String::new(),
            kinds: WorkloadKind::all(),
            containers: Vec::new(),
            images: Vec::new(),
        }
    }
}

/// The workload kinds an audit reads pod templates from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    /// A bare pod: no controller owns it.
    Pod,
}

impl WorkloadKind {
    pub const ALL: [WorkloadKind; 6] = [
        WorkloadKind::Deployment,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::Pod,
    ];

    pub fn all() -> Vec<WorkloadKind> {
        Self::ALL.to_vec()
    }

    /// The Kubernetes kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::Pod => "Pod",
        }
    }

    /// Lower case, as in result keys (`deployment.web.app`).
    pub const fn key(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
            WorkloadKind::DaemonSet => "daemonset",
            WorkloadKind::Job => "job",
            WorkloadKind::CronJob => "cronjob",
            WorkloadKind::Pod => "pod",
        }
    }

    pub fn parse(kind: &str) -> Option<WorkloadKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the target container of a clone runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditTarget {
    #[serde(default)]
    pub run: RunMode,
    /// The target container's resources while it runs `hold` (the workload's own with
    /// `run: entrypoint`).
    #[serde(default = "AuditTarget::hold_resources")]
    pub resources: Resources,
}

impl AuditTarget {
    pub fn hold_resources() -> Resources {
        Resources::of([("cpu", "10m"), ("memory", "16Mi")], "64Mi")
    }
}

impl Default for AuditTarget {
    fn default() -> Self {
        AuditTarget {
            run: RunMode::default(),
            resources: AuditTarget::hold_resources(),
        }
    }
}

/// What the clone's target container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunMode {
    /// The static `hold` program: the workload's code never runs a second time.
    #[default]
    Hold,
    /// The image's own entrypoint (and the template's command and args): only for images whose
    /// start has no side effects.
    Entrypoint,
}

impl RunMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            RunMode::Hold => "hold",
            RunMode::Entrypoint => "entrypoint",
        }
    }
}

/// Where clones run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Placement {
    #[serde(default)]
    pub mode: PlacementMode,
    /// The scan namespace for `scan-namespace` (default: the audit's `namespace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementMode {
    /// Every clone in one dedicated namespace: the audit writes only there, owner references
    /// collect leftovers; the workload's Secrets and ConfigMaps are not mounted.
    #[default]
    ScanNamespace,
    /// Each clone beside its workload: its Secrets and ConfigMaps mounted as in production; the
    /// audit writes pods and ConfigMaps in every audited namespace.
    WorkloadNamespace,
}

impl PlacementMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            PlacementMode::ScanNamespace => "scan-namespace",
            PlacementMode::WorkloadNamespace => "workload-namespace",
        }
    }
}

impl AuditSpec {
    /// The namespace a clone of a workload in `workload_namespace` runs in.
    pub fn clone_namespace<'a>(&'a self, workload_namespace: &'a str) -> &'a str {
        match self.placement.mode {
            PlacementMode::WorkloadNamespace => workload_namespace,
            PlacementMode::ScanNamespace => self.scan_namespace(),
        }
    }

    /// The dedicated scan namespace (meaningful for `scan-namespace`).
    pub fn scan_namespace(&self) -> &str {
        self.placement
            .namespace
            .as_deref()
            .unwrap_or(&self.namespace)
    }

    /// The namespaces clones (and their profile ConfigMaps) may be created in. `kube-system`
    /// only when the spec names it (as the scan namespace or in `select.namespaces`): auditing
    /// every namespace in `workload-namespace` mode leaves it out.
    pub fn clone_namespaces(&self) -> CloneNamespaces {
        match self.placement.mode {
            PlacementMode::ScanNamespace => {
                CloneNamespaces::Only(vec![self.scan_namespace().to_string()])
            }
            PlacementMode::WorkloadNamespace if !self.select.namespaces.is_empty() => {
                let mut named: Vec<String> = Vec::new();
                for ns in &self.select.namespaces {
                    if !self.select.exclude_namespaces.contains(ns) && !named.contains(ns) {
                        named.push(ns.clone());
                    }
                }
                CloneNamespaces::Only(named)
            }
            PlacementMode::WorkloadNamespace => {
                let mut excluded = self.select.exclude_namespaces.clone();
                if !excluded.iter().any(|ns| ns == KUBE_SYSTEM) {
                    excluded.push(KUBE_SYSTEM.to_string());
                }
                excluded.sort();
                excluded.dedup();
                CloneNamespaces::AllBut(excluded)
            }
        }
    }

    /// Whether clones mount a profile from a ConfigMap: the cinc backend with a profile that has
    /// no URL.
    pub fn clones_mount_profile(&self) -> bool {
        self.scanner.backend == crate::spec::ScanBackend::Cinc
            && self.profile.as_ref().is_some_and(|p| p.url.is_none())
    }

    /// Whether the audit copies the profile beside clones: they mount one and may run outside
    /// the audit's namespace, where its profile ConfigMap lives.
    pub fn copies_profile(&self) -> bool {
        self.clones_mount_profile()
            && match self.clone_namespaces() {
                CloneNamespaces::Only(list) => list.iter().any(|ns| *ns != self.namespace),
                CloneNamespaces::AllBut(_) => true,
            }
    }
}

/// The system namespace clones never run in unless an audit spec names it.
pub const KUBE_SYSTEM: &str = "kube-system";

/// Where an audit may create clones ([`AuditSpec::clone_namespaces`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloneNamespaces {
    /// These namespaces only.
    Only(Vec<String>),
    /// Every namespace but these.
    AllBut(Vec<String>),
}

impl CloneNamespaces {
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            CloneNamespaces::Only(list) => list.iter().any(|ns| ns == namespace),
            CloneNamespaces::AllBut(list) => !list.iter().any(|ns| ns == namespace),
        }
    }
}

/// How the scanner sidecar reads the target's root.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSecurity {
    #[serde(default)]
    pub mode: AuditSecurityMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditSecurityMode {
    /// `same-uid` where the pod template names a non-root UID for the container, else `ptrace`.
    #[default]
    Auto,
    /// The scanner runs as the UID the template names, every capability dropped; a container
    /// whose template names no non-root UID is not scanned.
    SameUid,
    /// The scanner keeps only `SYS_PTRACE` (as root unless the template names a UID).
    Ptrace,
}

impl AuditSecurityMode {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditSecurityMode::Auto => "auto",
            AuditSecurityMode::SameUid => "same-uid",
            AuditSecurityMode::Ptrace => "ptrace",
        }
    }
}

/// The audit Job and CronJob (`sidescan-runner audit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditRunner {
    #[serde(default = "default_runner_image")]
    pub image: String,
    #[serde(default = "default_active_deadline")]
    pub active_deadline_seconds: i64,
    /// Pod retries of the Job; a retried pod resumes the same audit.
    #[serde(default = "default_backoff_limit")]
    pub backoff_limit: i32,
    #[serde(default = "default_ttl_after_finished")]
    pub ttl_seconds_after_finished: i32,
    #[serde(default = "AuditRunner::default_resources")]
    pub resources: Resources,
}

fn default_active_deadline() -> i64 {
    21600
}
fn default_backoff_limit() -> i32 {
    2
}

impl AuditRunner {
    pub fn default_resources() -> Resources {
        Resources::of([("cpu", "100m"), ("memory", "64Mi")], "256Mi")
    }
}

impl Default for AuditRunner {
    fn default() -> Self {
        AuditRunner {
            image: default_runner_image(),
            active_deadline_seconds: default_active_deadline(),
            backoff_limit: default_backoff_limit(),
            ttl_seconds_after_finished: default_ttl_after_finished(),
            resources: AuditRunner::default_resources(),
        }
    }
}

/// The `<target>` segment of a target's result keys: `<kind>.<workload>.<container>`, e.g.
/// `deployment.web.app` (a DNS subdomain, so it is a valid key segment).
pub fn target_segment(kind: WorkloadKind, workload: &str, container: &str) -> String {
    format!("{}.{workload}.{container}", kind.key())
}

#[cfg(test)]
mod tests;
