//! The audit's bookkeeping, pure: which targets a resumed audit still scans, whether a failed
//! attempt is retried, what a target's record says, the progress line, which leftover clones may
//! go, and `audit.json` from the records.

use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::Pod;
use sidescan_core::audit::record::{
    AuditRecord, AuditSettings, ProgressRecord, TargetRecord, Totals, Verdict,
};
use sidescan_core::audit::{AuditId, AuditSpec};
use sidescan_core::labels;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a resumed audit does with the targets it discovered.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePlan {
    /// Targets still to scan, in discovery order.
    pub to_scan: Vec<Target>,
    /// Records of targets whose results an earlier run stored (marked `resumed`).
    pub resumed: Vec<TargetRecord>,
    /// Failed controls of those targets, by target id, for the report.
    pub resumed_progress: Vec<ProgressRecord>,
}

/// Splits `targets` into those an earlier run of the audit finished (a progress record exists:
/// their results are stored) and those still to scan. Progress records of targets no longer
/// selected are kept too: their results exist and belong to the audit.
pub fn resume_plan(targets: Vec<Target>, stored: Vec<ProgressRecord>) -> ResumePlan {
    let by_id: BTreeMap<String, ProgressRecord> = stored
        .into_iter()
        .map(|p| (p.target.id.clone(), p))
        .collect();
    let mut to_scan = Vec::new();
    for target in targets {
        if !by_id.contains_key(&target.id()) {
            to_scan.push(target);
        }
    }
    let resumed_progress: Vec<ProgressRecord> = by_id.into_values().collect();
    let resumed = resumed_progress
        .iter()
        .map(|p| TargetRecord {
            resumed: true,
            ..p.target.clone()
        })
        .collect();
    ResumePlan {
        to_scan,
        resumed,
        resumed_progress,
    }
}

/// Why an attempt at a target did not produce stored results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptFailure {
    pub reason: String,
    /// False when another attempt cannot do better (the clone cannot be built for this
    /// template); true for everything the cluster or the store may not do next time.
    pub retryable: bool,
}

/// Whether a target gets another attempt after `attempts` attempts ended in `failure`.
pub fn retry(failure: &AttemptFailure, attempts: u32, retries: u32) -> bool {
    failure.retryable && attempts <= retries
}

/// The reason of a target that was not scanned: each attempt's, in order.
pub fn not_scanned_reason(failures: &[AttemptFailure]) -> String {
    match failures {
        [] => "not scanned".into(),
        [one] => one.reason.clone(),
        many => many
            .iter()
            .enumerate()
            .map(|(i, f)| format!("attempt {}: {}", i + 1, f.reason))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The record of a target that was not scanned.
pub fn not_scanned(
    target: &Target,
    failures: &[AttemptFailure],
    duration: Duration,
    clone_namespace: &str,
) -> TargetRecord {
    TargetRecord {
        namespace: target.namespace.clone(),
        kind: target.kind.as_str().into(),
        workload: target.workload.clone(),
        container: target.container.clone(),
        image: target.image.clone(),
        running_digests: target.running_digests.clone(),
        attempts: failures.len() as u32,
        duration_ms: duration.as_millis() as u64,
        reason: Some(not_scanned_reason(failures)),
        clone_namespace: Some(clone_namespace.to_string()),
        ..TargetRecord::new(target.id(), Verdict::NotScanned)
    }
}

/// A scanned target's `hdf.json` judged against the thresholds (`Err`: not valid HDF).
pub fn evaluate(
    hdf: &[u8],
    thresholds: Option<&sidescan_eval::Threshold>,
) -> Result<sidescan_eval::audit::ScanOutcome, String> {
    let hdf = sidescan_eval::hdf::parse(hdf).map_err(|e| e.to_string())?;
    let summary = sidescan_eval::summary::summarize(&hdf);
    let validation = thresholds.map(|t| sidescan_eval::validate::validate(&summary, t));
    Ok(sidescan_eval::audit::scan_outcome(
        &hdf,
        &summary,
        validation.as_ref(),
    ))
}

/// What a scanned target's record says besides the target and its evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScannedClone {
    pub clone_namespace: String,
    pub run_id: String,
    pub attempt: u32,
    pub duration: Duration,
    /// The target container's `imageID` in the clone.
    pub digest: Option<String>,
    pub node: Option<String>,
    pub result_keys: BTreeMap<String, String>,
    pub volumes_not_scanned: Vec<sidescan_core::audit::record::VolumeNote>,
}

/// A scanned target's record and progress record.
pub fn scanned(
    audit_id: &AuditId,
    target: &Target,
    clone: ScannedClone,
    evaluated: Result<sidescan_eval::audit::ScanOutcome, String>,
) -> (TargetRecord, ProgressRecord) {
    let mut record = not_scanned(target, &[], clone.duration, &clone.clone_namespace);
    record.reason = None;
    record.attempts = clone.attempt;
    record.run_id = Some(clone.run_id);
    record.image_digest = clone.digest.filter(|d| !d.is_empty());
    record.node = clone.node;
    record.result_keys = clone.result_keys;
    record.volumes_not_scanned = clone.volumes_not_scanned;
    let (failed_controls, omitted) = match evaluated {
        Ok(outcome) => {
            record.verdict = outcome.verdict;
            record.compliance = Some(outcome.compliance);
            record.counts = Some(outcome.counts);
            record.failed_by_severity = Some(outcome.failed_by_severity);
            record.violations = outcome.violations;
            (outcome.failed_controls, outcome.failed_controls_omitted)
        }
        Err(e) => {
            record.reason = Some(format!("the stored hdf.json is not valid HDF: {e}"));
            (vec![], 0)
        }
    };
    let progress = ProgressRecord {
        audit_id: audit_id.to_string(),
        target: record.clone(),
        failed_controls,
        failed_controls_omitted: omitted,
    };
    (record, progress)
}

fn short(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The line printed as a target finishes.
pub fn report_line(r: &TargetRecord) -> String {
    let what = format!(
        "{}/{} {} [{}]",
        r.namespace, r.kind, r.workload, r.container
    );
    let time = short(Duration::from_millis(r.duration_ms));
    match r.verdict {
        Verdict::NotScanned => format!(
            "NOT SCANNED {what} after {} attempt{} ({time}): {}",
            r.attempts,
            if r.attempts == 1 { "" } else { "s" },
            r.reason.as_deref().unwrap_or("")
        ),
        v => {
            let verdict = if v == Verdict::Passed {
                "PASSED"
            } else {
                "FAILED"
            };
            let compliance = r.compliance.map(|c| format!("{c}%")).unwrap_or_default();
            let failed = r
                .failed_by_severity
                .map(|s| {
                    format!(
                        "failed {} critical, {} high, {} medium, {} low",
                        s.critical, s.high, s.medium, s.low
                    )
                })
                .unwrap_or_default();
            let mut line = format!("{verdict} {what} compliance {compliance}, {failed} ({time})");
            if let Some(first) = r.violations.first() {
                line.push_str(&format!(": {first}"));
            }
            line
        }
    }
}

/// The progress bar for a terminal: `[#####.....] 12/40 passed 9 failed 2 errors 1 2m05s`.
pub fn progress_bar(totals: &Totals, total: usize, elapsed: Duration, width: usize) -> String {
    let done = totals.targets as usize;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    format!(
        "[{}{}] {done}/{total} passed {} failed {} errors {} {}",
        "#".repeat(filled),
        ".".repeat(width.saturating_sub(filled)),
        totals.passed,
        totals.failed,
        totals.not_scanned,
        short(elapsed)
    )
}

/// Clones of other runs that may be deleted now: those of this audit (a resumed audit's
/// leftovers from the run it continues), and any audit's clone past its expiry (its audit died
/// without cleaning up). Returns `(namespace, name)` pairs.
pub fn leftover_clones(
    pods: &[Pod],
    audit: &AuditId,
    now: jiff::Timestamp,
) -> Vec<(String, String)> {
    pods.iter()
        .filter(|p| {
            let labels = p.metadata.labels.as_ref();
            let is_clone = labels
                .and_then(|l| l.get(labels::APP_COMPONENT))
                .is_some_and(|c| c == labels::Component::AuditClone.as_str());
            if !is_clone {
                return false;
            }
            let ours = labels
                .and_then(|l| l.get(labels::AUDIT_ID))
                .is_some_and(|id| id == audit.as_str());
            let expired = p
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("sidescan.io/expires"))
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t <= now);
            ours || expired
        })
        .filter_map(|p| Some((p.metadata.namespace.clone()?, p.metadata.name.clone()?)))
        .collect()
}

/// What the report says about the audit's settings.
pub fn settings(spec: &AuditSpec) -> AuditSettings {
    AuditSettings {
        namespaces: spec.select.namespaces.clone(),
        label_selector: spec.select.label_selector.clone(),
        kinds: spec
            .select
            .kinds
            .iter()
            .map(|k| k.as_str().to_string())
            .collect(),
        scanner_image: spec.images.reference(&spec.scanner.image),
        backend: spec.scanner.backend.as_str().into(),
        profile: spec.profile.as_ref().and_then(|p| {
            p.url.clone().or_else(|| p.dir.clone()).or_else(|| {
                p.config_map
                    .as_ref()
                    .map(|c| format!("configMap {}", c.name))
            })
        }),
        thresholds: spec.thresholds.as_ref().and_then(|t| {
            t.file
                .clone()
                .or_else(|| t.config_map.as_ref().map(|c| format!("configMap {c}")))
        }),
        run: spec.target.run.as_str().into(),
        placement: format!(
            "{} ({})",
            spec.placement.mode.as_str(),
            match spec.placement.mode {
                sidescan_core::audit::PlacementMode::ScanNamespace => spec.scan_namespace(),
                sidescan_core::audit::PlacementMode::WorkloadNamespace => "beside each workload",
            }
        ),
        concurrency: spec.concurrency,
    }
}

/// `audit.json` from every target's record, in a stable order (namespace, then target id).
#[allow(clippy::too_many_arguments)]
pub fn audit_record(
    spec: &AuditSpec,
    audit_id: &AuditId,
    started: jiff::Timestamp,
    finished: jiff::Timestamp,
    store: &str,
    warnings: Vec<String>,
    mut targets: Vec<TargetRecord>,
) -> AuditRecord {
    targets.sort_by(|a, b| a.id.cmp(&b.id));
    let totals = Totals::of(&targets);
    AuditRecord {
        audit_id: audit_id.to_string(),
        cluster: spec.cluster_name.clone(),
        started: started.to_string(),
        finished: finished.to_string(),
        store: store.to_string(),
        settings: settings(spec),
        exit_code: totals.exit_status().code(),
        api_requests: None,
        totals,
        warnings,
        history: None,
        targets,
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
