//! Removing what an audit created, with only the verbs its Role grants (`list`, `watch` and
//! `delete` on pods; nothing on ConfigMaps but `create`):
//!
//! - before scanning, [`remove_leftovers`] deletes the clones an earlier run of the same audit
//!   left (a SIGKILL, a retried Job pod) and any audit's clone past its expiry;
//! - on every ending (finished, failed, SIGTERM), [`remove_all`] deletes each clone by name
//!   (those the controller knows of and those the audit's label finds) and watches until none is
//!   left. A failure names what is left and is [`Error::Cleanup`] (exit 3), never discarded.
//!
//! A clone's profile ConfigMap is owned by the clone: the garbage collector deletes it once the
//! clone is gone. Clones in the audit Job's namespace are also owned by the Job, so deleting the
//! Job removes them even when the runner cannot; owner references cannot cross namespaces, so
//! elsewhere the runner's SIGTERM handling, the clone's own deadline and the next audit are what
//! remove them (docs/audit.md, "Cleanup").

use crate::Error;
use crate::audit::state;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use kube::runtime::watcher;
use kube::runtime::{WatchStreamExt, watcher::Event};
use kube::{Api, Client};
use sidescan_core::audit::AuditId;
use sidescan_core::labels::{self, Component};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long [`remove_all`] waits for the deleted clones to go (their grace period is 5 s; the
/// rendered Job gives the runner 60 s after SIGTERM).
pub const GONE_WITHIN: Duration = Duration::from_secs(40);

/// The grace period clones are deleted with (`hold` and the scanner end at once on SIGTERM).
pub const CLONE_GRACE_SECONDS: u32 = 5;

/// Deletes one clone by name; gone already is fine.
pub async fn delete_clone(client: &Client, namespace: &str, name: &str) -> Result<(), String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    match pods
        .delete(
            name,
            &DeleteParams::default().grace_period(CLONE_GRACE_SECONDS),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(format!("deleting clone {namespace}/{name}: {e}")),
    }
}

/// Whether a clone being deleted may now be removed at once: the kubelet reports its containers
/// stopped. (The v1.20 kubelet may take a resync, 10-90 s, to confirm a graceful deletion it
/// has already carried out; the object is all that is left.)
pub fn stopped_while_deleted(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
        && crate::orchestrator::progress::containers_stopped(pod)
}

/// Removes a clone whose containers are stopped ([`stopped_while_deleted`]) without waiting for
/// the kubelet: a delete with no grace period, for that very pod (its UID).
pub async fn remove_stopped(client: &Client, pod: &Pod) -> Result<(), String> {
    let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
        return Ok(());
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut params = DeleteParams::default().grace_period(0);
    params.preconditions = pod
        .metadata
        .uid
        .clone()
        .map(|uid| kube::api::Preconditions {
            uid: Some(uid),
            resource_version: None,
        });
    match pods.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(format!("removing stopped clone {ns}/{name}: {e}")),
    }
}

fn cleanup_error(audit: &AuditId, problems: Vec<String>) -> Error {
    Error::Cleanup {
        what: format!("clones of audit {audit}"),
        reason: problems.join("; "),
    }
}

/// Deletes the clones a killed earlier run of this audit left, and any audit's expired clones,
/// in `namespaces`.
pub async fn remove_leftovers(
    client: &Client,
    audit: &AuditId,
    namespaces: &BTreeSet<String>,
) -> Result<(), Error> {
    let selector = format!(
        "{}={}",
        labels::APP_COMPONENT,
        Component::AuditClone.as_str()
    );
    let mut problems = Vec::new();
    for ns in namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| Error::kube(format!("listing clones in {ns}"), e))?;
        for (ns, name) in state::leftover_clones(&list.items, audit, jiff::Timestamp::now()) {
            eprintln!("removing leftover clone {ns}/{name}");
            if let Err(e) = delete_clone(client, &ns, &name).await {
                problems.push(e);
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(cleanup_error(audit, problems))
    }
}

/// Deletes every clone of the audit in `namespaces` (`known`: name -> namespace of the clones the
/// controller created and has not seen go) and waits up to `within` until none is left.
pub async fn remove_all(
    client: &Client,
    audit: &AuditId,
    namespaces: &BTreeSet<String>,
    known: &BTreeMap<String, String>,
    within: Duration,
) -> Result<(), Error> {
    let selector = labels::audit_selector(audit);
    let mut problems = Vec::new();
    let mut now: BTreeSet<(String, String)> = BTreeSet::new();
    let mut deferred: BTreeSet<(String, String)> = BTreeSet::new();
    for ns in namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        match pods.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => {
                for p in list.items {
                    let Some(name) = p.metadata.name.clone() else {
                        continue;
                    };
                    if p.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    // Deleting a clone whose containers are being created makes the v1.20
                    // kubelet finish the deletion only at a later resync (10-90 s): such a
                    // clone is deleted once they have started, or after DEFER_STARTING.
                    if crate::orchestrator::progress::starting(&p) {
                        deferred.insert((ns.clone(), name));
                    } else {
                        now.insert((ns.clone(), name));
                    }
                }
            }
            Err(e) => {
                problems.push(format!("listing the clones in {ns}: {e}"));
                now.extend(
                    known
                        .iter()
                        .filter(|(_, n)| *n == ns)
                        .map(|(name, ns)| (ns.clone(), name.clone())),
                );
            }
        }
    }
    let deletes = now.iter().map(|(ns, name)| delete_clone(client, ns, name));
    for result in futures::future::join_all(deletes).await {
        if let Err(e) = result {
            problems.push(e);
        }
    }
    let gone = until_gone(client, namespaces, &selector, deferred);
    match tokio::time::timeout(within, gone).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.push(e),
        Err(_) => problems.push(format!(
            "still there after {} s: {}",
            within.as_secs(),
            remaining(client, namespaces, &selector).await
        )),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(cleanup_error(audit, problems))
    }
}

/// How long a clone whose containers are being created is left to start before it is deleted
/// all the same.
pub const DEFER_STARTING: Duration = Duration::from_secs(10);

/// Watches the audit's clones in every namespace until none exists: deletes the `deferred` ones
/// once their containers have started (or after [`DEFER_STARTING`]), and removes each deleted
/// clone whose containers are stopped.
async fn until_gone(
    client: &Client,
    namespaces: &BTreeSet<String>,
    selector: &str,
    mut deferred: BTreeSet<(String, String)>,
) -> Result<(), String> {
    let streams = namespaces.iter().map(|ns| {
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let ns = ns.clone();
        watcher(api, watcher::Config::default().labels(selector))
            .default_backoff()
            .map(move |e| (ns.clone(), e))
            .boxed()
    });
    let mut events = futures::stream::select_all(streams);
    let defer_until = tokio::time::Instant::now() + DEFER_STARTING;
    // Per namespace: the clones it holds, once its first list is complete.
    let mut listing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut removed: BTreeSet<String> = BTreeSet::new();
    loop {
        let next = tokio::select! {
            next = events.next() => next,
            _ = tokio::time::sleep_until(defer_until), if !deferred.is_empty() => {
                for (ns, name) in std::mem::take(&mut deferred) {
                    delete_clone(client, &ns, &name).await?;
                }
                continue;
            }
        };
        let Some((ns, event)) = next else {
            return Err("the watch of the clones ended".into());
        };
        let name = |p: &Pod| p.metadata.name.clone().unwrap_or_default();
        if let Ok(Event::InitApply(p) | Event::Apply(p)) = &event {
            let key = (ns.clone(), name(p));
            if deferred.contains(&key) && !crate::orchestrator::progress::starting(p) {
                deferred.remove(&key);
                delete_clone(client, &ns, &key.1).await?;
            }
            if stopped_while_deleted(p) && removed.insert(name(p)) {
                remove_stopped(client, p).await?;
            }
        }
        match event {
            Ok(Event::Init) => {
                listing.insert(ns, BTreeSet::new());
            }
            Ok(Event::InitApply(p)) => {
                listing.entry(ns).or_default().insert(name(&p));
            }
            Ok(Event::InitDone) => {
                let found = listing.remove(&ns).unwrap_or_default();
                held.insert(ns, found);
            }
            Ok(Event::Apply(p)) => {
                held.entry(ns).or_default().insert(name(&p));
            }
            Ok(Event::Delete(p)) => {
                held.entry(ns).or_default().remove(&name(&p));
            }
            Err(e) => {
                let refused = matches!(&e,
                    watcher::Error::InitialListFailed(kube::Error::Api(s))
                    | watcher::Error::WatchStartFailed(kube::Error::Api(s))
                    | watcher::Error::WatchFailed(kube::Error::Api(s))
                    if s.code == 401 || s.code == 403);
                if refused {
                    return Err(format!("watching the clones in {ns}: {e}"));
                }
                tracing::warn!(namespace = %ns, error = %e, "watch of clones failed; retrying");
            }
        }
        if held.len() == namespaces.len() && held.values().all(BTreeSet::is_empty) {
            return Ok(());
        }
    }
}

/// The clones still there, for the message.
async fn remaining(client: &Client, namespaces: &BTreeSet<String>, selector: &str) -> String {
    let mut left = Vec::new();
    for ns in namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        match pods.list(&ListParams::default().labels(selector)).await {
            Ok(list) => left.extend(
                list.items
                    .into_iter()
                    .filter_map(|p| Some(format!("{ns}/{}", p.metadata.name?))),
            ),
            Err(e) => left.push(format!("{ns}: cannot list ({e})")),
        }
    }
    if left.is_empty() {
        "none when listed again".into()
    } else {
        left.join(", ")
    }
}
