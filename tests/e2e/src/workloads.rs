//! A fleet of workloads for audit tests: every kind an audit reads, built from the target images
//! (`localhost/sidescan-target-{distroless,musl,glibc}:dev`) and following the local cluster's
//! rules (host network, images never pulled, a short grace period).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

/// A pod template running `image` as container `container`, labelled `app: <app>`.
pub fn template(app: &str, containers: &[(&str, &str)]) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|(name, image)| json!({"name": name, "image": crate::env::image(image), "imagePullPolicy": "Never"}))
        .collect();
    json!({
        "metadata": {"labels": {"app": app}},
        "spec": {
            "hostNetwork": true,
            "terminationGracePeriodSeconds": 5,
            "containers": containers,
        },
    })
}

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("test object: {e}"))
}

pub async fn deployment(
    client: &Client,
    ns: &str,
    name: &str,
    replicas: i32,
    containers: &[(&str, &str)],
) -> Deployment {
    let d: Deployment = object(json!({
        "metadata": {"name": name, "labels": {"app": name, "tier": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template(name, containers)},
    }));
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &d)
        .await
        .unwrap_or_else(|e| panic!("creating deployment {name}: {e}"))
}

pub async fn statefulset(
    client: &Client,
    ns: &str,
    name: &str,
    containers: &[(&str, &str)],
) -> StatefulSet {
    let s: StatefulSet = object(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": {"app": name}}, "template": template(name, containers)},
    }));
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &s)
        .await
        .unwrap_or_else(|e| panic!("creating statefulset {name}: {e}"))
}

pub async fn daemonset(
    client: &Client,
    ns: &str,
    name: &str,
    containers: &[(&str, &str)],
) -> DaemonSet {
    let d: DaemonSet = object(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template(name, containers)},
    }));
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &d)
        .await
        .unwrap_or_else(|e| panic!("creating daemonset {name}: {e}"))
}

/// A Job whose pod runs until deleted (the target program waits for SIGTERM).
pub async fn job(client: &Client, ns: &str, name: &str, containers: &[(&str, &str)]) -> Job {
    let mut t = template(name, containers);
    t["spec"]["restartPolicy"] = "Never".into();
    let j: Job = object(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"backoffLimit": 0, "template": t},
    }));
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &j)
        .await
        .unwrap_or_else(|e| panic!("creating job {name}: {e}"))
}

/// A suspended CronJob (`batch/v1` from 1.21, `batch/v1beta1` before): only its template matters.
pub async fn cronjob(client: &Client, ns: &str, name: &str, containers: &[(&str, &str)], v1: bool) {
    let mut t = template(name, containers);
    t["spec"]["restartPolicy"] = "Never".into();
    let version = if v1 { "v1" } else { "v1beta1" };
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("batch", version, "CronJob"));
    let c: DynamicObject = object(json!({
        "apiVersion": format!("batch/{version}"),
        "kind": "CronJob",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"schedule": "0 3 * * *", "suspend": true, "jobTemplate": {"spec": {"template": t}}},
    }));
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, &resource)
        .create(&PostParams::default(), &c)
        .await
        .unwrap_or_else(|e| panic!("creating cronjob {name}: {e}"));
}

/// A bare pod (no controller).
pub async fn bare_pod(client: &Client, ns: &str, name: &str, containers: &[(&str, &str)]) -> Pod {
    let mut t = template(name, containers);
    t["metadata"]["name"] = name.into();
    t["spec"]["restartPolicy"] = "Never".into();
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &object::<Pod>(t))
        .await
        .unwrap_or_else(|e| panic!("creating pod {name}: {e}"))
}

/// A Service selecting `app: <app>`.
pub async fn service(client: &Client, ns: &str, name: &str, app: &str) -> Service {
    let s: Service = object(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 8080, "targetPort": 8080}]},
    }));
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &s)
        .await
        .unwrap_or_else(|e| panic!("creating service {name}: {e}"))
}

/// Whether the server serves `batch/v1` CronJobs (Kubernetes 1.21+).
pub async fn cronjob_v1(client: &Client) -> bool {
    let info = client.apiserver_version().await.expect("GET /version");
    info.minor.trim_end_matches('+').parse::<u32>().unwrap_or(0) >= 21
}
