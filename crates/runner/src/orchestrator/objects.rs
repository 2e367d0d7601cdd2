//! The run's objects in the cluster: an existing scan pod left by a dead run, leftovers of
//! killed `scan` runs, creating the run's own objects, and deleting them all at cleanup.

use super::prepare::Prepared;
use super::run::{Created, Mode, RunConfig, seconds_left};
use crate::Error;
use crate::orchestrator::cluster::{self, PodWatch};
use crate::orchestrator::plan::{self};
use crate::orchestrator::progress;
use crate::orchestrator::report;
use crate::orchestrator::stale::{self, Existing, OwnerState};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use sidescan_core::Phase;
use sidescan_core::labels;
use std::time::Duration;
use tokio::time::Instant;

/// An existing pod with the run's name: delete it if its run is dead, else refuse.
pub(super) async fn remove_stale(
    config: &RunConfig,
    p: &Prepared,
    watch: &mut PodWatch,
    existing: &Pod,
    deadline: Instant,
) -> Result<(), Error> {
    let owner = match stale::owner_job(existing) {
        None => OwnerState::NoOwner,
        Some(o) => {
            let ours = matches!(&config.mode, Mode::InCluster { owner: Some(own), .. } if own.uid == o.uid);
            if ours {
                OwnerState::Ours
            } else {
                let jobs: Api<Job> = Api::namespaced(p.client.clone(), &p.namespace);
                match jobs.get_opt(&o.name).await {
                    Ok(None) => OwnerState::Gone,
                    Ok(Some(job)) => stale::job_state(&job, &o.uid),
                    Err(e) => return Err(Error::kube(format!("GET job {}", o.name), e)),
                }
            }
        }
    };
    let name = existing.name_any();
    match stale::classify(existing, jiff::Timestamp::now(), &owner) {
        Existing::Live(reason) => Err(Error::Concurrent { pod: name, reason }),
        Existing::Stale(why) => {
            tracing::info!(pod = %name, "removing a stale scan pod: {why}");
            let pods: Api<Pod> = Api::namespaced(p.client.clone(), &p.namespace);
            delete_pod(&pods, watch, &name, Phase::Deploy, deadline).await
        }
    }
}

/// How long cleanup lets the kubelet finish starting a pod before deleting it anyway.
const STARTING_WAIT: Duration = Duration::from_secs(15);

/// Deletes a scan pod and waits until it is gone. First a graceful delete with the pod's own
/// short grace period (a target that ignores SIGTERM is killed after it); once the kubelet has
/// reported every container stopped, the object is removed at once (grace 0) instead of waiting
/// 4-12 s more for the kubelet's volume and cgroup bookkeeping, which goes on without it. Never
/// removed before its containers stopped, so a new pod of the same name never runs beside them.
/// See docs/orchestrator.md for the measurements.
pub(super) async fn delete_pod(
    pods: &Api<Pod>,
    watch: &mut PodWatch,
    name: &str,
    phase: Phase,
    deadline: Instant,
) -> Result<(), Error> {
    // Not while the kubelet is creating its containers (see `progress::starting`), but not
    // waiting long either: a pod that cannot start (a volume that never mounts) goes anyway.
    let settle = deadline.min(Instant::now() + STARTING_WAIT);
    let settled = watch
        .wait(
            phase,
            settle,
            STARTING_WAIT.as_secs(),
            |pod| match pod {
                Some(pod) if progress::starting(pod) => None,
                _ => Some(Ok(())),
            },
            |_| format!("the kubelet to finish starting pod {name}"),
        )
        .await;
    match settled {
        Ok(()) | Err(Error::Deadline { .. }) => {}
        Err(e) => return Err(e),
    }
    let graceful =
        DeleteParams::default().grace_period(sidescan_gen::context::SCAN_POD_GRACE_SECONDS as u32);
    if cluster::delete(pods, name, &graceful).await? {
        return Ok(());
    }
    let gone = watch
        .wait(
            phase,
            deadline,
            seconds_left(deadline),
            |pod| match pod {
                None => Some(Ok(true)),
                Some(pod) if progress::containers_stopped(pod) => Some(Ok(false)),
                Some(_) => None,
            },
            |_| format!("the kubelet to stop the containers of pod {name}"),
        )
        .await?;
    if gone {
        return Ok(());
    }
    if cluster::delete(pods, name, &DeleteParams::default().grace_period(0)).await? {
        return Ok(());
    }
    watch
        .wait(
            phase,
            deadline,
            seconds_left(deadline),
            |pod| pod.is_none().then_some(Ok(())),
            |_| format!("pod {name} to be gone"),
        )
        .await
}

/// `sidescan-runner scan` runs that died (SIGKILL) leave their ConfigMap and scanner RBAC:
/// remove those of this target whose run has no pod and that are older than a deploy phase
/// (the RBAC only when this run has some of its own).
pub(super) async fn sweep_leftovers(p: &Prepared, target: &str) -> Result<(), Error> {
    let pods: Api<Pod> = Api::namespaced(p.client.clone(), &p.namespace);
    let selector = format!("{}={target},{}", labels::TARGET, labels::RUN_ID);
    let params = ListParams::default().labels(&selector);
    let live: std::collections::BTreeSet<String> = pods
        .list_metadata(&params)
        .await
        .map_err(|e| Error::kube("listing the target's scan pods", e))?
        .items
        .iter()
        .filter_map(|m| plan::run_id_of(&m.metadata).map(str::to_string))
        .collect();
    let cutoff =
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(p.deadlines.deploy as i64);
    let dead = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        let old = meta
            .creation_timestamp
            .as_ref()
            .is_some_and(|t| t.0 < cutoff);
        let run = plan::run_id_of(meta).unwrap_or_default();
        old && !run.is_empty() && !live.contains(run) && Some(run) != Some(p.plan.run_id.as_str())
    };
    let mut removed = Vec::new();
    macro_rules! sweep {
        ($kind:ty, $what:literal) => {{
            let api: Api<$kind> = Api::namespaced(p.client.clone(), &p.namespace);
            let list = api
                .list_metadata(&params)
                .await
                .map_err(|e| Error::kube(concat!("listing leftover ", $what), e))?;
            for item in list.items.iter().filter(|m| dead(&m.metadata)) {
                let n = item.name_any();
                cluster::delete(&api, &n, &DeleteParams::default()).await?;
                removed.push(format!("{}/{n}", $what));
            }
        }};
    }
    sweep!(ConfigMap, "configmap");
    // Only runs that identify through the API (`scanner.identify: api`) create the scanner's
    // RBAC; a run with the heuristic needs no rights on RBAC objects at all, and leaves those of
    // dead API runs to the next API run.
    if p.plan.service_account.is_some() {
        sweep!(RoleBinding, "rolebinding");
        sweep!(Role, "role");
        sweep!(ServiceAccount, "serviceaccount");
    }
    if !removed.is_empty() {
        tracing::info!(objects = ?removed, "removed objects of dead runs");
    }
    Ok(())
}

/// Creates the scan pod. The API server asks for a retry (500 `ServerTimeout` with a retry
/// hint) while its admission cache has not yet seen a new ServiceAccount's token Secret: retried
/// with a short backoff until the deploy deadline.
pub(super) async fn create_pod(
    pods: &Api<Pod>,
    pod: &Pod,
    deadline: Instant,
) -> Result<Pod, Error> {
    let name = pod.name_any();
    let mut pause = Duration::from_millis(100);
    loop {
        match pods.create(&PostParams::default(), pod).await {
            Ok(created) => return Ok(created),
            Err(kube::Error::Api(s))
                if (s.code == 500 || s.code == 429)
                    && s.details
                        .as_ref()
                        .is_some_and(|d| d.retry_after_seconds > 0)
                    && Instant::now() + pause < deadline =>
            {
                tracing::info!(pod = %name, "{}; retrying", s.message);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(e) => return Err(Error::kube(format!("creating pod {name}"), e)),
        }
    }
}

/// `scan`: the profile ConfigMap and the scanner's RBAC, then (Kubernetes < 1.24) the
/// ServiceAccount's token Secret, which admission requires before the pod.
pub(super) async fn create_run_objects(
    p: &Prepared,
    created: &mut Created,
    deadline: Instant,
) -> Result<(), Error> {
    let post = PostParams::default();
    for cm in &p.plan.config_maps {
        let api: Api<ConfigMap> = Api::namespaced(p.client.clone(), &p.namespace);
        let name = cm.name_any();
        created.config_maps.push(name.clone());
        api.create(&post, cm)
            .await
            .map_err(|e| Error::kube(format!("creating configmap {name}"), e))?;
    }
    if let Some(sa) = &p.plan.service_account {
        let api: Api<ServiceAccount> = Api::namespaced(p.client.clone(), &p.namespace);
        created.service_account = Some(sa.name_any());
        api.create(&post, sa)
            .await
            .map_err(|e| Error::kube(format!("creating serviceaccount {}", sa.name_any()), e))?;
    }
    if let Some(role) = &p.plan.role {
        let api: Api<Role> = Api::namespaced(p.client.clone(), &p.namespace);
        created.role = Some(role.name_any());
        api.create(&post, role)
            .await
            .map_err(|e| Error::kube(format!("creating role {}", role.name_any()), e))?;
    }
    if let Some(rb) = &p.plan.role_binding {
        let api: Api<RoleBinding> = Api::namespaced(p.client.clone(), &p.namespace);
        created.role_binding = Some(rb.name_any());
        api.create(&post, rb)
            .await
            .map_err(|e| Error::kube(format!("creating rolebinding {}", rb.name_any()), e))?;
    }
    if let Some(sa) = &p.plan.service_account
        && p.kube.minor < 24
    {
        let api: Api<ServiceAccount> = Api::namespaced(p.client.clone(), &p.namespace);
        let name = sa.name_any();
        let has_token = |sa: Option<&ServiceAccount>| {
            sa.is_some_and(|sa| sa.secrets.as_ref().is_some_and(|s| !s.is_empty()))
        };
        match tokio::time::timeout_at(
            deadline,
            kube::runtime::wait::await_condition(api, &name, has_token),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(Error::ScanPod {
                    reason: format!("waiting for serviceaccount {name}'s token: {e}"),
                });
            }
            Err(_) => {
                return Err(Error::Deadline {
                    phase: Phase::Deploy,
                    seconds: p.deadlines.deploy,
                    waiting_for: format!(
                        "serviceaccount {name} to get its token Secret (token controller)"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Deletes everything the run created and waits until the API says it is gone.
pub(super) async fn cleanup(p: &Prepared, created: &Created) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(p.deadlines.cleanup);
    let ns = &p.namespace;
    let client = &p.client;
    let pod_name = p.plan.pod.name_any();
    let pod_gone = async {
        let since = Instant::now();
        if created.pod {
            let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
            let mut watch = PodWatch::new(pods.clone(), &pod_name);
            delete_pod(&pods, &mut watch, &pod_name, Phase::Cleanup, deadline).await?;
        }
        Ok::<_, Error>(since.elapsed())
    };
    let others = async {
        let plain = DeleteParams::default();
        let mut deleted = Vec::new();
        for name in &created.config_maps {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            await_gone(&api, name, cluster::delete(&api, name, &plain).await?).await?;
            deleted.push(format!("configmap/{name}"));
        }
        if let Some(name) = &created.role_binding {
            let api: Api<RoleBinding> = Api::namespaced(client.clone(), ns);
            await_gone(&api, name, cluster::delete(&api, name, &plain).await?).await?;
            deleted.push(format!("rolebinding/{name}"));
        }
        if let Some(name) = &created.role {
            let api: Api<Role> = Api::namespaced(client.clone(), ns);
            await_gone(&api, name, cluster::delete(&api, name, &plain).await?).await?;
            deleted.push(format!("role/{name}"));
        }
        if let Some(name) = &created.service_account {
            let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
            await_gone(&api, name, cluster::delete(&api, name, &plain).await?).await?;
            deleted.push(format!("serviceaccount/{name}"));
        }
        Ok::<_, Error>(deleted)
    };
    // The pod first: it mounts the ConfigMap and its ServiceAccount's token, and a volume that
    // vanishes under a starting pod keeps the kubelet from finishing it.
    let work = async {
        let pod_took = pod_gone.await?;
        Ok::<_, Error>((pod_took, others.await?))
    };
    let (pod_took, others) = match tokio::time::timeout_at(deadline, work).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(Error::Deadline {
                phase: Phase::Cleanup,
                seconds: p.deadlines.cleanup,
                waiting_for: "the run's objects to be gone".into(),
            });
        }
    };
    let mut deleted = Vec::new();
    if created.pod {
        deleted.push(format!("pod/{pod_name}"));
    }
    deleted.extend(others);
    Ok(if deleted.is_empty() {
        "nothing was created".to_string()
    } else {
        format!(
            "deleted and gone: {} (the pod in {})",
            deleted.join(", "),
            report::format_duration(pod_took)
        )
    })
}

/// Waits until a deleted object is gone when its deletion was not immediate.
pub(super) async fn await_gone<K>(api: &Api<K>, name: &str, gone: bool) -> Result<(), Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    if gone {
        return Ok(());
    }
    kube::runtime::wait::await_condition(api.clone(), name, |o: Option<&K>| o.is_none())
        .await
        .map(|_| ())
        .map_err(|e| Error::Cleanup {
            what: name.to_string(),
            reason: format!("waiting for it to be gone: {e}"),
        })
}
