//! What changed since an earlier result: the delta a scan's `evaluation.json` and each target of
//! an audit's `audit.json` record ([`Comparison`]), a target's compliance across audits
//! ([`TrendPoint`]), and what an audit did about it ([`AuditHistory`]: the gate, the earlier
//! audits read, the webhook's outcome). Pure types and rules; the evaluator computes deltas
//! (`sidescan_eval::diff::delta`), the runner finds the baselines and reads the trend.
//! Field order is the serialization order: the files are deterministic.

use serde::{Deserialize, Serialize};

/// What a run is compared with (`--baseline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineRequest {
    /// The previous run of the same namespace and target, found from the results layout.
    Latest,
    /// A given result: an `hdf.json` (or its run folder) as a key in the store or a URL; for an
    /// audit, an earlier audit (its id, or its `audit.json` key or URL).
    Key(String),
}

impl BaselineRequest {
    /// `latest`, or anything else as a key; `None` for an empty value or `none`.
    pub fn parse(value: &str) -> Option<BaselineRequest> {
        match value.trim() {
            "" | "none" => None,
            "latest" => Some(BaselineRequest::Latest),
            key => Some(BaselineRequest::Key(key.to_string())),
        }
    }

    /// How the request is written (`latest` or the key).
    pub fn as_str(&self) -> &str {
        match self {
            BaselineRequest::Latest => "latest",
            BaselineRequest::Key(key) => key,
        }
    }
}

/// What decides the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// The threshold file (without one, every scanned result passes).
    #[default]
    Thresholds,
    /// Only what newly fails compared with the baseline (`--fail-on-new`).
    NewFailures,
}

impl Gate {
    pub const fn as_str(self) -> &'static str {
        match self {
            Gate::Thresholds => "thresholds",
            Gate::NewFailures => "new-failures",
        }
    }
}

/// How many controls changed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaCounts {
    /// In both; not Failed before, Failed now.
    pub newly_failed: u64,
    /// In both; Failed before, Passed now.
    pub fixed: u64,
    /// Only in the new result.
    pub new: u64,
    /// Only in the baseline.
    pub removed: u64,
    /// Controls that fail now and did not before, or gained failing findings (the gate).
    pub new_failures: u64,
}

/// The failing findings of one control that appeared or went away: paths inside the target, or
/// the check's text when a finding names no path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingChange {
    pub control: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// A control that fails now and did not before (newly failed, new and failing, or failing with
/// new findings), as a notification names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewFailure {
    pub control: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub severity: String,
    /// The new failing findings (all of them for a control that newly fails).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
}

/// What changed from a baseline to a result. Lists are in the result's profile order (removed
/// controls in the baseline's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub counts: DeltaCounts,
    pub newly_failed: Vec<String>,
    pub fixed: Vec<String>,
    pub new: Vec<String>,
    pub removed: Vec<String>,
    /// Controls in both whose failing findings changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_failures: Vec<NewFailure>,
}

/// A result compared with its baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// The baseline's `hdf.json` (its key in the store, or the URL given); `None` when there is
    /// no earlier result: then every failure is new.
    pub key: Option<String>,
    /// Why there is no baseline, or what else the reader must know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub delta: Delta,
}

impl Comparison {
    /// Anything that fails now and did not before.
    pub fn has_new_failures(&self) -> bool {
        !self.delta.new_failures.is_empty()
    }
}

/// One audit's compliance of a target, for the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub audit_id: String,
    /// The audit's start, RFC 3339.
    pub started: String,
    /// `None`: the target was in that audit but not scanned.
    pub compliance: Option<u64>,
}

/// The audit's changes since the baselines, added up over its targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryTotals {
    /// Targets compared with an earlier result.
    pub compared: u64,
    /// Scanned targets without an earlier result (every failure new).
    pub without_baseline: u64,
    /// Targets with anything that newly fails.
    pub with_new_failures: u64,
    pub newly_failed: u64,
    pub fixed: u64,
    pub new_failures: u64,
}

impl HistoryTotals {
    pub fn of<'a>(comparisons: impl IntoIterator<Item = &'a Comparison>) -> HistoryTotals {
        let mut t = HistoryTotals::default();
        for c in comparisons {
            if c.key.is_some() {
                t.compared += 1;
            } else {
                t.without_baseline += 1;
            }
            if c.has_new_failures() {
                t.with_new_failures += 1;
            }
            t.newly_failed += c.delta.counts.newly_failed;
            t.fixed += c.delta.counts.fixed;
            t.new_failures += c.delta.counts.new_failures;
        }
        t
    }
}

/// What the audit's webhook did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationOutcome {
    /// The webhook's host (the URL's path and query often carry a secret: never recorded).
    pub host: String,
    pub format: String,
    pub delivered: bool,
    pub attempts: u32,
    /// The last HTTP status received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// New failures the message named.
    pub new_failures: u64,
}

/// `audit.json`'s `history`: what the targets were compared with, the gate, the earlier audits
/// the trend was read from, and the webhook's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditHistory {
    /// `latest` (each target's previous run from the layout) or the earlier audit given.
    pub baseline: String,
    pub gate: Gate,
    /// Audits in the trend, this one included (`--trend`).
    pub trend_length: u32,
    /// The earlier audits the trend was read from, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trend_audits: Vec<String>,
    pub totals: HistoryTotals,
    /// What could not be read (a baseline, an earlier audit); never fatal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationOutcome>,
}

/// Which earlier audits to read for a trend of `length` audits (this one included), from the
/// listing of `<prefix>/audits/`: the `length - 1` latest that started before `started` by
/// their id, then every id that tells no time (a hand-made Job's), at most `length - 1` of them;
/// [`trend`] orders what was read by the audits' own start.
pub fn trend_candidates(
    listed: &[String],
    current: &str,
    started: jiff::Timestamp,
    length: usize,
) -> Vec<String> {
    let keep = length.saturating_sub(1);
    let mut timed: Vec<(jiff::Timestamp, &String)> = Vec::new();
    let mut untimed: Vec<&String> = Vec::new();
    for id in listed {
        let id_str = id.trim_end_matches('/');
        let name = id_str.rsplit('/').next().unwrap_or(id_str);
        if name == current || crate::audit::AuditId::parse(name).is_err() {
            continue;
        }
        match crate::audit::AuditId::parse(name)
            .ok()
            .and_then(|a| a.time_hint())
        {
            Some(t) if t < started => timed.push((t, id)),
            Some(_) => {}
            None => untimed.push(id),
        }
    }
    timed.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    untimed.sort_by(|a, b| b.cmp(a));
    timed
        .into_iter()
        .map(|(_, id)| id)
        .take(keep)
        .chain(untimed.into_iter().take(keep))
        .map(|id| {
            let id = id.trim_end_matches('/');
            id.rsplit('/').next().unwrap_or(id).to_string()
        })
        .collect()
}

/// Each target's trend: its compliance in the `length - 1` latest of `earlier` audits that
/// started before `current` (by their `started`), oldest first, then in `current`. A target
/// absent from an audit has no point there. Returns the trends by target id and the earlier
/// audits used, oldest first.
pub fn trend(
    current: &crate::audit::record::AuditRecord,
    earlier: &[crate::audit::record::AuditRecord],
    length: usize,
) -> (
    std::collections::BTreeMap<String, Vec<TrendPoint>>,
    Vec<String>,
) {
    let time = |s: &str| s.parse::<jiff::Timestamp>().ok();
    let now = time(&current.started);
    let mut used: Vec<&crate::audit::record::AuditRecord> = earlier
        .iter()
        .filter(|a| a.audit_id != current.audit_id)
        .filter(|a| match (time(&a.started), now) {
            (Some(t), Some(now)) => t < now,
            _ => false,
        })
        .collect();
    used.sort_by(|a, b| {
        time(&a.started)
            .cmp(&time(&b.started))
            .then_with(|| a.audit_id.cmp(&b.audit_id))
    });
    used.dedup_by(|a, b| a.audit_id == b.audit_id);
    let skip = used.len().saturating_sub(length.saturating_sub(1));
    let used = &used[skip..];
    let mut trends = std::collections::BTreeMap::new();
    for target in &current.targets {
        let mut points: Vec<TrendPoint> = Vec::new();
        for audit in used.iter().copied().chain(std::iter::once(current)) {
            if let Some(t) = audit.targets.iter().find(|t| t.id == target.id) {
                points.push(TrendPoint {
                    audit_id: audit.audit_id.clone(),
                    started: audit.started.clone(),
                    compliance: t.compliance,
                });
            }
        }
        trends.insert(target.id.clone(), points);
    }
    (trends, used.iter().map(|a| a.audit_id.clone()).collect())
}

/// An audit's exit status under `gate`: 3 when a target was not scanned; then, with
/// [`Gate::NewFailures`], 1 when anything newly fails, else the thresholds' status.
pub fn audit_exit_status<'a>(
    gate: Gate,
    totals: &crate::audit::record::Totals,
    comparisons: impl IntoIterator<Item = &'a Comparison>,
) -> crate::ExitStatus {
    match gate {
        Gate::Thresholds => totals.exit_status(),
        Gate::NewFailures if totals.not_scanned > 0 => crate::ExitStatus::Infrastructure,
        Gate::NewFailures => {
            if comparisons.into_iter().any(Comparison::has_new_failures) {
                crate::ExitStatus::ThresholdsNotMet
            } else {
                crate::ExitStatus::Passed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{AuditRecord, TargetRecord, Totals, Verdict};

    fn comparison(key: Option<&str>, new_failures: &[&str], fixed: u64) -> Comparison {
        Comparison {
            key: key.map(str::to_string),
            note: None,
            delta: Delta {
                counts: DeltaCounts {
                    newly_failed: new_failures.len() as u64,
                    fixed,
                    new_failures: new_failures.len() as u64,
                    ..DeltaCounts::default()
                },
                newly_failed: new_failures.iter().map(|s| s.to_string()).collect(),
                new_failures: new_failures
                    .iter()
                    .map(|s| NewFailure {
                        control: s.to_string(),
                        title: None,
                        severity: "medium".into(),
                        findings: vec![],
                    })
                    .collect(),
                ..Delta::default()
            },
        }
    }

    #[test]
    fn baseline_requests_parse() {
        assert_eq!(
            BaselineRequest::parse("latest"),
            Some(BaselineRequest::Latest)
        );
        assert_eq!(BaselineRequest::parse("none"), None);
        assert_eq!(BaselineRequest::parse(" "), None);
        let key = BaselineRequest::parse("s3://b/k/hdf.json").unwrap();
        assert_eq!(key.as_str(), "s3://b/k/hdf.json");
    }

    #[test]
    fn the_gate_decides_the_audit_exit_code() {
        let all = [
            comparison(Some("a"), &["x"], 1),
            comparison(None, &[], 0),
            comparison(Some("b"), &[], 2),
        ];
        let totals = Totals {
            targets: 3,
            passed: 1,
            failed: 2,
            not_scanned: 0,
        };
        assert_eq!(audit_exit_status(Gate::Thresholds, &totals, &all).code(), 1);
        assert_eq!(
            audit_exit_status(Gate::NewFailures, &totals, &all).code(),
            1
        );
        assert_eq!(
            audit_exit_status(Gate::NewFailures, &totals, &all[1..]).code(),
            0
        );
        let missing = Totals {
            not_scanned: 1,
            ..totals
        };
        assert_eq!(
            audit_exit_status(Gate::NewFailures, &missing, &all[1..]).code(),
            3
        );
        let t = HistoryTotals::of(&all);
        assert_eq!(
            (
                t.compared,
                t.without_baseline,
                t.with_new_failures,
                t.newly_failed,
                t.fixed
            ),
            (2, 1, 1, 1, 3)
        );
    }

    fn audit(id: &str, started: &str, targets: &[(&str, Option<u64>)]) -> AuditRecord {
        AuditRecord {
            audit_id: id.into(),
            cluster: None,
            started: started.into(),
            finished: started.into(),
            store: "s3://b/p".into(),
            settings: Default::default(),
            totals: Totals::default(),
            exit_code: 0,
            warnings: vec![],
            history: None,
            api_requests: None,
            targets: targets
                .iter()
                .map(|(t, c)| TargetRecord {
                    compliance: *c,
                    ..TargetRecord::new(*t, Verdict::Passed)
                })
                .collect(),
        }
    }

    #[test]
    fn trend_candidates_are_the_latest_earlier_audits_by_id() {
        let listed: Vec<String> = [
            "p/audits/audit-20261120-030000-aaaaaa/",
            "p/audits/audit-20261122-030000-bbbbbb/",
            "p/audits/audit-20261124-030000-cccccc/",
            "p/audits/audit-20261126-030000-dddddd/",
            "p/audits/audit-20261127-030000-eeeeee/",
            "p/audits/sidescan-manual-ffffff/",
            "p/audits/not an id/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let started = "2026-11-26T03:00:00Z".parse().unwrap();
        assert_eq!(
            trend_candidates(&listed, "audit-20261126-030000-dddddd", started, 3),
            [
                "audit-20261124-030000-cccccc",
                "audit-20261122-030000-bbbbbb",
                "sidescan-manual-ffffff"
            ]
        );
        assert!(trend_candidates(&listed, "x", started, 1).is_empty());
    }

    #[test]
    fn trends_are_the_last_audits_oldest_first() {
        let current = audit(
            "a4",
            "2026-11-26T03:00:00Z",
            &[("ns/web", Some(90)), ("ns/new", Some(50))],
        );
        let earlier = [
            audit("a3", "2026-11-25T03:00:00Z", &[("ns/web", None)]),
            audit("a1", "2026-11-23T03:00:00Z", &[("ns/web", Some(60))]),
            audit("a2", "2026-11-24T03:00:00Z", &[("ns/web", Some(80))]),
            audit("later", "2026-11-27T03:00:00Z", &[("ns/web", Some(1))]),
        ];
        let (trends, used) = trend(&current, &earlier, 3);
        assert_eq!(used, ["a2", "a3"]);
        let web: Vec<(&str, Option<u64>)> = trends["ns/web"]
            .iter()
            .map(|p| (p.audit_id.as_str(), p.compliance))
            .collect();
        assert_eq!(web, [("a2", Some(80)), ("a3", None), ("a4", Some(90))]);
        assert_eq!(trends["ns/new"].len(), 1);
        let (all, used) = trend(&current, &earlier, 10);
        assert_eq!(used, ["a1", "a2", "a3"]);
        assert_eq!(all["ns/web"].len(), 4);
    }

    #[test]
    fn comparisons_round_trip_without_empty_lists() {
        let c = comparison(Some("p/ns/t/20261126T152045Z-abc123/hdf.json"), &[], 0);
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("note").is_none());
        assert!(json["delta"].get("findings").is_none());
        assert_eq!(json["delta"]["counts"]["new_failures"], 0);
        assert_eq!(serde_json::from_value::<Comparison>(json).unwrap(), c);
    }
}
