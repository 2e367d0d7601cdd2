//! The scan pod: the scanner sidecar (its invocation, container and security context), the
//! target as the spec gives it, the Pod Security check, the NetworkPolicy and the admission fence.

use super::*;

/// The API-server address and the store's endpoint settings, which every in-cluster client of
/// the scan and the audit reads from its environment.
pub(crate) fn api_and_store_env(
    api_server: Option<&spec::ApiServer>,
    results: &spec::Results,
) -> Vec<Value> {
    let mut env = Vec::new();
    if let Some(api) = api_server {
        env.push(env_value("KUBERNETES_SERVICE_HOST", &api.host));
        env.push(env_value("KUBERNETES_SERVICE_PORT", &api.port.to_string()));
    }
    if let Some(endpoint) = &results.endpoint {
        env.push(env_value("AWS_ENDPOINT_URL", endpoint));
    }
    if let Some(region) = &results.region {
        env.push(env_value("AWS_REGION", region));
    }
    if results.allow_http {
        env.push(env_value("AWS_ALLOW_HTTP", "true"));
    }
    env
}

/// Where a store client finds the CA bundle the spec names, mounted at its fixed path.
pub(crate) fn ca_bundle_env(results: &spec::Results) -> Option<Value> {
    let ca = results.ca_bundle.as_ref()?;
    Some(env_value(
        CA_BUNDLE_ENV,
        &format!("{CA_BUNDLE_MOUNT_PATH}/{}", ca.key),
    ))
}

/// Store and API-server settings both the scanner and the orchestrator need.
pub(crate) fn client_env(spec: &ScanSpec) -> Vec<Value> {
    let mut env = api_and_store_env(spec.cluster.api_server.as_ref(), &spec.results);
    env.extend(ca_bundle_env(&spec.results));
    if spec.results.store_url.is_some() {
        // No metadata-service probing: credentials come from the Secret or nowhere.
        env.push(env_value("AWS_EC2_METADATA_DISABLED", "true"));
    }
    env
}

/// The pod's `imagePullSecrets` from the spec's pull Secret names.
pub(crate) fn image_pull_secrets(images: &spec::Images) -> Vec<Value> {
    images
        .pull_secrets
        .iter()
        .map(|name| json!({"name": name}))
        .collect()
}

/// The store credentials' Secret, when the results name one.
pub(crate) fn credentials(results: &spec::Results) -> Option<Credentials> {
    results.credentials_secret.as_ref().map(|s| Credentials {
        secret: s.name.clone(),
        access_key_id_key: s.access_key_id_key.clone(),
        secret_access_key_key: s.secret_access_key_key.clone(),
        mount_path: sidescan_core::scanner::STORE_CREDENTIALS_MOUNT_PATH,
    })
}

/// The CA bundle volume (ConfigMap or Secret, only its key, read-only).
pub(crate) fn ca_bundle_volume(results: &spec::Results) -> Option<Value> {
    let ca = results.ca_bundle.as_ref()?;
    let items = json!([{"key": ca.key, "path": ca.key}]);
    Some(match (&ca.config_map, &ca.secret) {
        (Some(name), _) => json!({"name": "s3-ca", "configMap": {
            "name": name, "defaultMode": 0o444, "items": items}}),
        (None, Some(name)) => json!({"name": "s3-ca", "secret": {
            "secretName": name, "defaultMode": 0o444, "items": items}}),
        (None, None) => return None,
    })
}

/// The target's security context: the user's, and in `same-uid` mode the fields Pod Security
/// "restricted" needs, where the user left them out.
pub(crate) fn target_security_context(spec: &ScanSpec, kube: KubeVersion) -> Option<Value> {
    let user = spec.target.security_context.clone();
    if spec.security.mode != SecurityMode::SameUid {
        return user;
    }
    let mut sc = match user {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    sc.entry("runAsNonRoot").or_insert(json!(true));
    if let Some(uid) = spec.security.run_as_user {
        sc.entry("runAsUser").or_insert(json!(uid));
    }
    sc.entry("allowPrivilegeEscalation").or_insert(json!(false));
    let caps = sc.entry("capabilities").or_insert(json!({}));
    if let Value::Object(caps) = caps {
        caps.entry("drop").or_insert(json!(["ALL"]));
    }
    if kube.has_seccomp_field() {
        sc.entry("seccompProfile")
            .or_insert(json!({"type": "RuntimeDefault"}));
    }
    Some(Value::Object(sc))
}

/// The scanner's security context for its mode (docs/security.md explains each field).
pub(crate) fn scanner_security_context(spec: &ScanSpec, kube: KubeVersion) -> Value {
    sidescan_core::scanner::security_context(
        spec.security.mode,
        spec.security.run_as_user,
        spec.security.run_as_group,
        kube.has_seccomp_field(),
    )
}

/// Refuses settings that would put the scan pod below the Pod Security level its mode keeps:
/// `restricted` for `same-uid`, `baseline` plus the scanner's `SYS_PTRACE` for `ptrace`. Host
/// networking (the development cluster) is the one documented exception, not checked here.
pub(crate) fn check_pod_security(spec: &ScanSpec, pod: &PodContext) -> Result<(), GenError> {
    let (level, level_name) = match spec.security.mode {
        SecurityMode::SameUid => (Level::Restricted, "restricted"),
        SecurityMode::Ptrace => (Level::Baseline, "baseline"),
    };
    let mut target = json!({"name": pod.target.name, "image": pod.target.image});
    if let Some(sc) = &pod.target.security_context {
        target["securityContext"] = sc.clone();
    }
    let scanner = json!({"name": pod.scanner.name, "image": pod.scanner.image,
        "securityContext": pod.scanner.security_context});
    let template = json!({
        "metadata": {"annotations": pod.annotations},
        "spec": {"containers": [target, scanner], "volumes": pod.volumes},
    });
    let template: core::PodTemplateSpec =
        serde_json::from_value(template).map_err(|e| GenError::Render {
            template: "pod security".into(),
            message: e.to_string(),
        })?;
    let scanner_prefix = format!("spec.containers[{}].", pod.scanner.name);
    let target_prefix = format!("spec.containers[{}].", pod.target.name);
    for v in pss::pss_violations(&template, level) {
        if !v.rule.enforced()
            || (spec.security.mode == SecurityMode::Ptrace
                && v.rule == pss::Rule::Capabilities
                && v.field.starts_with(&scanner_prefix))
        {
            continue;
        }
        let field = if let Some(rest) = v.field.strip_prefix(&target_prefix) {
            format!("target.{rest}")
        } else if let Some(name) = v
            .field
            .strip_prefix("spec.volumes[")
            .and_then(|r| r.strip_suffix(']'))
        {
            format!("target.volumes ({name})")
        } else {
            v.field.clone()
        };
        return Err(GenError::Unsupported {
            field,
            reason: format!(
                "{} breaks the Pod Security rule \"{}\" of level {level_name}, which mode {} \
                 keeps (docs/security.md)",
                v.detail,
                v.rule.title(),
                spec.security.mode.as_str()
            ),
        });
    }
    Ok(())
}

pub(crate) fn network_policy(
    spec: &ScanSpec,
    run_id: &RunId,
    annotations: &BTreeMap<String, String>,
) -> Option<NetworkPolicyContext> {
    if !spec.network_policy.enabled {
        return None;
    }
    let mut egress = Vec::new();
    let mut peers = Vec::new();
    // Only a scanner that identifies through the API talks to the API server.
    if spec.scanner.identify == spec::ScannerIdentify::Api
        && let Some(api) = spec.network_policy_api_server()
    {
        peers.push(api);
    }
    let remote_store = spec
        .results
        .store_url
        .as_deref()
        .is_some_and(|u| !u.starts_with("file:"));
    if remote_store && let Some(store) = spec.network_policy_store() {
        peers.push(store);
    }
    for peer in peers {
        egress.push(json!({
            "to": [{"ipBlock": {"cidr": peer.cidr}}],
            "ports": [{"protocol": "TCP", "port": peer.port}],
        }));
    }
    if spec.network_policy.dns {
        egress.push(json!({"ports": [
            {"protocol": "UDP", "port": 53},
            {"protocol": "TCP", "port": 53},
        ]}));
    }
    Some(NetworkPolicyContext {
        name: spec::object_name(&spec.target.name, "scan-pod"),
        labels: stable_labels(spec, run_id, Component::ScanPod),
        annotations: annotations.clone(),
        pod_selector: BTreeMap::from([
            (labels::TARGET.to_string(), spec.target.name.clone()),
            (
                labels::APP_COMPONENT.to_string(),
                Component::ScanPod.as_str().to_string(),
            ),
        ]),
        egress,
    })
}

/// What the scan workflow's ServiceAccounts create: the scan pod exactly as rendered (its
/// images, command, ServiceAccount, token, Secrets and volumes), in the spec's namespace.
pub(crate) fn scan_fence(
    spec: &ScanSpec,
    pod: &PodContext,
    object_labels: &BTreeMap<String, String>,
    orchestrator: &str,
    scanner_sa: &str,
) -> crate::admission::Fence {
    use crate::admission::{Fence, PinnedTarget, service_account_user, volume_references};
    let mut users = vec![service_account_user(&spec.namespace, orchestrator)];
    if spec.scanner.identify == spec::ScannerIdentify::Api {
        users.push(service_account_user(&spec.namespace, scanner_sa));
    }
    let refs = volume_references(&pod.extra_volumes);
    let mut env_from_secrets: Vec<String> = pod
        .target
        .env_from
        .iter()
        .filter_map(|source| source["secretRef"]["name"].as_str().map(str::to_string))
        .collect();
    env_from_secrets.sort();
    env_from_secrets.dedup();
    Fence {
        base_name: "sidescan-scan".into(),
        name_suffix: format!("{}.{}", spec.target.name, spec.namespace),
        labels: object_labels.clone(),
        annotations: spec.metadata.annotations.clone(),
        users,
        namespaces: sidescan_core::audit::CloneNamespaces::Only(vec![spec.namespace.clone()]),
        pod_component: Component::ScanPod.as_str(),
        id_label: labels::RUN_ID,
        target_label: Some(spec.target.name.clone()),
        pod_name: Some(pod.name.clone()),
        service_account: pod.service_account.clone(),
        api_token_volume: pod.api_token.then(|| API_TOKEN_VOLUME.to_string()),
        scanner_container: pod.scanner.name.clone(),
        scanner_image: pod.scanner.image.clone(),
        ptrace: spec.security.mode == SecurityMode::Ptrace,
        target: Some(PinnedTarget {
            container: pod.target.name.clone(),
            image: pod.target.image.clone(),
            command: pod.target.command.clone(),
            args: pod.target.args.clone(),
        }),
        hold: None,
        host_network: pod.host_network,
        volume_secrets: refs.secrets,
        // The workflows hand their scan pods presigned uploads, never credentials.
        scanner_env_secrets: Vec::new(),
        target_env_from_secrets: env_from_secrets,
        claims: refs.claims,
        other_volumes: refs.other_volumes,
    }
}
/// The scanner's invocation (`sidescan-agent scan`), described once in `sidescan_core::scanner`.
pub(crate) fn scanner_invocation(
    spec: &ScanSpec,
    run_id: &RunId,
    profile_arg: Option<String>,
    inputs: &InputObjects,
) -> AgentInvocation {
    let mut invocation = AgentInvocation::new(spec.scanner.backend);
    invocation.identify = Some(spec.scanner.identify.agent());
    invocation.target_container = Some(spec.target.container.clone());
    invocation.scanner_container = Some(spec.scanner.container.clone());
    invocation.target_name = Some(spec.target.name.clone());
    invocation.run_id = Some(run_id.to_string());
    invocation.results_dir = Some(spec.scanner.results_dir.clone());
    if spec.scanner.backend == ScanBackend::Cinc
        && let Some(profile) = profile_arg
    {
        invocation.profile = Some(profile);
        invocation.profile_sha256 = spec
            .profile
            .as_ref()
            .and_then(|p| p.sha256.as_ref())
            .map(|sha| sha.to_ascii_lowercase());
    }
    let mounted = |keys: &[String]| -> Vec<String> {
        keys.iter()
            .map(|key| format!("{PROFILE_INPUTS_MOUNT_PATH}/{key}"))
            .collect()
    };
    invocation.input_files = mounted(&inputs.input_keys);
    invocation.waiver_files = mounted(&inputs.waiver_keys);
    match &spec.results.store_url {
        Some(url) => {
            invocation.store = Some(url.clone());
            // When the upload fails the orchestrator can still store the files from the log.
            invocation.log_results_on_failure = true;
            if spec.results.credentials_secret.is_some() {
                invocation.store_credentials =
                    Some(sidescan_core::scanner::STORE_CREDENTIALS_MOUNT_PATH.into());
            }
        }
        // No store: the orchestrator reads the results from the scanner's log.
        None => invocation.log_results = true,
    }
    invocation
}

pub(crate) fn scanner_container(
    spec: &ScanSpec,
    kube: KubeVersion,
    invocation: AgentInvocation,
) -> ScannerContainer {
    ScannerContainer {
        name: spec.scanner.container.clone(),
        image: spec.images.reference(&spec.scanner.image),
        pull_policy: spec.images.pull_policy.as_str(),
        args: invocation.args(),
        invocation,
        env: client_env(spec),
        credentials: credentials(&spec.results),
        resources: resources(&spec.scanner.resources),
        results_dir: spec.scanner.results_dir.clone(),
        mode: spec.security.mode.as_str(),
        security_context: scanner_security_context(spec, kube),
    }
}

/// The user's annotations, plus the seccomp annotations where the API has no field (< 1.19).
pub(crate) fn pod_annotations(spec: &ScanSpec, kube: KubeVersion) -> BTreeMap<String, String> {
    let mut annotations = spec.metadata.annotations.clone();
    if kube.has_seccomp_field() {
        return annotations;
    }
    let seccomp =
        |container: &str| format!("container.seccomp.security.alpha.kubernetes.io/{container}");
    annotations.insert(
        seccomp(&spec.scanner.container),
        "runtime/default".to_string(),
    );
    let user_seccomp = spec
        .target
        .security_context
        .as_ref()
        .is_some_and(|sc| sc.get("seccompProfile").is_some());
    if spec.security.mode == SecurityMode::SameUid && !user_seccomp {
        annotations.insert(
            seccomp(&spec.target.container),
            "runtime/default".to_string(),
        );
    }
    annotations
}

fn target_container(spec: &ScanSpec, kube: KubeVersion) -> TargetContainer {
    TargetContainer {
        name: spec.target.container.clone(),
        image: spec.images.reference(&spec.target.image),
        pull_policy: spec.images.pull_policy.as_str(),
        command: spec.target.command.clone(),
        args: spec.target.args.clone(),
        env: spec
            .target
            .env
            .iter()
            .map(|(k, v)| env_value(k, v))
            .collect(),
        env_from: spec.target.env_from.clone(),
        volume_mounts: spec.target.volume_mounts.clone(),
        security_context: target_security_context(spec, kube),
        resources: resources(&spec.target.resources),
    }
}

/// The volumes a scan pod mounts besides its own scratch and results.
pub(crate) struct PodVolumes {
    pub(crate) profile: Option<ConfigMapVolume>,
    pub(crate) thresholds: Option<ConfigMapVolume>,
    pub(crate) inputs: Option<ConfigMapVolume>,
}

/// The scan pod: the target as the spec gives it and the scanner; checked against the Pod
/// Security level its mode keeps.
pub(crate) fn scan_pod(
    spec: &ScanSpec,
    kube: KubeVersion,
    run_id: &RunId,
    scanner: ScannerContainer,
    volumes: PodVolumes,
) -> Result<PodContext, GenError> {
    let api_identify = spec.scanner.identify == spec::ScannerIdentify::Api;
    let pod = PodContext {
        name: spec::scan_pod_name(&spec.target.name),
        labels: with_user_labels(
            spec,
            labels::run_labels(&spec.target.name, run_id, Component::ScanPod),
        ),
        annotations: pod_annotations(spec, kube),
        service_account: if api_identify {
            spec::object_name(&spec.target.name, SCANNER_KIND)
        } else {
            DEFAULT_SERVICE_ACCOUNT.to_string()
        },
        automount_token: api_identify && !kube.has_bound_token_projection(),
        api_token: api_identify && kube.has_bound_token_projection(),
        api_token_expiration_seconds: API_TOKEN_EXPIRATION_SECONDS,
        host_network: spec.cluster.host_network,
        priority_class_name: spec.scheduling.priority_class_name.clone(),
        node_selector: spec.scheduling.node_selector.clone(),
        tolerations: serde_json::to_value(&spec.scheduling.tolerations).unwrap_or(Value::Null),
        affinity: spec.scheduling.affinity.clone(),
        image_pull_secrets: image_pull_secrets(&spec.images),
        target: target_container(spec, kube),
        scanner,
        results_size_limit: spec.scanner.results_size_limit.clone(),
        active_deadline_seconds: spec.orchestrator.deadlines.total_seconds(),
        termination_grace_period_seconds: SCAN_POD_GRACE_SECONDS,
        profile_volume: volumes.profile,
        thresholds_volume: volumes.thresholds,
        inputs_volume: volumes.inputs,
        ca_bundle_volume: ca_bundle_volume(&spec.results),
        volumes: spec.target.volumes.clone(),
        extra_volumes: ca_bundle_volume(&spec.results)
            .into_iter()
            .chain(spec.target.volumes.iter().cloned())
            .collect(),
    };
    check_pod_security(spec, &pod)?;
    Ok(pod)
}
