//! Labels every object of a run carries, so that cleanup is one label-selected delete.

use crate::RunId;
use std::collections::BTreeMap;

pub const APP_NAME: &str = "app.kubernetes.io/name";
pub const APP_INSTANCE: &str = "app.kubernetes.io/instance";
pub const APP_COMPONENT: &str = "app.kubernetes.io/component";
pub const APP_PART_OF: &str = "app.kubernetes.io/part-of";
pub const APP_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const RUN_ID: &str = "sidescan.io/run-id";
pub const TARGET: &str = "sidescan.io/target";
/// The audit a clone, ConfigMap or Secret belongs to: one label-selected delete cleans it up.
pub const AUDIT_ID: &str = "sidescan.io/audit-id";

pub const PART_OF: &str = "sidescan";

/// The label keys sidescan sets on its objects; user labels may not replace them.
pub const RESERVED: [&str; 7] = [
    APP_NAME,
    APP_INSTANCE,
    APP_COMPONENT,
    APP_PART_OF,
    APP_MANAGED_BY,
    RUN_ID,
    TARGET,
];
pub const MANAGED_BY: &str = "sidescan";

/// Which piece of a run an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    ScanPod,
    Profile,
    Thresholds,
    Orchestrator,
    Scanner,
    /// A scan pod cloned from a workload's pod template by an audit.
    AuditClone,
    /// The audit runner's Job, CronJob, RBAC and spec ConfigMap.
    Audit,
    /// The metrics exporter's Deployment, Service and ServiceAccount.
    Exporter,
}

impl Component {
    pub const fn as_str(self) -> &'static str {
        match self {
            Component::ScanPod => "scan-pod",
            Component::Profile => "profile",
            Component::Thresholds => "thresholds",
            Component::Orchestrator => "orchestrator",
            Component::Scanner => "scanner",
            Component::AuditClone => "audit-clone",
            Component::Audit => "audit",
            Component::Exporter => "exporter",
        }
    }
}

/// The labels of one object of a run (BTreeMap: stable order in rendered YAML).
pub fn run_labels(target: &str, run_id: &RunId, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (APP_NAME.to_string(), "sidescan".to_string()),
        (APP_INSTANCE.to_string(), format!("{target}-{run_id}")),
        (APP_COMPONENT.to_string(), component.as_str().to_string()),
        (APP_PART_OF.to_string(), PART_OF.to_string()),
        (APP_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (RUN_ID.to_string(), run_id.to_string()),
        (TARGET.to_string(), target.to_string()),
    ])
}

/// The labels of an audit's clone (or its per-namespace ConfigMap, with another component):
/// sidescan's own labels only, so no Service, controller, PodDisruptionBudget or NetworkPolicy
/// written for the workload selects it. `target` is cut to a label value's 63 characters.
pub fn audit_labels(
    audit_id: &crate::audit::AuditId,
    run_id: Option<&RunId>,
    target: Option<&str>,
    component: Component,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (APP_NAME.to_string(), "sidescan".to_string()),
        (APP_INSTANCE.to_string(), audit_id.to_string()),
        (APP_COMPONENT.to_string(), component.as_str().to_string()),
        (APP_PART_OF.to_string(), PART_OF.to_string()),
        (APP_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
        (AUDIT_ID.to_string(), audit_id.to_string()),
    ]);
    if let Some(run_id) = run_id {
        labels.insert(RUN_ID.to_string(), run_id.to_string());
    }
    if let Some(target) = target {
        let cut = &target[..target.len().min(crate::names::DNS_LABEL_MAX)];
        let cut = cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        labels.insert(TARGET.to_string(), cut.to_string());
    }
    labels
}

/// The selector that matches every object of one audit.
pub fn audit_selector(audit_id: &crate::audit::AuditId) -> String {
    format!("{APP_PART_OF}={PART_OF},{AUDIT_ID}={audit_id}")
}

/// The selector that matches every object of one run.
pub fn run_selector(run_id: &RunId) -> String {
    format!("{APP_PART_OF}={PART_OF},{RUN_ID}={run_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_matches_the_labels() {
        let id = RunId::parse("abc123").unwrap();
        let labels = run_labels("nginx", &id, Component::ScanPod);
        for pair in run_selector(&id).split(',') {
            let (k, v) = pair.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "{k}");
        }
    }

    #[test]
    fn audit_selector_matches_audit_labels_and_values_are_labels() {
        let audit = crate::audit::AuditId::parse("audit-20261126-030000-abcdef").unwrap();
        let run = RunId::parse("abc123").unwrap();
        let long = format!("deployment.{}.app", "w".repeat(80));
        let labels = audit_labels(&audit, Some(&run), Some(&long), Component::AuditClone);
        for pair in audit_selector(&audit).split(',') {
            let (k, v) = pair.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "{k}");
        }
        assert!(labels[TARGET].len() <= 63);
        assert_eq!(labels[APP_COMPONENT], "audit-clone");
    }
}
