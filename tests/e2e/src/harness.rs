//! A namespace per test, waits by watching, diagnostics on failure.

use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ServiceAccount};
use kube::api::{DeleteParams, ListParams, LogParams, ObjectMeta, PostParams};
use kube::runtime::wait::{Condition, await_condition};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::{Debug, Write as _};
use std::future::Future;
use std::time::Duration;

/// How long any single wait may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(120);

/// A client for the cluster named by `KUBECONFIG` (required).
pub async fn client() -> Client {
    crate::env::required("KUBECONFIG", crate::env::CLUSTER_HINT);
    Client::try_default()
        .await
        .unwrap_or_else(|e| panic!("no Kubernetes client from KUBECONFIG: {e}"))
}

/// Runs `test` with a fresh namespace `sidescan-e2e-<prefix>-<random>`. When the test fails, the
/// namespace's pods, container states, events and logs are printed; the namespace is deleted
/// afterwards unless `SIDESCAN_E2E_KEEP=1`.
pub async fn with_temp_ns<F, Fut>(prefix: &str, test: F)
where
    F: FnOnce(Client, String) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let client = client().await;
    let ns = format!("sidescan-e2e-{prefix}-{:08x}", rand::random::<u32>());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/part-of".to_string(),
                "sidescan-e2e".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("creating namespace {ns}: {e}"));

    let task = {
        let (client, ns) = (client.clone(), ns.clone());
        tokio::spawn(async move {
            // v1.20 admission refuses pods until their ServiceAccount has a token Secret.
            wait_for_service_account_token(&client, &ns, "default").await;
            test(client, ns).await;
        })
    };
    let outcome = task.await;

    if outcome.is_err() {
        eprintln!("{}", diagnostics(&client, &ns).await);
    }
    if crate::env::keep_namespaces() {
        eprintln!("keeping namespace {ns} (SIDESCAN_E2E_KEEP=1)");
    } else if let Err(e) = namespaces.delete(&ns, &DeleteParams::default()).await {
        eprintln!("could not delete namespace {ns}: {e}");
    }
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("test task in {ns} did not finish: {e}"),
        }
    }
}

/// Watches `name` until `condition` holds and returns the object; panics after [`WAIT`].
pub async fn wait_for<K>(api: &Api<K>, name: &str, what: &str, condition: impl Condition<K>) -> K
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    match tokio::time::timeout(WAIT, await_condition(api.clone(), name, condition)).await {
        Ok(Ok(Some(object))) => object,
        Ok(Ok(None)) => panic!("{name}: deleted while waiting until {what}"),
        Ok(Err(e)) => panic!("{name}: watch failed while waiting until {what}: {e}"),
        Err(_) => panic!("{name}: not {what} within {WAIT:?}"),
    }
}

/// Watches `name` until it is gone (deleted, or never existed); panics after [`WAIT`].
pub async fn wait_gone<K>(api: &Api<K>, name: &str)
where
    K: Clone + Debug + Send + DeserializeOwned + Resource + 'static,
{
    let Some(uid) = api
        .get_opt(name)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .and_then(|o| o.meta().uid.clone())
    else {
        return;
    };
    let gone = kube::runtime::wait::conditions::is_deleted(&uid);
    match tokio::time::timeout(WAIT, await_condition(api.clone(), name, gone)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => panic!("{name}: watch failed while waiting for it to go: {e}"),
        Err(_) => panic!("{name}: still there after {WAIT:?}"),
    }
}

/// Waits until the controller manager's token controller gave ServiceAccount `name` its token
/// Secret (pods using it are refused before that on v1.20).
pub async fn wait_for_service_account_token(client: &Client, ns: &str, name: &str) {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let has_token = |sa: Option<&ServiceAccount>| {
        sa.is_some_and(|sa| sa.secrets.as_ref().is_some_and(|s| !s.is_empty()))
    };
    wait_for(&accounts, name, "given a token Secret", has_token).await;
}

/// Pods with their phase and container states, the namespace's events and the containers' last
/// log lines: what a failed test needs to explain itself.
pub async fn diagnostics(client: &Client, ns: &str) -> String {
    let mut out = format!("===== diagnostics for namespace {ns} =====\n");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    match pods.list(&ListParams::default()).await {
        Ok(list) => {
            for pod in list.items {
                let name = pod.metadata.name.clone().unwrap_or_default();
                let status = pod.status.clone().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "pod {name}: phase {} {} {}",
                    status.phase.unwrap_or_default(),
                    status.reason.unwrap_or_default(),
                    status.message.unwrap_or_default()
                );
                for cs in status.container_statuses.unwrap_or_default() {
                    let _ = writeln!(
                        out,
                        "  container {}: ready={} restarts={} state={}",
                        cs.name,
                        cs.ready,
                        cs.restart_count,
                        crate::pods::describe_state(cs.state.as_ref())
                    );
                }
                for container in pod.spec.iter().flat_map(|s| &s.containers) {
                    let params = LogParams {
                        container: Some(container.name.clone()),
                        tail_lines: Some(40),
                        ..LogParams::default()
                    };
                    let logs = pods
                        .logs(&name, &params)
                        .await
                        .unwrap_or_else(|e| format!("(no logs: {e})"));
                    let _ = writeln!(out, "  --- logs of {name}/{}:\n{logs}", container.name);
                }
            }
        }
        Err(e) => {
            let _ = writeln!(out, "listing pods failed: {e}");
        }
    }
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    match events.list(&ListParams::default()).await {
        Ok(list) => {
            for event in list.items {
                let _ = writeln!(
                    out,
                    "event {} {}/{}: {} {}",
                    event.type_.unwrap_or_default(),
                    event.involved_object.kind.unwrap_or_default(),
                    event.involved_object.name.unwrap_or_default(),
                    event.reason.unwrap_or_default(),
                    event.message.unwrap_or_default()
                );
            }
        }
        Err(e) => {
            let _ = writeln!(out, "listing events failed: {e}");
        }
    }
    out
}
