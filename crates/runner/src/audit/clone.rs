//! The clone builder, pure: a target (a workload's pod template and one of its containers) in,
//! the scan pod that scans it out.
//!
//! The clone keeps what makes the scan see what production runs: the container's image,
//! environment, working directory, security contexts, the ConfigMap volumes it mounts (when it
//! runs in the workload's namespace), node selector, node affinity and tolerations. It drops what
//! would make it act like production: the workload's labels (no Service, controller,
//! PodDisruptionBudget or NetworkPolicy written for the workload selects it), its ServiceAccount
//! token, probes, lifecycle hooks, ports, host namespaces, pod (anti-)affinity, priority; volumes
//! that cannot be shared safely become empty directories and are listed as not scanned. By
//! default the target runs the static `hold` program instead of its entrypoint.
//!
//! What the admission policy beside the audit's Role refuses, a clone never carries: Secrets
//! (volumes, projected sources, `secretKeyRef` and `envFrom` Secret references are left out and
//! listed), `privileged` and capabilities beyond Pod Security baseline (left out and listed),
//! and namespaces the spec does not place clones in (`kube-system` unless named).

use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, KeyToPath, LocalObjectReference, ObjectFieldSelector, Pod, PodSpec,
    ResourceRequirements, SeccompProfile, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sidescan_core::audit::record::VolumeNote;
use sidescan_core::audit::{
    AuditId, AuditSecurityMode, AuditSpec, HOLD_FILE, HOLD_MOUNT_PATH, PlacementMode, RunMode,
};
use sidescan_core::labels::{self, Component};
use sidescan_core::scanner::{AgentInvocation, Identify};
use sidescan_core::spec::{PROFILE_MOUNT_PATH, Resources, ScanBackend, SecurityMode};
use sidescan_core::{RunId, names};
use sidescan_gen::admission::BASELINE_CAPABILITIES;
use sidescan_gen::inputs::profile_key;
use std::collections::BTreeMap;

/// The init container that brings `hold` in.
pub use sidescan_core::audit::HOLD_CONTAINER;
/// Volumes sidescan adds; a workload volume with one of these names cannot be cloned.
pub const HOLD_VOLUME: &str = "sidescan-hold";
pub const RESULTS_VOLUME: &str = "sidescan-results";
pub const TMP_VOLUME: &str = "sidescan-tmp";
pub const PROFILE_VOLUME: &str = "sidescan-profile";
/// The UID the hold installer runs as (the distroless `nonroot` user).
pub const INSTALLER_UID: i64 = 65532;
/// The environment variable that carries the audit context into the agent's `metadata.json`.
pub const AUDIT_CONTEXT_ENV: &str = "SIDESCAN_AUDIT_CONTEXT";
/// Seconds `hold` and the pod outlive the target's deadline, so the controller, not the clock,
/// ends a clone.
pub const DEADLINE_MARGIN_SECONDS: u64 = 60;

/// Why a clone mounts and reads no Secret of the workload.
pub const SECRETS_NOT_MOUNTED: &str = "Secrets are never mounted into clones: the admission policy \
     beside the audit's Role refuses them, so the audit's token cannot reach a namespace's Secrets \
     through a pod";

/// A profile ConfigMap in the clone's namespace and the files to restore from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileMount {
    pub config_map: String,
    pub files: Vec<String>,
}

/// Everything besides the target that decides a clone.
#[derive(Debug, Clone)]
pub struct CloneRequest<'a> {
    pub spec: &'a AuditSpec,
    pub audit_id: &'a AuditId,
    pub run_id: &'a RunId,
    /// The namespace the clone runs in ([`AuditSpec::clone_namespace`]).
    pub namespace: &'a str,
    /// The audit Job, when the clone runs in its namespace (owner references cannot cross
    /// namespaces).
    pub owner: Option<OwnerReference>,
    pub profile: Option<ProfileMount>,
    /// `securityContext.seccompProfile` (Kubernetes 1.19+); the annotation before.
    pub seccomp_field: bool,
    /// When the clone is created (RFC 3339), recorded with its expiry in annotations.
    pub now: jiff::Timestamp,
    /// The run's folder and presigned uploads: the scanner gets these, never credentials.
    pub binding: Option<&'a crate::binding::RunBinding>,
}

/// A clone and what it does not reproduce of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Clone {
    pub pod: Pod,
    pub volumes_not_scanned: Vec<VolumeNote>,
    /// Environment entries and sources the clone leaves out (Secret and ConfigMap references
    /// in a scan namespace).
    pub env_not_reproduced: Vec<String>,
    /// Pod and container settings that are not reproduced, for the record.
    pub not_reproduced: Vec<String>,
    /// `same-uid` or `ptrace`.
    pub security_mode: &'static str,
}

/// Why a target cannot be cloned: it is reported as not scanned with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneRefused(pub String);

impl std::fmt::Display for CloneRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The clone's name: `sidescan-<workload>-<run id>` (a DNS label, unique per attempt).
pub fn clone_name(target: &Target, run_id: &RunId) -> String {
    let base = format!("sidescan-{}", target.workload.replace('.', "-"));
    names::label_with_suffix(&base, run_id.as_str())
}

fn quantities(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, Quantity>> {
    (!map.is_empty()).then(|| {
        map.iter()
            .map(|(k, v)| (k.clone(), Quantity(v.clone())))
            .collect()
    })
}

fn resources(r: &Resources) -> ResourceRequirements {
    ResourceRequirements {
        requests: quantities(&r.requests),
        limits: quantities(&r.limits),
        ..ResourceRequirements::default()
    }
}

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

fn empty_dir(name: &str, size_limit: Option<&str>) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: size_limit.map(|s| Quantity(s.into())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

fn seccomp_runtime_default(seccomp_field: bool) -> Option<SeccompProfile> {
    seccomp_field.then(|| SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..SeccompProfile::default()
    })
}

/// The volume source's field name (`persistentVolumeClaim`, `secret`, ...).
fn volume_kind(volume: &Volume) -> String {
    serde_json::to_value(volume)
        .ok()
        .and_then(|v| {
            v.as_object()?
                .keys()
                .find(|k| k.as_str() != "name")
                .cloned()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Decides each volume the target mounts: kept as is, narrowed, or replaced by an empty
/// directory (with the reason).
fn clone_volume(
    volume: &Volume,
    placement: PlacementMode,
    clone_ns: &str,
) -> (Volume, Option<VolumeNote>) {
    let kind = volume_kind(volume);
    let note = |reason: String| {
        Some(VolumeNote {
            name: volume.name.clone(),
            kind: kind.clone(),
            reason,
        })
    };
    let elsewhere = || {
        format!(
            "it lives in the workload's namespace; clones run in {clone_ns} \
             (placement.mode: workload-namespace mounts it)"
        )
    };
    let replaced = |reason: String| (empty_dir(&volume.name, None), note(reason));
    let in_scan_namespace = placement == PlacementMode::ScanNamespace;
    match kind.as_str() {
        "emptyDir" | "downwardAPI" => (volume.clone(), None),
        "secret" => replaced(SECRETS_NOT_MOUNTED.into()),
        "configMap" if in_scan_namespace => replaced(elsewhere()),
        "configMap" => (volume.clone(), None),
        "projected" => {
            let mut kept = volume.clone();
            let mut dropped = Vec::new();
            if let Some(projected) = kept.projected.as_mut() {
                let sources = projected.sources.take().unwrap_or_default();
                let mut keep = Vec::new();
                for source in sources {
                    if source.service_account_token.is_some() {
                        dropped.push("a ServiceAccount token (clones mount none)".to_string());
                    } else if source.secret.is_some() {
                        dropped.push(format!("a Secret: {SECRETS_NOT_MOUNTED}"));
                    } else if in_scan_namespace && source.config_map.is_some() {
                        dropped.push(format!("a ConfigMap: {}", elsewhere()));
                    } else {
                        keep.push(source);
                    }
                }
                if keep.is_empty() {
                    return replaced(format!(
                        "its sources are not mounted: {}",
                        dropped.join("; ")
                    ));
                }
                projected.sources = Some(keep);
            }
            let note = (!dropped.is_empty())
                .then(|| format!("partly mounted: left out {}", dropped.join("; ")))
                .and_then(note);
            (kept, note)
        }
        "persistentVolumeClaim" | "ephemeral" => replaced(
            "a persistent volume holds production data and may be ReadWriteOnce: not shared with \
             clones"
                .into(),
        ),
        "hostPath" => replaced("host paths are never mounted into clones".into()),
        _ => replaced(format!(
            "{kind} volumes are not mounted into clones (network, CSI and host storage)"
        )),
    }
}

/// The target's UID and GID as the pod template states them (container over pod).
fn template_ids(spec: &PodSpec, container: &Container) -> (Option<i64>, Option<i64>) {
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

fn scanner_security(
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

/// Template annotations that are part of the security context and stay; everything else (sidecar
/// injection, secret injectors, tooling) is dropped.
fn kept_annotations(template: &ObjectMeta, container: &str) -> BTreeMap<String, String> {
    template
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| {
            k.as_str() == "seccomp.security.alpha.kubernetes.io/pod"
                || *k == &format!("container.seccomp.security.alpha.kubernetes.io/{container}")
                || *k == &format!("container.apparmor.security.beta.kubernetes.io/{container}")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Builds the scan pod of `target`.
pub fn build(target: &Target, req: &CloneRequest<'_>) -> Result<Clone, CloneRefused> {
    let spec = req.spec;
    let refuse = |why: String| Err(CloneRefused(why));
    if !spec.clone_namespaces().allows(req.namespace) {
        return refuse(format!(
            "clones do not run in namespace {}: {} (name it in select.namespaces, or use \
             placement.mode scan-namespace)",
            req.namespace,
            if req.namespace == sidescan_core::audit::KUBE_SYSTEM {
                "kube-system only when the audit spec names it"
            } else {
                "the audit spec does not place clones there"
            }
        ));
    }
    let Some(pod_spec) = target.template.spec.as_ref() else {
        return refuse("the workload has no pod template".into());
    };
    let Some(original) = pod_spec
        .containers
        .iter()
        .find(|c| c.name == target.container)
    else {
        return refuse(format!(
            "container {} is not in the pod template",
            target.container
        ));
    };
    if pod_spec.os.as_ref().is_some_and(|os| os.name == "windows") {
        return refuse("Windows containers cannot be scanned (no shared /proc)".into());
    }
    let ours = [HOLD_VOLUME, RESULTS_VOLUME, TMP_VOLUME, PROFILE_VOLUME];
    if let Some(v) = pod_spec
        .volumes
        .iter()
        .flatten()
        .find(|v| ours.contains(&v.name.as_str()))
    {
        return refuse(format!(
            "the pod template has a volume named {}, which sidescan uses",
            v.name
        ));
    }
    if [spec.scanner.container.as_str(), HOLD_CONTAINER].contains(&original.name.as_str()) {
        return refuse(format!(
            "the container's name {} is one sidescan uses",
            original.name
        ));
    }
    let template_meta = target.template.metadata.clone().unwrap_or_default();
    let segment = target.segment();
    let deadline = spec.target_deadline_seconds + DEADLINE_MARGIN_SECONDS;
    let mut not_reproduced = Vec::new();
    let mut env_not_reproduced = Vec::new();

    // Volumes: only those the target container mounts, each kept, narrowed or replaced.
    let mounted: Vec<&str> = original
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    let mut volumes = Vec::new();
    let mut volumes_not_scanned = Vec::new();
    for volume in pod_spec.volumes.iter().flatten() {
        if !mounted.contains(&volume.name.as_str()) {
            continue;
        }
        let (cloned, note) = clone_volume(volume, spec.placement.mode, req.namespace);
        volumes.push(cloned);
        volumes_not_scanned.extend(note);
    }
    let replaced: Vec<&str> = volumes_not_scanned
        .iter()
        .filter(|n| !n.reason.starts_with("partly mounted"))
        .map(|n| n.name.as_str())
        .collect();

    // The target container.
    let mut target_container = original.clone();
    target_container.ports = None;
    target_container.liveness_probe = None;
    target_container.readiness_probe = None;
    target_container.startup_probe = None;
    target_container.lifecycle = None;
    target_container.resize_policy = None;
    target_container.restart_policy = None;
    target_container.stdin = None;
    target_container.stdin_once = None;
    target_container.tty = None;
    if original.ports.is_some() {
        not_reproduced.push("ports".to_string());
    }
    if original.liveness_probe.is_some()
        || original.readiness_probe.is_some()
        || original.startup_probe.is_some()
    {
        not_reproduced.push("probes".to_string());
    }
    if original.lifecycle.is_some() {
        not_reproduced.push("lifecycle hooks".to_string());
    }
    if original.volume_devices.is_some() {
        target_container.volume_devices = None;
        not_reproduced.push("volumeDevices (raw block devices)".to_string());
    }
    if let Some(mounts) = target_container.volume_mounts.as_mut() {
        for m in mounts.iter_mut() {
            if replaced.contains(&m.name.as_str()) {
                // Propagation needs the host path it was meant for.
                m.mount_propagation = None;
            }
        }
    }
    // Secret references never (the policy refuses them); ConfigMap references only in the
    // workload's namespace, where the ConfigMaps are.
    let in_scan_namespace = spec.placement.mode == PlacementMode::ScanNamespace;
    if let Some(vars) = target_container.env.as_mut() {
        vars.retain(|var| {
            let source = var.value_from.as_ref();
            let left_out = source.is_some_and(|f| {
                f.secret_key_ref.is_some() || (in_scan_namespace && f.config_map_key_ref.is_some())
            });
            if left_out {
                env_not_reproduced.push(var.name.clone());
            }
            !left_out
        });
    }
    if let Some(sources) = target_container.env_from.take() {
        let mut kept = Vec::new();
        for source in sources {
            match (&source.config_map_ref, &source.secret_ref) {
                (Some(cm), _) if in_scan_namespace => {
                    env_not_reproduced.push(format!("envFrom ConfigMap {}", cm.name));
                }
                (_, Some(s)) => env_not_reproduced.push(format!("envFrom Secret {}", s.name)),
                _ => kept.push(source),
            }
        }
        target_container.env_from = (!kept.is_empty()).then_some(kept);
    }
    // Never privileged, and only the capabilities Pod Security baseline allows: the policy
    // refuses the rest. The workload's other settings stay.
    if let Some(sc) = target_container.security_context.as_mut() {
        if sc.privileged == Some(true) {
            sc.privileged = None;
            not_reproduced.push("privileged (clones are never privileged)".into());
        }
        if let Some(add) = sc.capabilities.as_mut().and_then(|c| c.add.as_mut()) {
            let (kept, dropped): (Vec<String>, Vec<String>) = add
                .drain(..)
                .partition(|cap| BASELINE_CAPABILITIES.contains(&cap.as_str()));
            if !dropped.is_empty() {
                not_reproduced.push(format!(
                    "capabilities {} (clones add only those Pod Security baseline allows)",
                    dropped.join(", ")
                ));
            }
            *add = kept;
        }
        if sc
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(Vec::is_empty)
            && let Some(caps) = sc.capabilities.as_mut()
        {
            caps.add = None;
        }
    }
    match spec.target.run {
        RunMode::Hold => {
            target_container.command = Some(vec![format!("{HOLD_MOUNT_PATH}/{HOLD_FILE}")]);
            target_container.args = Some(vec![deadline.to_string()]);
            target_container.resources = Some(resources(&spec.target.resources));
            target_container
                .volume_mounts
                .get_or_insert_with(Vec::new)
                .push(mount(HOLD_VOLUME, HOLD_MOUNT_PATH, true));
        }
        RunMode::Entrypoint => {}
    }

    // The scanner sidecar: `sidescan-agent scan`, finding the target by the heuristic (the one
    // other container root in the pod), so it needs no API token either.
    let (uid, gid) = template_ids(pod_spec, original);
    let (scanner_security, security_mode) = scanner_security(
        spec.security.mode,
        uid,
        gid,
        req.seccomp_field,
        &target.container,
    )?;
    let mut invocation = AgentInvocation::new(spec.scanner.backend);
    invocation.identify = Some(Identify::Heuristic);
    invocation.target_container = Some(target.container.clone());
    invocation.scanner_container = Some(spec.scanner.container.clone());
    invocation.target_name = Some(segment.clone());
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
    let args = invocation.args();
    let context = serde_json::json!({
        "audit_id": req.audit_id.as_str(),
        "workload": {
            "namespace": target.namespace,
            "kind": target.kind.as_str(),
            "name": target.workload,
            "uid": target.workload_uid,
        },
        "container": target.container,
        "image": target.image,
        "run": spec.target.run.as_str(),
        "placement": spec.placement.mode.as_str(),
        "clone_namespace": req.namespace,
        "security_mode": security_mode,
        "volumes_not_scanned": volumes_not_scanned,
        "env_not_reproduced": env_not_reproduced,
    });
    // POD_NAMESPACE is the results' namespace: the workload's, wherever the clone runs.
    let mut scanner_env = vec![
        field_env("POD_NAME", "metadata.name"),
        env("POD_NAMESPACE", &target.namespace),
        field_env("NODE_NAME", "spec.nodeName"),
        env(AUDIT_CONTEXT_ENV, &context.to_string()),
    ];
    if let Some(endpoint) = &spec.results.endpoint {
        scanner_env.push(env("AWS_ENDPOINT_URL", endpoint));
    }
    if let Some(region) = &spec.results.region {
        scanner_env.push(env("AWS_REGION", region));
    }
    if spec.results.allow_http {
        scanner_env.push(env("AWS_ALLOW_HTTP", "true"));
    }
    scanner_env.push(env("AWS_EC2_METADATA_DISABLED", "true"));
    // The run's presigned uploads: a stolen value reaches this clone's two objects only.
    if let Some(grant) = req.binding.and_then(|b| b.grant.as_ref()) {
        scanner_env.push(env(
            sidescan_core::scanner::env::UPLOAD_URLS,
            &grant.to_json(),
        ));
    }
    let mut scanner_mounts = vec![
        mount(RESULTS_VOLUME, &spec.scanner.results_dir, false),
        mount(TMP_VOLUME, "/tmp", false),
    ];
    let cinc_profile = spec.scanner.backend == ScanBackend::Cinc
        && spec.profile.as_ref().is_some_and(|p| p.url.is_none());
    if cinc_profile {
        let Some(profile) = &req.profile else {
            return refuse(format!(
                "no profile ConfigMap in namespace {} for backend cinc",
                req.namespace
            ));
        };
        scanner_mounts.push(mount(PROFILE_VOLUME, PROFILE_MOUNT_PATH, true));
        volumes.push(Volume {
            name: PROFILE_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: profile.config_map.clone(),
                default_mode: Some(0o444),
                items: Some(
                    profile
                        .files
                        .iter()
                        .filter_map(|f| {
                            profile_key(f).map(|key| KeyToPath {
                                key,
                                path: f.clone(),
                                mode: None,
                            })
                        })
                        .collect(),
                ),
                optional: None,
            }),
            ..Volume::default()
        });
    }
    let scanner = Container {
        name: spec.scanner.container.clone(),
        image: Some(spec.images.reference(&spec.scanner.image)),
        image_pull_policy: Some(spec.images.pull_policy.as_str().into()),
        args: Some(args),
        env: Some(scanner_env),
        resources: Some(resources(&spec.scanner.resources)),
        security_context: Some(scanner_security),
        volume_mounts: Some(scanner_mounts),
        ..Container::default()
    };
    volumes.push(empty_dir(
        RESULTS_VOLUME,
        Some(&spec.scanner.results_size_limit),
    ));
    volumes.push(empty_dir(
        TMP_VOLUME,
        Some(&spec.scanner.results_size_limit),
    ));

    // The hold installer: the scanner image copies its static `hold` into a shared volume, so
    // neither image needs a shell or `cp`.
    let init_containers = match spec.target.run {
        RunMode::Hold => {
            volumes.push(empty_dir(HOLD_VOLUME, Some("16Mi")));
            Some(vec![Container {
                name: HOLD_CONTAINER.into(),
                image: Some(spec.images.reference(&spec.scanner.image)),
                image_pull_policy: Some(spec.images.pull_policy.as_str().into()),
                args: Some(sidescan_core::audit::install_hold_args()),
                resources: Some(resources(&Resources {
                    requests: BTreeMap::from([
                        ("cpu".into(), "10m".into()),
                        ("memory".into(), "16Mi".into()),
                    ]),
                    limits: BTreeMap::from([("memory".into(), "64Mi".into())]),
                })),
                security_context: Some(SecurityContext {
                    privileged: Some(false),
                    allow_privilege_escalation: Some(false),
                    read_only_root_filesystem: Some(true),
                    run_as_non_root: Some(true),
                    run_as_user: Some(INSTALLER_UID),
                    run_as_group: Some(INSTALLER_UID),
                    capabilities: Some(Capabilities {
                        drop: Some(vec!["ALL".into()]),
                        add: None,
                    }),
                    seccomp_profile: seccomp_runtime_default(req.seccomp_field),
                    ..SecurityContext::default()
                }),
                volume_mounts: Some(vec![mount(HOLD_VOLUME, HOLD_MOUNT_PATH, false)]),
                ..Container::default()
            }])
        }
        RunMode::Entrypoint => None,
    };

    // Pod-level settings: what decides where and as whom the container runs stays; what ties the
    // pod to the workload or the host goes.
    if pod_spec.host_pid == Some(true) {
        not_reproduced.push(
            "hostPID (the clone shares a process namespace between its own containers)".into(),
        );
    }
    if pod_spec.host_ipc == Some(true) {
        not_reproduced.push("hostIPC".into());
    }
    if pod_spec.host_network == Some(true) && !spec.cluster.host_network {
        not_reproduced.push("hostNetwork".into());
    }
    if pod_spec
        .init_containers
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        not_reproduced.push("init containers (they do not run in clones)".into());
    }
    let affinity = pod_spec.affinity.as_ref().and_then(|a| {
        a.node_affinity.as_ref().map(|node| Affinity {
            node_affinity: Some(node.clone()),
            ..Affinity::default()
        })
    });
    if pod_spec
        .affinity
        .as_ref()
        .is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
    {
        not_reproduced.push("pod affinity and anti-affinity".into());
    }
    if pod_spec.topology_spread_constraints.is_some() {
        not_reproduced.push("topology spread constraints".into());
    }
    if pod_spec.priority_class_name.is_some() {
        not_reproduced.push("priority class".into());
    }
    let pull_secrets = dedup(
        pod_spec
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|r| r.name.clone())
            .chain(target.service_account_pull_secrets.iter().cloned())
            .chain(spec.images.pull_secrets.iter().cloned()),
    );
    let mut annotations = kept_annotations(&template_meta, &target.container);
    annotations.insert("sidecar.istio.io/inject".into(), "false".into());
    annotations.insert("linkerd.io/inject".into(), "disabled".into());
    annotations.insert(
        "sidescan.io/workload".into(),
        format!("{}/{}/{}", target.kind, target.namespace, target.workload),
    );
    annotations.insert("sidescan.io/container".into(), target.container.clone());
    let expires = req
        .now
        .checked_add(jiff::SignedDuration::from_secs(
            (deadline + DEADLINE_MARGIN_SECONDS) as i64,
        ))
        .unwrap_or(req.now);
    annotations.insert("sidescan.io/expires".into(), expires.to_string());
    if !req.seccomp_field {
        annotations.insert(
            format!(
                "container.seccomp.security.alpha.kubernetes.io/{}",
                spec.scanner.container
            ),
            "runtime/default".into(),
        );
    }
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(clone_name(target, req.run_id)),
            namespace: Some(req.namespace.to_string()),
            labels: Some(labels::audit_labels(
                req.audit_id,
                Some(req.run_id),
                Some(&segment),
                Component::AuditClone,
            )),
            annotations: Some(annotations),
            owner_references: req.owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![target_container, scanner],
            init_containers,
            volumes: Some(volumes),
            restart_policy: Some("Never".into()),
            share_process_namespace: Some(true),
            automount_service_account_token: Some(false),
            active_deadline_seconds: Some((deadline + DEADLINE_MARGIN_SECONDS) as i64),
            termination_grace_period_seconds: Some(5),
            host_network: spec.cluster.host_network.then_some(true),
            image_pull_secrets: (!pull_secrets.is_empty()).then(|| {
                pull_secrets
                    .into_iter()
                    .map(|name| LocalObjectReference { name })
                    .collect()
            }),
            security_context: pod_spec.security_context.clone(),
            node_selector: pod_spec.node_selector.clone(),
            affinity,
            tolerations: pod_spec.tolerations.clone(),
            runtime_class_name: pod_spec.runtime_class_name.clone(),
            host_aliases: pod_spec.host_aliases.clone(),
            host_users: pod_spec.host_users,
            enable_service_links: pod_spec.enable_service_links,
            dns_config: pod_spec.dns_config.clone(),
            os: pod_spec.os.clone(),
            ..PodSpec::default()
        }),
        ..Pod::default()
    };
    Ok(Clone {
        pod,
        volumes_not_scanned,
        env_not_reproduced,
        not_reproduced,
        security_mode,
    })
}

#[cfg(test)]
#[path = "clone_tests.rs"]
pub(crate) mod tests;
