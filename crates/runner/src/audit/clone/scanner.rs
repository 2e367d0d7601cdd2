//! The scanner sidecar: `sidescan-agent scan` finding the target by the heuristic (the one other
//! container root in the pod), so it needs no API token; its security context (same UID as the
//! target when the template names a non-root one, `SYS_PTRACE` otherwise); the audit context and
//! the run's presigned uploads in its environment, never credentials.

use super::{
    AUDIT_CONTEXT_ENV, CloneRefused, CloneRequest, PROFILE_VOLUME, RESULTS_VOLUME, TMP_VOLUME,
    mount, resources,
};
use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec, SecurityContext, VolumeMount,
};
use serde_json::Value;
use sidescan_core::audit::record::VolumeNote;
use sidescan_core::audit::{AuditSecurityMode, AuditSpec};
use sidescan_core::scanner::{AgentInvocation, Identify};
use sidescan_core::spec::{PROFILE_MOUNT_PATH, ScanBackend, SecurityMode};

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The target's UID and GID as the pod template states them (container over pod).
pub(super) fn template_ids(spec: &PodSpec, container: &Container) -> (Option<i64>, Option<i64>) {
    let pod = spec.security_context.as_ref();
    let own = container.security_context.as_ref();
    let uid = own
        .and_then(|s| s.run_as_user)
        .or_else(|| pod.and_then(|p| p.run_as_user));
    let gid = own
        .and_then(|s| s.run_as_group)
        .or_else(|| pod.and_then(|p| p.run_as_group));
    (uid, gid)
}

/// The scanner's security context and mode (`same-uid` or `ptrace`) for a target running as
/// `uid`/`gid`; refused when `same-uid` is required and the template names no non-root UID.
pub(super) fn scanner_security(
    mode: AuditSecurityMode,
    uid: Option<i64>,
    gid: Option<i64>,
    seccomp_field: bool,
    target: &str,
) -> Result<(SecurityContext, &'static str), CloneRefused> {
    let same_uid = match (mode, uid) {
        (AuditSecurityMode::Ptrace, _) => false,
        (_, Some(uid)) if uid != 0 => true,
        (AuditSecurityMode::Auto, _) => false,
        (AuditSecurityMode::SameUid, _) => {
            return Err(CloneRefused(format!(
                "security.mode same-uid: the pod template names no non-root runAsUser for \
                 container {target}; use mode auto or ptrace"
            )));
        }
    };
    let mode = if same_uid {
        SecurityMode::SameUid
    } else {
        SecurityMode::Ptrace
    };
    let context = sidescan_core::scanner::security_context(mode, uid, gid, seccomp_field);
    let context = serde_json::from_value(context).map_err(|e| {
        CloneRefused(format!(
            "the scanner's security context for container {target}: {e}"
        ))
    })?;
    Ok((context, mode.as_str()))
}

/// [`scanner_security`] for the target container `original` of `pod_spec`.
pub(super) fn security(
    pod_spec: &PodSpec,
    original: &Container,
    spec: &AuditSpec,
    seccomp_field: bool,
) -> Result<(SecurityContext, &'static str), CloneRefused> {
    let (uid, gid) = template_ids(pod_spec, original);
    scanner_security(spec.security.mode, uid, gid, seccomp_field, &original.name)
}

/// `sidescan-agent scan`'s arguments: the heuristic, the target by name, the run's folder.
pub(super) fn args(target: &Target, req: &CloneRequest<'_>) -> Vec<String> {
    let spec = req.spec;
    let mut invocation = AgentInvocation::new(spec.scanner.backend);
    invocation.identify = Some(Identify::Heuristic);
    invocation.target_container = Some(target.container.clone());
    invocation.scanner_container = Some(spec.scanner.container.clone());
    invocation.target_name = Some(target.segment());
    invocation.run_id = Some(req.run_id.to_string());
    invocation.results_dir = Some(spec.scanner.results_dir.clone());
    invocation.store = Some(spec.results.store_url.clone().unwrap_or_default());
    invocation.wait_seconds = Some(spec.target_deadline_seconds.min(120));
    if spec.scanner.backend == ScanBackend::Cinc
        && let Some(profile) = &spec.profile
    {
        invocation.profile = Some(
            profile
                .url
                .clone()
                .unwrap_or_else(|| PROFILE_MOUNT_PATH.to_string()),
        );
    }
    if let Some(binding) = req.binding {
        invocation.run_folder = Some(binding.location.folder_name());
    }
    invocation.args()
}

/// What the agent records in `metadata.json` about the audit and the clone.
pub(super) fn audit_context(
    target: &Target,
    req: &CloneRequest<'_>,
    security_mode: &str,
    volumes_not_scanned: &[VolumeNote],
    env_not_reproduced: &[String],
) -> Value {
    serde_json::json!({
        "audit_id": req.audit_id.as_str(),
        "workload": {
            "namespace": target.namespace,
            "kind": target.kind.as_str(),
            "name": target.workload,
            "uid": target.workload_uid,
        },
        "container": target.container,
        "image": target.image,
        "run": req.spec.target.run.as_str(),
        "placement": req.spec.placement.mode.as_str(),
        "clone_namespace": req.namespace,
        "security_mode": security_mode,
        "volumes_not_scanned": volumes_not_scanned,
        "env_not_reproduced": env_not_reproduced,
    })
}

/// The scanner's environment: its pod, the audit context, the store's endpoint settings and
/// the run's presigned uploads.
pub(super) fn environment(target: &Target, req: &CloneRequest<'_>, context: &Value) -> Vec<EnvVar> {
    let results = &req.spec.results;
    // POD_NAMESPACE is the results' namespace: the workload's, wherever the clone runs.
    let mut vars = vec![
        field_env("POD_NAME", "metadata.name"),
        env("POD_NAMESPACE", &target.namespace),
        field_env("NODE_NAME", "spec.nodeName"),
        env(AUDIT_CONTEXT_ENV, &context.to_string()),
        // JSON log lines for the cluster's log collectors, as in the rendered scan pods.
        env(sidescan_core::scanner::env::LOG_FORMAT, "json"),
    ];
    if let Some(endpoint) = &results.endpoint {
        vars.push(env("AWS_ENDPOINT_URL", endpoint));
    }
    if let Some(region) = &results.region {
        vars.push(env("AWS_REGION", region));
    }
    if results.allow_http {
        vars.push(env("AWS_ALLOW_HTTP", "true"));
    }
    vars.push(env("AWS_EC2_METADATA_DISABLED", "true"));
    // The run's presigned uploads: a stolen value reaches this clone's two objects only.
    if let Some(grant) = req.binding.and_then(|b| b.grant.as_ref()) {
        vars.push(env(
            sidescan_core::scanner::env::UPLOAD_URLS,
            &grant.to_json(),
        ));
    }
    vars
}

/// The results directory, `/tmp` and, when mounted, the profile.
pub(super) fn mounts(spec: &AuditSpec, with_profile: bool) -> Vec<VolumeMount> {
    let mut mounts = vec![
        mount(RESULTS_VOLUME, &spec.scanner.results_dir, false),
        mount(TMP_VOLUME, "/tmp", false),
    ];
    if with_profile {
        mounts.push(mount(PROFILE_VOLUME, PROFILE_MOUNT_PATH, true));
    }
    mounts
}

/// The scanner container of `target`'s clone.
pub(super) fn container(
    target: &Target,
    req: &CloneRequest<'_>,
    security: SecurityContext,
    context: &Value,
    with_profile: bool,
) -> Container {
    let spec = req.spec;
    Container {
        name: spec.scanner.container.clone(),
        image: Some(spec.images.reference(&spec.scanner.image)),
        image_pull_policy: Some(spec.images.pull_policy.as_str().into()),
        args: Some(args(target, req)),
        env: Some(environment(target, req, context)),
        resources: Some(resources(&spec.scanner.resources)),
        security_context: Some(security),
        volume_mounts: Some(mounts(spec, with_profile)),
        ..Container::default()
    }
}
