//! Target discovery, pure: the workload objects the API returned in, the audit's targets out (one
//! per selected container of each selected workload), in a stable order. The controller lists
//! the objects; everything decided about them is decided here.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use sidescan_core::audit::selector::{Requirement, Selector};
use sidescan_core::audit::{Select, WorkloadKind, target_segment};
use sidescan_core::labels;
use std::collections::{BTreeMap, BTreeSet};

/// What the controller listed, in the audited namespaces.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub jobs: Vec<Job>,
    pub cronjobs: Vec<CronJob>,
    pub pods: Vec<Pod>,
    pub service_accounts: Vec<ServiceAccount>,
}

/// One container of one workload: what a clone is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub namespace: String,
    pub kind: WorkloadKind,
    pub workload: String,
    pub workload_uid: Option<String>,
    pub container: String,
    pub image: String,
    pub template: PodTemplateSpec,
    /// Pull secrets of the workload's ServiceAccount (the clone runs under another one).
    pub service_account_pull_secrets: Vec<String>,
    /// `imageID`s of this container in the workload's own pods.
    pub running_digests: Vec<String>,
}

impl Target {
    /// The `<target>` segment of result keys: `<kind>.<workload>.<container>`.
    pub fn segment(&self) -> String {
        target_segment(self.kind, &self.workload, &self.container)
    }

    /// `<namespace>/<segment>`: unique in an audit.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.segment())
    }
}

/// The audit's targets and what discovery had to say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discovery {
    pub namespaces: Vec<String>,
    pub targets: Vec<Target>,
    pub warnings: Vec<String>,
}

/// The namespaces to audit among those that exist: the selected ones (all when none are named)
/// minus the excluded ones. A named namespace that does not exist is a warning.
pub fn audited_namespaces(select: &Select, existing: &[String]) -> (Vec<String>, Vec<String>) {
    let existing: BTreeSet<&str> = existing.iter().map(String::as_str).collect();
    let mut warnings = Vec::new();
    let wanted: BTreeSet<&str> = if select.namespaces.is_empty() {
        existing.clone()
    } else {
        for ns in &select.namespaces {
            if !existing.contains(ns.as_str()) {
                warnings.push(format!("namespace {ns} does not exist"));
            }
        }
        select
            .namespaces
            .iter()
            .map(String::as_str)
            .filter(|ns| existing.contains(ns))
            .collect()
    };
    let namespaces = wanted
        .into_iter()
        .filter(|ns| !select.exclude_namespaces.iter().any(|x| x == ns))
        .map(str::to_string)
        .collect();
    (namespaces, warnings)
}

/// A workload's `spec.selector` as a [`Selector`]; `None` when it cannot select anything.
pub fn from_label_selector(selector: &LabelSelector) -> Option<Selector> {
    let mut requirements = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        requirements.push(Requirement::Equals(k.clone(), v.clone()));
    }
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.clone().unwrap_or_default();
        requirements.push(match expr.operator.as_str() {
            "In" => Requirement::In(expr.key.clone(), values),
            "NotIn" => Requirement::NotIn(expr.key.clone(), values),
            "Exists" => Requirement::Exists(expr.key.clone()),
            "DoesNotExist" => Requirement::DoesNotExist(expr.key.clone()),
            _ => return None,
        });
    }
    Some(Selector { requirements })
}

/// Whether a container image matches an entry of `select.images`: equal, or the entry names the
/// repository without tag or digest (`nginx` matches `nginx:1.27` and `nginx@sha256:...`).
pub fn image_matches(entry: &str, image: &str) -> bool {
    entry == image || repository(image) == entry
}

/// `registry/name` of an image reference, without tag and digest.
pub fn repository(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    }
}

/// A workload as discovery sees it, whatever its kind.
struct Workload<'a> {
    kind: WorkloadKind,
    meta: &'a ObjectMeta,
    template: PodTemplateSpec,
    /// Pods of the workload, for the digests they run.
    pods: Vec<&'a Pod>,
}

fn labels_of(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// sidescan's own objects (clones, the audit Job) are never targets.
fn is_sidescan(meta: &ObjectMeta) -> bool {
    meta.labels
        .as_ref()
        .and_then(|l| l.get(labels::APP_PART_OF))
        .is_some_and(|v| v == labels::PART_OF)
}

fn has_controller(meta: &ObjectMeta) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true))
}

fn owned_by(meta: &ObjectMeta, uid: Option<&str>) -> bool {
    uid.is_some_and(|uid| meta.owner_references.iter().flatten().any(|o| o.uid == uid))
}

fn pods_selected<'a>(
    pods: &'a [Pod],
    namespace: &str,
    selector: Option<&LabelSelector>,
) -> Vec<&'a Pod> {
    let Some(selector) = selector.and_then(from_label_selector) else {
        return Vec::new();
    };
    if selector.is_empty() {
        return Vec::new();
    }
    pods.iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| !is_sidescan(&p.metadata))
        .filter(|p| selector.matches(&labels_of(&p.metadata)))
        .collect()
}

fn digests(pods: &[&Pod], container: &str) -> Vec<String> {
    let set: BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p.status.as_ref())
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter(|cs| cs.name == container && !cs.image_id.is_empty())
        .map(|cs| cs.image_id.clone())
        .collect();
    set.into_iter().collect()
}

fn workloads<'a>(inv: &'a Inventory, kinds: &[WorkloadKind]) -> Vec<Workload<'a>> {
    let mut out = Vec::new();
    let ns = |m: &ObjectMeta| m.namespace.clone().unwrap_or_default();
    if kinds.contains(&WorkloadKind::Deployment) {
        for d in &inv.deployments {
            let Some(spec) = &d.spec else { continue };
            out.push(Workload {
                kind: WorkloadKind::Deployment,
                meta: &d.metadata,
                template: spec.template.clone(),
                pods: pods_selected(&inv.pods, &ns(&d.metadata), Some(&spec.selector)),
            });
        }
    }
    if kinds.contains(&WorkloadKind::StatefulSet) {
        for s in &inv.statefulsets {
            let Some(spec) = &s.spec else { continue };
            out.push(Workload {
                kind: WorkloadKind::StatefulSet,
                meta: &s.metadata,
                template: spec.template.clone(),
                pods: pods_selected(&inv.pods, &ns(&s.metadata), Some(&spec.selector)),
            });
        }
    }
    if kinds.contains(&WorkloadKind::DaemonSet) {
        for d in &inv.daemonsets {
            let Some(spec) = &d.spec else { continue };
            out.push(Workload {
                kind: WorkloadKind::DaemonSet,
                meta: &d.metadata,
                template: spec.template.clone(),
                pods: pods_selected(&inv.pods, &ns(&d.metadata), Some(&spec.selector)),
            });
        }
    }
    let cronjobs_selected = kinds.contains(&WorkloadKind::CronJob);
    if kinds.contains(&WorkloadKind::Job) {
        for j in &inv.jobs {
            let Some(spec) = &j.spec else { continue };
            // A CronJob's Jobs are scanned as the CronJob, once.
            let cron_owned = j
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "CronJob");
            if cron_owned && cronjobs_selected {
                continue;
            }
            out.push(Workload {
                kind: WorkloadKind::Job,
                meta: &j.metadata,
                template: spec.template.clone(),
                pods: pods_selected(&inv.pods, &ns(&j.metadata), spec.selector.as_ref()),
            });
        }
    }
    if cronjobs_selected {
        for c in &inv.cronjobs {
            let Some(spec) = &c.spec else { continue };
            let Some(job_spec) = &spec.job_template.spec else {
                continue;
            };
            let pods = inv
                .jobs
                .iter()
                .filter(|j| owned_by(&j.metadata, c.metadata.uid.as_deref()))
                .flat_map(|j| {
                    pods_selected(
                        &inv.pods,
                        &ns(&j.metadata),
                        j.spec.as_ref().and_then(|s| s.selector.as_ref()),
                    )
                })
                .collect();
            out.push(Workload {
                kind: WorkloadKind::CronJob,
                meta: &c.metadata,
                template: job_spec.template.clone(),
                pods,
            });
        }
    }
    if kinds.contains(&WorkloadKind::Pod) {
        for p in &inv.pods {
            if has_controller(&p.metadata) {
                continue;
            }
            let Some(spec) = &p.spec else { continue };
            out.push(Workload {
                kind: WorkloadKind::Pod,
                meta: &p.metadata,
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: p.metadata.labels.clone(),
                        annotations: p.metadata.annotations.clone(),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(spec.clone()),
                },
                pods: vec![p],
            });
        }
    }
    out
}

/// The audit's targets among `inv`, which holds the objects of the audited `namespaces`.
pub fn discover(
    select: &Select,
    selector: &Selector,
    namespaces: &[String],
    inv: &Inventory,
) -> Discovery {
    let audited: BTreeSet<&str> = namespaces.iter().map(String::as_str).collect();
    let account_secrets = |ns: &str, name: &str| -> Vec<String> {
        inv.service_accounts
            .iter()
            .filter(|sa| {
                sa.metadata.namespace.as_deref() == Some(ns)
                    && sa.metadata.name.as_deref() == Some(name)
            })
            .flat_map(|sa| sa.image_pull_secrets.iter().flatten())
            .map(|r| r.name.clone())
            .collect()
    };
    let mut targets = Vec::new();
    let mut warnings = Vec::new();
    for w in workloads(inv, &select.kinds) {
        let (Some(ns), Some(name)) = (w.meta.namespace.as_deref(), w.meta.name.as_deref()) else {
            continue;
        };
        if !audited.contains(ns)
            || w.meta.deletion_timestamp.is_some()
            || is_sidescan(w.meta)
            || !selector.matches(&labels_of(w.meta))
        {
            continue;
        }
        let Some(spec) = w.template.spec.as_ref() else {
            continue;
        };
        let account = spec
            .service_account_name
            .clone()
            .unwrap_or_else(|| "default".into());
        for container in &spec.containers {
            if !select.containers.is_empty() && !select.containers.contains(&container.name) {
                continue;
            }
            let Some(image) = container.image.clone().filter(|i| !i.is_empty()) else {
                warnings.push(format!(
                    "{ns}/{} {name}: container {} has no image",
                    w.kind, container.name
                ));
                continue;
            };
            if !select.images.is_empty() && !select.images.iter().any(|e| image_matches(e, &image))
            {
                continue;
            }
            targets.push(Target {
                namespace: ns.to_string(),
                kind: w.kind,
                workload: name.to_string(),
                workload_uid: w.meta.uid.clone(),
                container: container.name.clone(),
                image,
                template: w.template.clone(),
                service_account_pull_secrets: account_secrets(ns, &account),
                running_digests: digests(&w.pods, &container.name),
            });
        }
    }
    // Stable order: namespace, kind, workload, then the template's container order.
    targets.sort_by(|a, b| {
        (&a.namespace, a.kind, &a.workload).cmp(&(&b.namespace, b.kind, &b.workload))
    });
    Discovery {
        namespaces: namespaces.to_vec(),
        targets,
        warnings,
    }
}

#[cfg(test)]
#[path = "discover_tests.rs"]
mod tests;
