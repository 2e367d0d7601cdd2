//! What an audit writes under `<prefix>/audits/<audit id>/`: `audit.json` ([`AuditRecord`]),
//! rendered from one [`TargetRecord`] per target, and a progress record per finished target
//! ([`ProgressRecord`], `targets/<namespace>/<target>.json`) that a resumed audit reads back.
//! Field order is the serialization order: the files are deterministic.

use crate::history::{AuditHistory, Comparison, TrendPoint};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The outcome of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Scanned, results stored, every threshold met.
    Passed,
    /// Scanned, results stored, a threshold not met.
    Failed,
    /// Not scanned (after its retry): `reason` says why.
    NotScanned,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::NotScanned => "not-scanned",
        }
    }
}

/// Control counts by status, with the threshold file's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    pub no_impact: u64,
    pub error: u64,
}

/// Failed controls by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

/// A volume of the workload that the clone does not mount (an empty directory stands in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeNote {
    pub name: String,
    /// The volume's source kind (`persistentVolumeClaim`, `hostPath`, `secret`, ...).
    pub kind: String,
    pub reason: String,
}

/// One target of an audit, as `audit.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRecord {
    /// `<namespace>/<kind>.<workload>.<container>`: unique in an audit.
    pub id: String,
    pub namespace: String,
    /// Kubernetes kind of the workload (`Deployment`, ..., `Pod`).
    pub kind: String,
    pub workload: String,
    pub container: String,
    pub image: String,
    /// The digest the scanned container ran (the clone's `imageID`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    /// Digests the workload's own pods run for this container (differences mean drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub running_digests: Vec<String>,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compliance: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_by_severity: Option<SeverityCounts>,
    /// The threshold messages that were not met.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<String>,
    /// Object keys of the target's results by file name (`hdf.json`, `metadata.json`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub result_keys: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub attempts: u32,
    pub duration_ms: u64,
    /// Why the target was not scanned (and what happened on each attempt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the clone ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone_namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_not_scanned: Vec<VolumeNote>,
    /// True when the record comes from an earlier run of a resumed audit.
    #[serde(default, skip_serializing_if = "is_false")]
    pub resumed: bool,
    /// The earlier result this one was compared with, and what changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Comparison>,
    /// The target's compliance in the last audits, oldest first, this one last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trend: Vec<TrendPoint>,
}

impl TargetRecord {
    /// The record of one attempt at target `id` with only its verdict: no identity fields,
    /// results, placement or reason yet. Callers fill in what they know with `..`.
    pub fn new(id: impl Into<String>, verdict: Verdict) -> TargetRecord {
        TargetRecord {
            id: id.into(),
            namespace: String::new(),
            kind: String::new(),
            workload: String::new(),
            container: String::new(),
            image: String::new(),
            image_digest: None,
            running_digests: vec![],
            verdict,
            compliance: None,
            counts: None,
            failed_by_severity: None,
            violations: vec![],
            result_keys: BTreeMap::new(),
            run_id: None,
            attempts: 1,
            duration_ms: 0,
            reason: None,
            clone_namespace: None,
            node: None,
            volumes_not_scanned: vec![],
            resumed: false,
            baseline: None,
            trend: vec![],
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A failed control as the report lists it: id, severity, title and the failed results'
/// messages (bounded: see [`ProgressRecord`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedControl {
    pub id: String,
    pub severity: String,
    pub impact: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
}

/// Limits that keep a progress record and the report small whatever a profile produces.
pub const MAX_FAILED_CONTROLS: usize = 200;
pub const MAX_MESSAGES_PER_CONTROL: usize = 5;
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// `targets/<namespace>/<target>.json`: a finished target's record and failed controls, written
/// once as soon as the target's results are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressRecord {
    pub audit_id: String,
    pub target: TargetRecord,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_controls: Vec<FailedControl>,
    /// Failed controls left out beyond [`MAX_FAILED_CONTROLS`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_controls_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Targets by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub targets: u64,
    pub passed: u64,
    pub failed: u64,
    pub not_scanned: u64,
}

impl Totals {
    pub fn of<'a>(targets: impl IntoIterator<Item = &'a TargetRecord>) -> Totals {
        let mut t = Totals::default();
        for target in targets {
            t.targets += 1;
            match target.verdict {
                Verdict::Passed => t.passed += 1,
                Verdict::Failed => t.failed += 1,
                Verdict::NotScanned => t.not_scanned += 1,
            }
        }
        t
    }

    /// The audit's exit status: 3 when a target was not scanned, else 1 when a threshold was
    /// not met, else 0.
    pub fn exit_status(&self) -> crate::ExitStatus {
        if self.not_scanned > 0 {
            crate::ExitStatus::Infrastructure
        } else if self.failed > 0 {
            crate::ExitStatus::ThresholdsNotMet
        } else {
            crate::ExitStatus::Passed
        }
    }
}

/// What was audited and how, for the report's header.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditSettings {
    /// The namespaces audited (empty: all).
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub label_selector: String,
    #[serde(default)]
    pub kinds: Vec<String>,
    pub scanner_image: String,
    pub backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<String>,
    pub run: String,
    pub placement: String,
    pub concurrency: u32,
}

/// `audit.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub audit_id: String,
    /// The audit spec's `clusterName`, for reports across clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: String,
    /// The store URL the result keys are relative to (no credentials).
    pub store: String,
    pub settings: AuditSettings,
    pub totals: Totals,
    pub exit_code: u8,
    /// Kubernetes API requests the audit runner made (absent in audits written before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_requests: Option<u64>,
    /// Warnings of target discovery (a namespace that does not exist, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the targets were compared with, the gate, the trend's audits, the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<AuditHistory>,
    pub targets: Vec<TargetRecord>,
}

/// Cuts `text` to at most `max` characters (at a char boundary), marking the cut.
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(verdict: Verdict) -> TargetRecord {
        TargetRecord {
            namespace: "ns".into(),
            kind: "Deployment".into(),
            workload: "web".into(),
            container: "app".into(),
            image: "nginx:1.27".into(),
            ..TargetRecord::new("ns/deployment.web.app", verdict)
        }
    }

    #[test]
    fn totals_decide_the_exit_code() {
        let all = [target(Verdict::Passed), target(Verdict::Passed)];
        assert_eq!(Totals::of(&all).exit_status().code(), 0);
        let some_failed = [target(Verdict::Passed), target(Verdict::Failed)];
        assert_eq!(Totals::of(&some_failed).exit_status().code(), 1);
        let one_missing = [target(Verdict::Failed), target(Verdict::NotScanned)];
        let totals = Totals::of(&one_missing);
        assert_eq!(totals.exit_status().code(), 3);
        assert_eq!(
            (totals.targets, totals.failed, totals.not_scanned),
            (2, 1, 1)
        );
        assert_eq!(Totals::of(&[]).exit_status().code(), 0);
    }

    #[test]
    fn records_round_trip_without_empty_fields() {
        let t = target(Verdict::NotScanned);
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["verdict"], "not-scanned");
        assert!(json.get("reason").is_none() && json.get("resumed").is_none());
        let back: TargetRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn bounded_cuts_at_characters() {
        assert_eq!(bounded("héllo", 10), "héllo");
        assert_eq!(bounded("héllo", 2), "hé…");
    }
}
