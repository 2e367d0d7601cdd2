//! The clone's object metadata: its name, sidescan's labels only (nothing written for the
//! workload selects a clone), the annotations that keep the container's security profile and
//! keep sidecar injectors out, its expiry, and the owner reference to the audit Job.

use super::{CloneRequest, pod_seconds};
use crate::audit::discover::Target;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sidescan_core::labels::{self, Component};
use sidescan_core::{RunId, names};
use std::collections::BTreeMap;

/// The clone's name: `sidescan-<workload>-<run id>` (a DNS label, unique per attempt).
pub fn clone_name(target: &Target, run_id: &RunId) -> String {
    let base = format!("sidescan-{}", target.workload.replace('.', "-"));
    names::label_with_suffix(&base, run_id.as_str())
}

/// Template annotations that are part of the security context and stay; everything else (sidecar
/// injection, secret injectors, tooling) is dropped.
pub(super) fn kept_annotations(
    template: Option<&ObjectMeta>,
    container: &str,
) -> BTreeMap<String, String> {
    template
        .and_then(|meta| meta.annotations.as_ref())
        .into_iter()
        .flatten()
        .filter(|(k, _)| {
            k.as_str() == "seccomp.security.alpha.kubernetes.io/pod"
                || *k == &format!("container.seccomp.security.alpha.kubernetes.io/{container}")
                || *k == &format!("container.apparmor.security.beta.kubernetes.io/{container}")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The kept annotations and sidescan's own: no sidecar injection, what the clone is of, when it
/// expires (for the cleanup of a dead audit's clones), and the scanner's seccomp profile on
/// clusters without the field.
pub(super) fn annotations(target: &Target, req: &CloneRequest<'_>) -> BTreeMap<String, String> {
    let mut annotations = kept_annotations(target.template.metadata.as_ref(), &target.container);
    annotations.insert("sidecar.istio.io/inject".into(), "false".into());
    annotations.insert("linkerd.io/inject".into(), "disabled".into());
    annotations.insert(
        "sidescan.io/workload".into(),
        format!("{}/{}/{}", target.kind, target.namespace, target.workload),
    );
    annotations.insert("sidescan.io/container".into(), target.container.clone());
    let expires = req
        .now
        .checked_add(jiff::SignedDuration::from_secs(pod_seconds(req.spec) as i64))
        .unwrap_or(req.now);
    annotations.insert("sidescan.io/expires".into(), expires.to_string());
    if !req.seccomp_field {
        annotations.insert(
            format!(
                "container.seccomp.security.alpha.kubernetes.io/{}",
                req.spec.scanner.container
            ),
            "runtime/default".into(),
        );
    }
    annotations
}

/// The clone's metadata, in the namespace the request places it in.
pub(super) fn object_meta(target: &Target, req: &CloneRequest<'_>) -> ObjectMeta {
    ObjectMeta {
        name: Some(clone_name(target, req.run_id)),
        namespace: Some(req.namespace.to_string()),
        labels: Some(labels::audit_labels(
            req.audit_id,
            Some(req.run_id),
            Some(&target.segment()),
            Component::AuditClone,
        )),
        annotations: Some(annotations(target, req)),
        owner_references: req.owner.clone().map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}
