//! The clone builder, pure: a target (a workload's pod template and one of its containers) in,
//! the scan pod that scans it out.
//!
//! The clone keeps what makes the scan see what production runs: the container's image,
//! environment, working directory, security contexts, the ConfigMap volumes it mounts (when it
//! runs in the workload's namespace), node selector, node affinity and tolerations. It drops what
//! would make it act like production: the workload's labels (no Service, controller,
//! PodDisruptionBudget or NetworkPolicy written for the workload selects it), its ServiceAccount
//! token, probes, lifecycle hooks, ports, host namespaces, pod (anti-)affinity, priority; volumes
//! that cannot be shared safely become empty directories and are listed as not scanned. By
//! default the target runs the static `hold` program instead of its entrypoint.
//!
//! What the admission policy beside the audit's Role refuses, a clone never carries: Secrets
//! (volumes, projected sources, `secretKeyRef` and `envFrom` Secret references are left out and
//! listed), `privileged` and capabilities beyond Pod Security baseline (left out and listed),
//! and namespaces the spec does not place clones in (`kube-system` unless named).
//!
//! One pure builder per part of the pod: [`metadata`] (name, labels, annotations, owner),
//! [`target`] (the target container), [`volumes`] (the workload's volumes and sidescan's own),
//! [`scanner`] (the scanner sidecar and its security context), [`hold`] (the init container that
//! installs `hold`), [`placement`] (where the clone may run and the pod-level settings it keeps).
//! [`build`] checks the target can be cloned and puts the parts together.

mod hold;
mod metadata;
mod placement;
mod scanner;
mod target;
mod volumes;

pub use metadata::clone_name;

use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use sidescan_core::RunId;
use sidescan_core::audit::record::VolumeNote;
use sidescan_core::audit::{AuditId, AuditSpec};
use sidescan_core::spec::Resources;
use std::collections::BTreeMap;

/// The init container that brings `hold` in.
pub use sidescan_core::audit::HOLD_CONTAINER;
/// Volumes sidescan adds; a workload volume with one of these names cannot be cloned.
pub const HOLD_VOLUME: &str = "sidescan-hold";
pub const RESULTS_VOLUME: &str = "sidescan-results";
pub const TMP_VOLUME: &str = "sidescan-tmp";
pub const PROFILE_VOLUME: &str = "sidescan-profile";
/// The UID the hold installer runs as (the distroless `nonroot` user).
pub const INSTALLER_UID: i64 = 65532;
/// The environment variable that carries the audit context into the agent's `metadata.json`.
pub const AUDIT_CONTEXT_ENV: &str = "SIDESCAN_AUDIT_CONTEXT";
/// Seconds `hold` and the pod outlive the target's deadline, so the controller, not the clock,
/// ends a clone.
pub const DEADLINE_MARGIN_SECONDS: u64 = 60;

/// Why a clone mounts and reads no Secret of the workload.
pub const SECRETS_NOT_MOUNTED: &str = "Secrets are never mounted into clones: the admission policy \
     beside the audit's Role refuses them, so the audit's token cannot reach a namespace's Secrets \
     through a pod";

/// A profile ConfigMap in the clone's namespace and the files to restore from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileMount {
    pub config_map: String,
    pub files: Vec<String>,
}

/// Everything besides the target that decides a clone.
#[derive(Debug, Clone)]
pub struct CloneRequest<'a> {
    pub spec: &'a AuditSpec,
    pub audit_id: &'a AuditId,
    pub run_id: &'a RunId,
    /// The namespace the clone runs in ([`AuditSpec::clone_namespace`]).
    pub namespace: &'a str,
    /// The audit Job, when the clone runs in its namespace (owner references cannot cross
    /// namespaces).
    pub owner: Option<OwnerReference>,
    pub profile: Option<ProfileMount>,
    /// `securityContext.seccompProfile` (Kubernetes 1.19+); the annotation before.
    pub seccomp_field: bool,
    /// When the clone is created (RFC 3339), recorded with its expiry in annotations.
    pub now: jiff::Timestamp,
    /// The run's folder and presigned uploads: the scanner gets these, never credentials.
    pub binding: Option<&'a crate::binding::RunBinding>,
}

/// A clone and what it does not reproduce of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Clone {
    pub pod: Pod,
    pub volumes_not_scanned: Vec<VolumeNote>,
    /// Environment entries and sources the clone leaves out (Secret and ConfigMap references
    /// in a scan namespace).
    pub env_not_reproduced: Vec<String>,
    /// Pod and container settings that are not reproduced, for the record.
    pub not_reproduced: Vec<String>,
    /// `same-uid` or `ptrace`.
    pub security_mode: &'static str,
}

/// Why a target cannot be cloned: it is reported as not scanned with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneRefused(pub String);

impl std::fmt::Display for CloneRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `hold` is told to wait: the target's deadline and a margin.
fn hold_seconds(spec: &AuditSpec) -> u64 {
    spec.target_deadline_seconds + DEADLINE_MARGIN_SECONDS
}

/// The pod's own deadline (and its expiry): a margin beyond `hold`'s, so a clone whose audit
/// died still ends.
fn pod_seconds(spec: &AuditSpec) -> u64 {
    hold_seconds(spec) + DEADLINE_MARGIN_SECONDS
}

fn quantities(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, Quantity>> {
    (!map.is_empty()).then(|| {
        map.iter()
            .map(|(k, v)| (k.clone(), Quantity(v.clone())))
            .collect()
    })
}

fn resources(r: &Resources) -> ResourceRequirements {
    ResourceRequirements {
        requests: quantities(&r.requests),
        limits: quantities(&r.limits),
        ..ResourceRequirements::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// The pod template and the target's container in it, or why the target cannot be cloned.
fn cloneable<'t>(
    target: &'t Target,
    spec: &AuditSpec,
) -> Result<(&'t PodSpec, &'t Container), CloneRefused> {
    let refuse = |why: String| Err(CloneRefused(why));
    let Some(pod_spec) = target.template.spec.as_ref() else {
        return refuse("the workload has no pod template".into());
    };
    let Some(original) = pod_spec
        .containers
        .iter()
        .find(|c| c.name == target.container)
    else {
        return refuse(format!(
            "container {} is not in the pod template",
            target.container
        ));
    };
    if pod_spec.os.as_ref().is_some_and(|os| os.name == "windows") {
        return refuse("Windows containers cannot be scanned (no shared /proc)".into());
    }
    // The clone adds these; a second one of the same name would make an invalid pod.
    let ours = [HOLD_VOLUME, RESULTS_VOLUME, TMP_VOLUME, PROFILE_VOLUME];
    if let Some(v) = pod_spec
        .volumes
        .iter()
        .flatten()
        .find(|v| ours.contains(&v.name.as_str()))
    {
        return refuse(format!(
            "the pod template has a volume named {}, which sidescan uses",
            v.name
        ));
    }
    if [spec.scanner.container.as_str(), HOLD_CONTAINER].contains(&original.name.as_str()) {
        return refuse(format!(
            "the container's name {} is one sidescan uses",
            original.name
        ));
    }
    Ok((pod_spec, original))
}

/// Builds the scan pod of `target`.
pub fn build(target: &Target, req: &CloneRequest<'_>) -> Result<Clone, CloneRefused> {
    let spec = req.spec;
    placement::check_namespace(spec, req.namespace)?;
    let (pod_spec, original) = cloneable(target, spec)?;

    let (mut pod_volumes, volumes_not_scanned) =
        volumes::workload_volumes(pod_spec, original, spec.placement.mode, req.namespace);
    let target_part = target::container(original, &volumes_not_scanned, spec);
    // Refusals keep one order: an impossible security mode before a missing profile.
    let (security, security_mode) = scanner::security(pod_spec, original, spec, req.seccomp_field)?;
    let profile = volumes::profile(spec, req)?;
    let context = scanner::audit_context(
        target,
        req,
        security_mode,
        &volumes_not_scanned,
        &target_part.env_not_reproduced,
    );
    let scanner = scanner::container(target, req, security, &context, profile.is_some());
    pod_volumes.extend(volumes::sidescan_volumes(spec, profile));

    let mut not_reproduced = target_part.not_reproduced;
    not_reproduced.extend(placement::not_reproduced(pod_spec, spec));
    let pod = Pod {
        metadata: metadata::object_meta(target, req),
        spec: Some(PodSpec {
            containers: vec![target_part.container, scanner],
            init_containers: hold::init_container(spec, req.seccomp_field).map(|c| vec![c]),
            volumes: Some(pod_volumes),
            ..placement::pod_spec(pod_spec, target, spec)
        }),
        ..Pod::default()
    };
    Ok(Clone {
        pod,
        volumes_not_scanned,
        env_not_reproduced: target_part.env_not_reproduced,
        not_reproduced,
        security_mode,
    })
}

#[cfg(test)]
pub(crate) mod tests;
