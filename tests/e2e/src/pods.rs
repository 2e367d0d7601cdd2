//! Pods that follow the local cluster's rules: host network (there is no pod network),
//! `imagePullPolicy: Never` (images come from `scripts/build-images`), in-cluster clients pointed at
//! 127.0.0.1:6443 (there is no Service network), and a short grace period.

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, EnvVar, EnvVarSource, ObjectFieldSelector,
    Pod, PodSpec,
};
use kube::api::ObjectMeta;

/// A container running `image` (never pulled).
pub fn container(name: &str, image: &str) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some("Never".to_string()),
        ..Container::default()
    }
}

/// A pod of `containers` on the host network that is not restarted.
pub fn pod(name: &str, containers: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers,
            host_network: Some(true),
            restart_policy: Some("Never".to_string()),
            termination_grace_period_seconds: Some(5),
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

fn value(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

fn field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_string(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The environment of an in-cluster client: the API server's loopback address (the kubelet's
/// injected 10.96.0.1:443 leads nowhere here) and the pod's own name and namespace.
pub fn in_cluster_client_env() -> Vec<EnvVar> {
    vec![
        value("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
        value("KUBERNETES_SERVICE_PORT", "6443"),
        field("POD_NAME", "metadata.name"),
        field("POD_NAMESPACE", "metadata.namespace"),
    ]
}

/// The terminated state of container `name`, if it has ended.
pub fn terminated<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStateTerminated> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|cs| cs.name == name)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
}

/// Condition: container `name` has ended (or the whole pod has failed, which ends the wait too).
pub fn container_ended(name: &str) -> impl Fn(Option<&Pod>) -> bool + '_ {
    move |pod| {
        pod.is_some_and(|pod| {
            terminated(pod, name).is_some()
                || pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
        })
    }
}

/// One line for a container state.
pub fn describe_state(state: Option<&ContainerState>) -> String {
    let Some(state) = state else {
        return "unknown".to_string();
    };
    if let Some(w) = &state.waiting {
        return format!(
            "waiting {} {}",
            w.reason.as_deref().unwrap_or_default(),
            w.message.as_deref().unwrap_or_default()
        );
    }
    if let Some(t) = &state.terminated {
        return format!(
            "terminated exit={} {} {}",
            t.exit_code,
            t.reason.as_deref().unwrap_or_default(),
            t.message.as_deref().unwrap_or_default()
        );
    }
    if state.running.is_some() {
        return "running".to_string();
    }
    "unknown".to_string()
}
