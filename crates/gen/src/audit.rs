//! The manifests of a batch audit: `render audit-job` and `render audit-cronjob` write the
//! audit's RBAC (least privilege: read the selected workloads, write clones only where they run;
//! docs/security.md gives each rule's reason), its ConfigMaps (the resolved audit spec, and the
//! profile and threshold files when they are local) and the Job or CronJob that runs
//! `sidescan-runner audit`.
//!
//! [`build`] is pure (spec + file contents + Kubernetes version -> render data); the templates
//! only lay out fields.

use crate::admission::{Fence, service_account_user};
use crate::context::DEFAULT_SERVICE_ACCOUNT;
use crate::context::{
    ConfigMapContext, CronJobSchedule, RunnerJob, api_and_store_env, credentials, env_value,
    image_pull_secrets, resources, use_rendered_config_maps,
};
use crate::inputs::Inputs;
use crate::{GenError, KubeVersion};
use serde::Serialize;
use serde_json::Value;
use sidescan_core::audit::{
    AUDIT_SPEC_KEY, AUDIT_SPEC_MOUNT_PATH, AuditSecurityMode, AuditSpec, PlacementMode, RunMode,
};
use sidescan_core::labels::{self, Component};
use sidescan_core::spec::{THRESHOLDS_KEY, THRESHOLDS_MOUNT_PATH};
use std::collections::BTreeMap;
use std::path::Path;

/// The audit's templates, from the crate's `templates/` directory.
pub const TEMPLATES: [(&str, &str); 4] = [
    (
        "audit-rbac",
        include_str!("../templates/audit-rbac.yaml.hbs"),
    ),
    ("audit-job", include_str!("../templates/audit-job.yaml.hbs")),
    (
        "audit-cronjob",
        include_str!("../templates/audit-cronjob.yaml.hbs"),
    ),
    (
        "audit-job-spec",
        include_str!("../templates/partials/audit-job-spec.yaml.hbs"),
    ),
];

/// The documented default audit spec `sidescan-gen values --audit` prints.
pub const DEFAULT_AUDIT_VALUES: &str = include_str!("../templates/audit-values.yaml");

/// UID the audit runner runs as (the distroless `nonroot` user).
pub const RUNNER_UID: i64 = 65532;

/// What to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Job,
    CronJob,
}

impl AuditKind {
    pub fn parse(name: &str) -> Option<AuditKind> {
        match name {
            "audit-job" => Some(AuditKind::Job),
            "audit-cronjob" => Some(AuditKind::CronJob),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            AuditKind::Job => "audit-job",
            AuditKind::CronJob => "audit-cronjob",
        }
    }
}

/// Where the audit may write clones: one namespace, a list, or every namespace.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    pub cluster_wide: bool,
    pub namespaces: Vec<String>,
}

/// One RBAC rule, as rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> Rule {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect();
    Rule {
        api_groups: vec![group.to_string()],
        resources: strings(resources),
        verbs: strings(verbs),
    }
}

/// What discovery lists: the selected kinds (a CronJob's Jobs too), and always pods and
/// ServiceAccounts (bare pods, running digests, pull secrets). Exactly the `list` calls of
/// `sidescan-runner audit`'s discovery.
pub fn read_rules(spec: &AuditSpec) -> Vec<Rule> {
    use sidescan_core::audit::WorkloadKind as K;
    let wants = |k: K| spec.select.kinds.contains(&k);
    let mut rules = Vec::new();
    let apps: Vec<&str> = [
        (K::Deployment, "deployments"),
        (K::StatefulSet, "statefulsets"),
        (K::DaemonSet, "daemonsets"),
    ]
    .into_iter()
    .filter(|(k, _)| wants(*k))
    .map(|(_, r)| r)
    .collect();
    if !apps.is_empty() {
        rules.push(rule("apps", &apps, &["list"]));
    }
    let mut batch = Vec::new();
    if wants(K::Job) || wants(K::CronJob) {
        batch.push("jobs");
    }
    if wants(K::CronJob) {
        batch.push("cronjobs");
    }
    if !batch.is_empty() {
        rules.push(rule("batch", &batch, &["list"]));
    }
    rules.push(rule("", &["pods", "serviceaccounts"], &["list"]));
    rules
}

/// Where clones run: create them, watch them (a label-selected `list` and `watch` per
/// namespace), delete them by name, list a late clone's events, and create each clone's copy
/// of the profile when the profile must be copied. Exactly the calls of `sidescan-runner
/// audit`'s controller and cleanup.
pub fn clone_rules(spec: &AuditSpec) -> Vec<Rule> {
    let mut rules = vec![rule("", &["pods"], &["create", "list", "watch", "delete"])];
    if spec.copies_profile() {
        rules.push(rule("", &["configmaps"], &["create"]));
    }
    rules.push(rule("", &["events"], &["list"]));
    rules
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRbac {
    pub service_account: String,
    /// Reads workloads, pods and ServiceAccounts (ClusterRole; bound per namespace or cluster-wide).
    pub read_role: String,
    pub read: Scope,
    pub read_rules: Vec<Rule>,
    /// Lists namespaces (every namespace) or gets the named ones.
    pub namespaces_role: String,
    pub named_namespaces: Vec<String>,
    /// Creates, watches and deletes clones, creates their profile copies; lists pod events.
    pub clones_role: String,
    pub clones: Scope,
    pub clone_rules: Vec<Rule>,
    /// Reads the profile ConfigMap to copy it beside workload-namespace clones.
    pub profile_config_map: Option<String>,
    pub profile_role: String,
    /// The ValidatingAdmissionPolicies fencing what the audit's ServiceAccount may create and
    /// delete where clones run.
    pub admission: crate::admission::Admission,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditJob {
    pub name: String,
    pub cronjob_name: String,
    pub host_network: bool,
    #[serde(flatten)]
    pub runner: RunnerJob,
    #[serde(flatten)]
    pub schedule: CronJobSchedule,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditGates {
    pub cronjob_api_version: &'static str,
    pub ttl_after_finished: bool,
    pub seccomp_field: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditRenderContext {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub kube: AuditGates,
    pub rbac: AuditRbac,
    pub spec_mount_path: &'static str,
    pub thresholds_mount_path: &'static str,
    pub spec_config_map_name: String,
    pub job: AuditJob,
    #[serde(skip)]
    pub spec_config_map: ConfigMapContext,
    #[serde(skip)]
    pub profile: Option<ConfigMapContext>,
    #[serde(skip)]
    pub thresholds: Option<ConfigMapContext>,
}

/// `sidescan-<name>-<suffix>`.
fn object(spec: &AuditSpec, suffix: &str) -> String {
    format!("sidescan-{}-{suffix}", spec.name)
}

/// The spec the Job reads: local files replaced by the ConfigMaps rendered from them.
pub fn resolved_spec(spec: &AuditSpec, inputs: &Inputs) -> AuditSpec {
    let mut resolved = spec.clone();
    use_rendered_config_maps(
        resolved.profile.as_mut(),
        resolved.thresholds.as_mut(),
        inputs,
        object(spec, "profile"),
        object(spec, "thresholds"),
    );
    resolved
}

/// What the audit's ServiceAccount creates: clones as `sidescan-runner audit` builds them (the
/// pinned scanner and hold installer, no token, no Secret: the scanner uploads through presigned
/// URLs) and their profile ConfigMaps, where clones run.
fn clone_fence(spec: &AuditSpec, object_labels: &BTreeMap<String, String>) -> Fence {
    let scanner_image = spec.images.reference(&spec.scanner.image);
    Fence {
        base_name: "sidescan-clone".into(),
        name_suffix: format!("{}.{}", spec.name, spec.namespace),
        labels: object_labels.clone(),
        annotations: BTreeMap::new(),
        users: vec![service_account_user(
            &spec.namespace,
            &format!("sidescan-{}", spec.name),
        )],
        namespaces: spec.clone_namespaces(),
        pod_component: Component::AuditClone.as_str(),
        id_label: labels::AUDIT_ID,
        target_label: None,
        pod_name: None,
        service_account: DEFAULT_SERVICE_ACCOUNT.to_string(),
        api_token_volume: None,
        scanner_container: spec.scanner.container.clone(),
        scanner_image,
        ptrace: spec.security.mode != AuditSecurityMode::SameUid,
        target: None,
        hold: (spec.target.run == RunMode::Hold).then(|| {
            (
                sidescan_core::audit::HOLD_CONTAINER.to_string(),
                sidescan_core::audit::install_hold_args(),
            )
        }),
        host_network: spec.cluster.host_network,
        volume_secrets: Vec::new(),
        // Clones get presigned uploads, never credentials.
        scanner_env_secrets: Vec::new(),
        target_env_from_secrets: Vec::new(),
        claims: Vec::new(),
        other_volumes: Vec::new(),
    }
}

/// The audit's render data.
pub fn build(
    spec: &AuditSpec,
    inputs: &Inputs,
    kube: KubeVersion,
) -> Result<AuditRenderContext, GenError> {
    let schedule = CronJobSchedule::new(&spec.schedule, kube)?;
    // Long-lived objects carry the audit's name, not an audit id (each run has its own).
    let labels = BTreeMap::from([
        (labels::APP_NAME.to_string(), "sidescan".to_string()),
        (labels::APP_INSTANCE.to_string(), spec.name.clone()),
        (
            labels::APP_COMPONENT.to_string(),
            Component::Audit.as_str().to_string(),
        ),
        (labels::APP_PART_OF.to_string(), labels::PART_OF.to_string()),
        (
            labels::APP_MANAGED_BY.to_string(),
            labels::MANAGED_BY.to_string(),
        ),
    ]);
    let base = format!("sidescan-{}", spec.name);
    let cluster_prefix = format!("sidescan-{}-{}", spec.namespace, spec.name);
    let selected: Vec<String> = spec
        .select
        .namespaces
        .iter()
        .filter(|ns| !spec.select.exclude_namespaces.contains(ns))
        .cloned()
        .collect();
    let all_namespaces = spec.select.namespaces.is_empty();
    let clones = match spec.placement.mode {
        PlacementMode::ScanNamespace => Scope {
            cluster_wide: false,
            namespaces: vec![spec.scan_namespace().to_string()],
        },
        PlacementMode::WorkloadNamespace => Scope {
            cluster_wide: all_namespaces,
            namespaces: if all_namespaces {
                vec![]
            } else {
                selected.clone()
            },
        },
    };
    let profile_cm_name = match (&spec.profile, &inputs.profile) {
        (_, Some(_)) => Some(object(spec, "profile")),
        (Some(p), None) => p.config_map.as_ref().map(|c| c.name.clone()),
        _ => None,
    };
    let rbac = AuditRbac {
        service_account: base.clone(),
        read_role: format!("{cluster_prefix}-read"),
        read: Scope {
            cluster_wide: all_namespaces,
            namespaces: if all_namespaces {
                vec![]
            } else {
                selected.clone()
            },
        },
        read_rules: read_rules(spec),
        namespaces_role: format!("{cluster_prefix}-namespaces"),
        named_namespaces: spec.select.namespaces.clone(),
        clones_role: format!("{cluster_prefix}-clones"),
        clones,
        clone_rules: clone_rules(spec),
        profile_config_map: profile_cm_name.filter(|_| spec.copies_profile()),
        profile_role: format!("{base}-profile"),
        admission: crate::admission::policies(&clone_fence(spec, &labels), kube),
    };

    let profile = inputs.profile.as_ref().map(|files| {
        let (data, binary_data) = crate::context::profile_config_map_data(files);
        ConfigMapContext {
            name: object(spec, "profile"),
            labels: labels.clone(),
            annotations: BTreeMap::new(),
            data,
            binary_data,
        }
    });
    let thresholds = inputs.thresholds.as_ref().map(|text| ConfigMapContext {
        name: object(spec, "thresholds"),
        labels: labels.clone(),
        annotations: BTreeMap::new(),
        data: BTreeMap::from([(THRESHOLDS_KEY.to_string(), text.clone())]),
        binary_data: BTreeMap::new(),
    });
    let thresholds_config_map = spec.thresholds.as_ref().and_then(|t| {
        t.config_map
            .clone()
            .or_else(|| t.file.as_ref().map(|_| object(spec, "thresholds")))
    });
    let resolved = resolved_spec(spec, inputs);
    let spec_text = serde_json::to_string_pretty(&resolved).unwrap_or_default() + "\n";

    let mut env = api_and_store_env(spec.cluster.api_server.as_ref(), &spec.results);
    env.push(env_value("AWS_EC2_METADATA_DISABLED", "true"));
    let pull_policy = spec.images.pull_policy.as_str();
    let job = AuditJob {
        name: base.clone(),
        cronjob_name: base.clone(),
        host_network: spec.cluster.host_network,
        runner: RunnerJob {
            image: spec.images.reference(&spec.runner.image),
            pull_policy,
            args: vec![
                "audit".into(),
                "--spec".into(),
                format!("{AUDIT_SPEC_MOUNT_PATH}/{AUDIT_SPEC_KEY}"),
                "--in-job".into(),
            ],
            env,
            credentials: credentials(&spec.results),
            resources: resources(&spec.runner.resources),
            run_as_user: RUNNER_UID,
            image_pull_secrets: image_pull_secrets(&spec.images),
            active_deadline_seconds: spec.runner.active_deadline_seconds,
            backoff_limit: spec.runner.backoff_limit,
            ttl_seconds_after_finished: spec.runner.ttl_seconds_after_finished,
            thresholds_config_map,
        },
        schedule,
    };
    Ok(AuditRenderContext {
        namespace: spec.namespace.clone(),
        labels: labels.clone(),
        kube: AuditGates {
            cronjob_api_version: kube.cronjob_api_version(),
            ttl_after_finished: kube.has_ttl_after_finished(),
            seccomp_field: kube.has_seccomp_field(),
        },
        rbac,
        spec_mount_path: AUDIT_SPEC_MOUNT_PATH,
        thresholds_mount_path: THRESHOLDS_MOUNT_PATH,
        spec_config_map_name: object(spec, "spec"),
        job,
        spec_config_map: ConfigMapContext {
            name: object(spec, "spec"),
            labels,
            annotations: BTreeMap::new(),
            data: BTreeMap::from([(AUDIT_SPEC_KEY.to_string(), spec_text)]),
            binary_data: BTreeMap::new(),
        },
        profile,
        thresholds,
    })
}

/// Renders the audit's documents: RBAC, ConfigMaps, then the Job or CronJob.
pub fn render(
    generator: &crate::Generator,
    kind: AuditKind,
    ctx: &AuditRenderContext,
) -> Result<Vec<String>, GenError> {
    let data = serde_json::to_value(ctx).map_err(|e| GenError::Render {
        template: "audit".into(),
        message: e.to_string(),
    })?;
    let mut main = handlebars::Context::from(data);
    let job_spec = generator.text("audit-job-spec", &main)?;
    let data = main.data_mut();
    data["job_spec_2"] = Value::String(crate::indent(&job_spec, 2));
    data["job_spec_6"] = Value::String(crate::indent(&job_spec, 6));
    let mut docs = crate::split_documents(&generator.text("audit-rbac", &main)?);
    docs.extend(generator.config_map_in(&ctx.namespace, &ctx.spec_config_map)?);
    for cm in ctx.profile.iter().chain(ctx.thresholds.iter()) {
        docs.extend(generator.config_map_in(&ctx.namespace, cm)?);
    }
    let template = match kind {
        AuditKind::Job => "audit-job",
        AuditKind::CronJob => "audit-cronjob",
    };
    docs.extend(crate::split_documents(&generator.text(template, &main)?));
    Ok(docs)
}

/// The whole path from audit spec to documents: reads the spec's files relative to `base_dir`.
pub fn generate(
    generator: &crate::Generator,
    spec: &AuditSpec,
    base_dir: &Path,
    kube: KubeVersion,
    kind: AuditKind,
) -> Result<Vec<String>, GenError> {
    let inputs = crate::inputs::load_audit_inputs(spec, base_dir)?;
    let ctx = build(spec, &inputs, kube)?;
    render(generator, kind, &ctx)
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
