//! The target container: the workload's container as production runs it (image, environment,
//! working directory, security context), without what would make it act like production (ports,
//! probes, lifecycle hooks, raw devices) or what the admission policy refuses (Secret
//! references, `privileged`, capabilities beyond baseline); each is listed. By default it runs
//! `hold` instead of its entrypoint.

use super::volumes::replaced_names;
use super::{HOLD_VOLUME, hold_seconds, mount, resources};
use k8s_openapi::api::core::v1::{Container, SecurityContext};
use sidescan_core::audit::record::VolumeNote;
use sidescan_core::audit::{AuditSpec, HOLD_FILE, HOLD_MOUNT_PATH, PlacementMode, RunMode};
use sidescan_gen::admission::BASELINE_CAPABILITIES;

/// The target container and what it leaves out of the workload's.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TargetPart {
    pub container: Container,
    /// `env` names and `envFrom` sources left out.
    pub env_not_reproduced: Vec<String>,
    /// Container settings left out.
    pub not_reproduced: Vec<String>,
}

/// The target container of a clone: `original` with its production-only settings dropped, the
/// mounts of replaced volumes (`volume_notes`) without propagation, the references the clone
/// cannot resolve or must not read left out, its privileges narrowed, and `hold` as its
/// command when the spec says so.
pub(super) fn container(
    original: &Container,
    volume_notes: &[VolumeNote],
    spec: &AuditSpec,
) -> TargetPart {
    let (mut container, mut not_reproduced) = without_production_settings(original);
    let replaced = replaced_names(volume_notes);
    for m in container.volume_mounts.iter_mut().flatten() {
        if replaced.contains(&m.name.as_str()) {
            // Propagation needs the host path it was meant for.
            m.mount_propagation = None;
        }
    }
    let in_scan_namespace = spec.placement.mode == PlacementMode::ScanNamespace;
    let env_not_reproduced = leave_out_references(&mut container, in_scan_namespace);
    if let Some(sc) = container.security_context.as_mut() {
        not_reproduced.extend(narrow_privileges(sc));
    }
    if spec.target.run == RunMode::Hold {
        run_hold(&mut container, spec);
    }
    TargetPart {
        container,
        env_not_reproduced,
        not_reproduced,
    }
}

/// `original` without ports, probes, lifecycle hooks, raw devices and the interactive and
/// restart settings, and the list of those it had.
pub(super) fn without_production_settings(original: &Container) -> (Container, Vec<String>) {
    let mut container = original.clone();
    container.ports = None;
    container.liveness_probe = None;
    container.readiness_probe = None;
    container.startup_probe = None;
    container.lifecycle = None;
    container.resize_policy = None;
    container.restart_policy = None;
    container.stdin = None;
    container.stdin_once = None;
    container.tty = None;
    container.volume_devices = None;
    let mut dropped = Vec::new();
    if original.ports.is_some() {
        dropped.push("ports".to_string());
    }
    if original.liveness_probe.is_some()
        || original.readiness_probe.is_some()
        || original.startup_probe.is_some()
    {
        dropped.push("probes".to_string());
    }
    if original.lifecycle.is_some() {
        dropped.push("lifecycle hooks".to_string());
    }
    if original.volume_devices.is_some() {
        dropped.push("volumeDevices (raw block devices)".to_string());
    }
    (container, dropped)
}

/// Leaves out Secret references always (the policy refuses them) and ConfigMap references in a
/// scan namespace (the ConfigMaps are in the workload's); returns what was left out, `env`
/// names first.
pub(super) fn leave_out_references(
    container: &mut Container,
    in_scan_namespace: bool,
) -> Vec<String> {
    let mut left_out = Vec::new();
    if let Some(vars) = container.env.as_mut() {
        vars.retain(|var| {
            let dropped = var.value_from.as_ref().is_some_and(|f| {
                f.secret_key_ref.is_some() || (in_scan_namespace && f.config_map_key_ref.is_some())
            });
            if dropped {
                left_out.push(var.name.clone());
            }
            !dropped
        });
    }
    if let Some(sources) = container.env_from.take() {
        let mut kept = Vec::new();
        for source in sources {
            match (&source.config_map_ref, &source.secret_ref) {
                (Some(cm), _) if in_scan_namespace => {
                    left_out.push(format!("envFrom ConfigMap {}", cm.name));
                }
                (_, Some(s)) => left_out.push(format!("envFrom Secret {}", s.name)),
                _ => kept.push(source),
            }
        }
        container.env_from = (!kept.is_empty()).then_some(kept);
    }
    left_out
}

/// Never privileged, and only the capabilities Pod Security baseline allows: the policy refuses
/// the rest. The workload's other settings stay. Returns what was left out.
pub(super) fn narrow_privileges(sc: &mut SecurityContext) -> Vec<String> {
    let mut dropped_settings = Vec::new();
    if sc.privileged == Some(true) {
        sc.privileged = None;
        dropped_settings.push("privileged (clones are never privileged)".into());
    }
    if let Some(add) = sc.capabilities.as_mut().and_then(|c| c.add.as_mut()) {
        let (kept, dropped): (Vec<String>, Vec<String>) = add
            .drain(..)
            .partition(|cap| BASELINE_CAPABILITIES.contains(&cap.as_str()));
        if !dropped.is_empty() {
            dropped_settings.push(format!(
                "capabilities {} (clones add only those Pod Security baseline allows)",
                dropped.join(", ")
            ));
        }
        *add = kept;
    }
    // An empty `add` is left out altogether, as if the workload had named none.
    if let Some(caps) = sc.capabilities.as_mut()
        && caps.add.as_ref().is_some_and(Vec::is_empty)
    {
        caps.add = None;
    }
    dropped_settings
}

/// The target runs `hold` (from the read-only `hold` volume) until its deadline, with the
/// spec's resources instead of the workload's.
pub(super) fn run_hold(container: &mut Container, spec: &AuditSpec) {
    container.command = Some(vec![format!("{HOLD_MOUNT_PATH}/{HOLD_FILE}")]);
    container.args = Some(vec![hold_seconds(spec).to_string()]);
    container.resources = Some(resources(&spec.target.resources));
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(mount(HOLD_VOLUME, HOLD_MOUNT_PATH, true));
}
