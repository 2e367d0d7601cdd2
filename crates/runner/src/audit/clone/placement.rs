//! Where and as whom the clone runs: the namespaces it may be created in, and the pod-level
//! settings. What decides where and as whom the container runs stays (security context, node
//! selector, node affinity, tolerations, runtime class, DNS); what ties the pod to the workload
//! or the host goes and is listed (host namespaces, init containers, pod (anti-)affinity,
//! topology spread, priority).

use super::{CloneRefused, pod_seconds};
use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::{Affinity, LocalObjectReference, PodSpec};
use sidescan_core::audit::AuditSpec;

/// Refuses a namespace the spec does not place clones in (`kube-system` only when named).
pub(super) fn check_namespace(spec: &AuditSpec, namespace: &str) -> Result<(), CloneRefused> {
    if spec.clone_namespaces().allows(namespace) {
        return Ok(());
    }
    Err(CloneRefused(format!(
        "clones do not run in namespace {}: {} (name it in select.namespaces, or use \
         placement.mode scan-namespace)",
        namespace,
        if namespace == sidescan_core::audit::KUBE_SYSTEM {
            "kube-system only when the audit spec names it"
        } else {
            "the audit spec does not place clones there"
        }
    )))
}

/// The template's pod-level settings the clone does not reproduce, for the record.
pub(super) fn not_reproduced(template: &PodSpec, spec: &AuditSpec) -> Vec<String> {
    let mut dropped = Vec::new();
    if template.host_pid == Some(true) {
        dropped.push(
            "hostPID (the clone shares a process namespace between its own containers)".into(),
        );
    }
    if template.host_ipc == Some(true) {
        dropped.push("hostIPC".into());
    }
    if template.host_network == Some(true) && !spec.cluster.host_network {
        dropped.push("hostNetwork".into());
    }
    if template
        .init_containers
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        dropped.push("init containers (they do not run in clones)".into());
    }
    if template
        .affinity
        .as_ref()
        .is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
    {
        dropped.push("pod affinity and anti-affinity".into());
    }
    if template.topology_spread_constraints.is_some() {
        dropped.push("topology spread constraints".into());
    }
    if template.priority_class_name.is_some() {
        dropped.push("priority class".into());
    }
    dropped
}

/// Node affinity only: pod (anti-)affinity references the workload's labels, and a clone must
/// not wait for or repel production pods.
pub(super) fn node_affinity(template: &PodSpec) -> Option<Affinity> {
    template.affinity.as_ref().and_then(|a| {
        a.node_affinity.as_ref().map(|node| Affinity {
            node_affinity: Some(node.clone()),
            ..Affinity::default()
        })
    })
}

fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The template's pull secrets, then its ServiceAccount's (the clone runs under another one),
/// then the spec's; each once.
pub(super) fn pull_secrets(
    template: &PodSpec,
    target: &Target,
    spec: &AuditSpec,
) -> Option<Vec<LocalObjectReference>> {
    let names = dedup(
        template
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|r| r.name.clone())
            .chain(target.service_account_pull_secrets.iter().cloned())
            .chain(spec.images.pull_secrets.iter().cloned()),
    );
    (!names.is_empty()).then(|| {
        names
            .into_iter()
            .map(|name| LocalObjectReference { name })
            .collect()
    })
}

/// The clone's pod spec without its containers and volumes: a disposable pod with no token,
/// sharing its process namespace, ended by its deadline, placed where the workload may run.
pub(super) fn pod_spec(template: &PodSpec, target: &Target, spec: &AuditSpec) -> PodSpec {
    PodSpec {
        restart_policy: Some("Never".into()),
        share_process_namespace: Some(true),
        automount_service_account_token: Some(false),
        active_deadline_seconds: Some(pod_seconds(spec) as i64),
        termination_grace_period_seconds: Some(5),
        host_network: spec.cluster.host_network.then_some(true),
        image_pull_secrets: pull_secrets(template, target, spec),
        security_context: template.security_context.clone(),
        node_selector: template.node_selector.clone(),
        affinity: node_affinity(template),
        tolerations: template.tolerations.clone(),
        runtime_class_name: template.runtime_class_name.clone(),
        host_aliases: template.host_aliases.clone(),
        host_users: template.host_users,
        enable_service_links: template.enable_service_links,
        dns_config: template.dns_config.clone(),
        os: template.os.clone(),
        ..PodSpec::default()
    }
}
