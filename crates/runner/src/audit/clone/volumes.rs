//! The clone's volumes: of the workload's, only those the target container mounts, each kept,
//! narrowed (a projected volume without its token and Secret sources) or replaced by an empty
//! directory and listed as not scanned; then sidescan's own (the profile, results, `/tmp` and
//! `hold` volumes).

use super::{
    CloneRefused, CloneRequest, HOLD_VOLUME, PROFILE_VOLUME, ProfileMount, RESULTS_VOLUME,
    SECRETS_NOT_MOUNTED, TMP_VOLUME,
};
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EmptyDirVolumeSource, KeyToPath, PodSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use sidescan_core::audit::record::VolumeNote;
use sidescan_core::audit::{AuditSpec, PlacementMode, RunMode};
use sidescan_core::spec::ScanBackend;
use sidescan_gen::inputs::profile_key;

pub(super) fn empty_dir(name: &str, size_limit: Option<&str>) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: size_limit.map(|s| Quantity(s.into())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// The volume source's field name (`persistentVolumeClaim`, `secret`, ...).
pub(super) fn volume_kind(volume: &Volume) -> String {
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

/// Why a ConfigMap is not mounted in a scan-namespace clone.
fn elsewhere(clone_ns: &str) -> String {
    format!(
        "it lives in the workload's namespace; clones run in {clone_ns} \
         (placement.mode: workload-namespace mounts it)"
    )
}

/// A projected volume without the sources a clone must not mount: the sources kept (none when
/// all are left out) and what was left out.
fn narrow_projected(
    volume: &Volume,
    in_scan_namespace: bool,
    clone_ns: &str,
) -> (Volume, Vec<String>) {
    let mut kept = volume.clone();
    let mut dropped = Vec::new();
    if let Some(projected) = kept.projected.as_mut() {
        let mut keep = Vec::new();
        for source in projected.sources.take().unwrap_or_default() {
            if source.service_account_token.is_some() {
                dropped.push("a ServiceAccount token (clones mount none)".to_string());
            } else if source.secret.is_some() {
                dropped.push(format!("a Secret: {SECRETS_NOT_MOUNTED}"));
            } else if in_scan_namespace && source.config_map.is_some() {
                dropped.push(format!("a ConfigMap: {}", elsewhere(clone_ns)));
            } else {
                keep.push(source);
            }
        }
        projected.sources = Some(keep);
    }
    (kept, dropped)
}

/// Decides each volume the target mounts: kept as is, narrowed, or replaced by an empty
/// directory (with the reason).
pub(super) fn clone_volume(
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
    let replaced = |reason: String| (empty_dir(&volume.name, None), note(reason));
    let in_scan_namespace = placement == PlacementMode::ScanNamespace;
    match kind.as_str() {
        "emptyDir" | "downwardAPI" => (volume.clone(), None),
        "secret" => replaced(SECRETS_NOT_MOUNTED.into()),
        "configMap" if in_scan_namespace => replaced(elsewhere(clone_ns)),
        "configMap" => (volume.clone(), None),
        "projected" => {
            let (kept, dropped) = narrow_projected(volume, in_scan_namespace, clone_ns);
            // A projected volume with no sources is invalid: replaced, like the unsafe kinds.
            if kept
                .projected
                .as_ref()
                .is_some_and(|p| p.sources.as_ref().is_some_and(Vec::is_empty))
            {
                return replaced(format!(
                    "its sources are not mounted: {}",
                    dropped.join("; ")
                ));
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

/// The workload's volumes the target container mounts, in the template's order, each decided by
/// [`clone_volume`], and the notes on those not (fully) scanned.
pub(super) fn workload_volumes(
    pod_spec: &PodSpec,
    original: &Container,
    placement: PlacementMode,
    clone_ns: &str,
) -> (Vec<Volume>, Vec<VolumeNote>) {
    let mounted: Vec<&str> = original
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.name.as_str())
        .collect();
    let mut volumes = Vec::new();
    let mut notes = Vec::new();
    for volume in pod_spec.volumes.iter().flatten() {
        if !mounted.contains(&volume.name.as_str()) {
            continue;
        }
        let (cloned, note) = clone_volume(volume, placement, clone_ns);
        volumes.push(cloned);
        notes.extend(note);
    }
    (volumes, notes)
}

/// The names of the volumes replaced by empty directories (a narrowed volume keeps its source).
pub(super) fn replaced_names(notes: &[VolumeNote]) -> Vec<&str> {
    notes
        .iter()
        .filter(|n| !n.reason.starts_with("partly mounted"))
        .map(|n| n.name.as_str())
        .collect()
}

/// The profile ConfigMap the scanner mounts: only for a cinc profile without a URL, which then
/// needs the copy in the clone's namespace.
pub(super) fn profile<'r>(
    spec: &AuditSpec,
    req: &'r CloneRequest<'_>,
) -> Result<Option<&'r ProfileMount>, CloneRefused> {
    let cinc_profile = spec.scanner.backend == ScanBackend::Cinc
        && spec.profile.as_ref().is_some_and(|p| p.url.is_none());
    if !cinc_profile {
        return Ok(None);
    }
    match &req.profile {
        Some(profile) => Ok(Some(profile)),
        None => Err(CloneRefused(format!(
            "no profile ConfigMap in namespace {} for backend cinc",
            req.namespace
        ))),
    }
}

/// The profile ConfigMap's files, restored to their paths (keys cannot hold a `/`).
pub(super) fn profile_volume(profile: &ProfileMount) -> Volume {
    Volume {
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
    }
}

/// The volumes sidescan adds after the workload's: the profile (when mounted), the scanner's
/// results and `/tmp`, and `hold`'s when the target runs it.
pub(super) fn sidescan_volumes(spec: &AuditSpec, profile: Option<&ProfileMount>) -> Vec<Volume> {
    let mut volumes: Vec<Volume> = profile.map(profile_volume).into_iter().collect();
    volumes.push(empty_dir(
        RESULTS_VOLUME,
        Some(&spec.scanner.results_size_limit),
    ));
    volumes.push(empty_dir(
        TMP_VOLUME,
        Some(&spec.scanner.results_size_limit),
    ));
    if spec.target.run == RunMode::Hold {
        volumes.push(empty_dir(HOLD_VOLUME, Some("16Mi")));
    }
    volumes
}
