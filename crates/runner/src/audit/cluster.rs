//! Discovery's I/O: which namespaces exist, and the workloads, pods and ServiceAccounts of the
//! audited ones, listed in pages (500 objects each) with the audit's label selector applied by
//! the API server to the workloads. [`crate::audit::discover`] decides the rest.

use crate::Error;
use crate::audit::discover::{self, Discovery, Inventory};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use sidescan_core::audit::{AuditSpec, WorkloadKind};
use std::fmt::Debug;

/// Objects per list page.
pub const PAGE: u32 = 500;

async fn list_pages<K>(api: Api<K>, params: ListParams, what: &str) -> Result<Vec<K>, Error>
where
    K: Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut params = params.limit(PAGE);
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|e| Error::kube(format!("listing {what}"), e))?;
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}

/// Lists `K` in every audited namespace: once cluster-wide when every namespace is audited,
/// else once per namespace (what the audit's RBAC allows).
async fn list_kind<K>(
    client: &Client,
    namespaces: Option<&[String]>,
    params: &ListParams,
    what: &str,
) -> Result<Vec<K>, Error>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    <K as Resource>::DynamicType: Default,
{
    match namespaces {
        None => list_pages(Api::<K>::all(client.clone()), params.clone(), what).await,
        Some(list) => {
            let mut out = Vec::new();
            for ns in list {
                out.extend(
                    list_pages(
                        Api::<K>::namespaced(client.clone(), ns),
                        params.clone(),
                        &format!("{what} in {ns}"),
                    )
                    .await?,
                );
            }
            Ok(out)
        }
    }
}

/// CronJobs: `batch/v1` from Kubernetes 1.21, `batch/v1beta1` before (same fields).
async fn list_cronjobs(
    client: &Client,
    namespaces: Option<&[String]>,
    params: &ListParams,
    v1: bool,
) -> Result<Vec<CronJob>, Error> {
    if v1 {
        return list_kind::<CronJob>(client, namespaces, params, "cronjobs").await;
    }
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("batch", "v1beta1", "CronJob"));
    let apis: Vec<(Api<DynamicObject>, String)> = match namespaces {
        None => vec![(
            Api::all_with(client.clone(), &resource),
            "cronjobs".to_string(),
        )],
        Some(list) => list
            .iter()
            .map(|ns| {
                (
                    Api::namespaced_with(client.clone(), ns, &resource),
                    format!("cronjobs in {ns}"),
                )
            })
            .collect(),
    };
    let mut out = Vec::new();
    for (api, what) in apis {
        for object in list_pages(api, params.clone(), &what).await? {
            let mut value = serde_json::to_value(&object).unwrap_or_default();
            value["apiVersion"] = "batch/v1".into();
            value["kind"] = "CronJob".into();
            if let Ok(cronjob) = serde_json::from_value::<CronJob>(value) {
                out.push(cronjob);
            }
        }
    }
    Ok(out)
}

/// The namespaces that exist among those the spec names (all of them when it names none).
async fn existing_namespaces(client: &Client, spec: &AuditSpec) -> Result<Vec<String>, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    if spec.select.namespaces.is_empty() {
        let all = list_pages(api, ListParams::default(), "namespaces").await?;
        return Ok(all.into_iter().filter_map(|n| n.metadata.name).collect());
    }
    let mut out = Vec::new();
    for ns in &spec.select.namespaces {
        if api
            .get_opt(ns)
            .await
            .map_err(|e| Error::kube(format!("reading namespace {ns}"), e))?
            .is_some()
        {
            out.push(ns.clone());
        }
    }
    Ok(out)
}

/// Lists what the audit selects and returns its targets.
pub async fn discover_targets(
    client: &Client,
    spec: &AuditSpec,
    cronjob_v1: bool,
) -> Result<Discovery, Error> {
    let selector = spec.label_selector().map_err(|e| Error::Input {
        path: "select.labelSelector".into(),
        reason: e.to_string(),
    })?;
    let existing = existing_namespaces(client, spec).await?;
    let (namespaces, mut warnings) = discover::audited_namespaces(&spec.select, &existing);
    if namespaces.is_empty() {
        warnings.push("no namespace matched the selection".into());
        return Ok(Discovery {
            namespaces,
            targets: vec![],
            warnings,
        });
    }
    let scope = (!spec.select.namespaces.is_empty()).then_some(namespaces.as_slice());
    let workloads = if selector.is_empty() {
        ListParams::default()
    } else {
        ListParams::default().labels(&selector.to_string())
    };
    let everything = ListParams::default();
    let kinds = &spec.select.kinds;
    let wants = |k: WorkloadKind| kinds.contains(&k);
    let mut inv = Inventory::default();
    if wants(WorkloadKind::Deployment) {
        inv.deployments = list_kind::<Deployment>(client, scope, &workloads, "deployments").await?;
    }
    if wants(WorkloadKind::StatefulSet) {
        inv.statefulsets =
            list_kind::<StatefulSet>(client, scope, &workloads, "statefulsets").await?;
    }
    if wants(WorkloadKind::DaemonSet) {
        inv.daemonsets = list_kind::<DaemonSet>(client, scope, &workloads, "daemonsets").await?;
    }
    if wants(WorkloadKind::Job) || wants(WorkloadKind::CronJob) {
        // Jobs are listed for CronJobs too (their pods' digests); without the selector, since a
        // CronJob's Jobs carry its template's labels, not its own.
        let params = if wants(WorkloadKind::Job) && !wants(WorkloadKind::CronJob) {
            &workloads
        } else {
            &everything
        };
        inv.jobs = list_kind::<Job>(client, scope, params, "jobs").await?;
    }
    if wants(WorkloadKind::CronJob) {
        inv.cronjobs = list_cronjobs(client, scope, &workloads, cronjob_v1).await?;
    }
    inv.pods = list_kind::<Pod>(client, scope, &everything, "pods").await?;
    inv.service_accounts =
        list_kind::<ServiceAccount>(client, scope, &everything, "serviceaccounts").await?;
    let mut discovery = discover::discover(&spec.select, &selector, &namespaces, &inv);
    warnings.append(&mut discovery.warnings);
    discovery.warnings = warnings;
    Ok(discovery)
}
