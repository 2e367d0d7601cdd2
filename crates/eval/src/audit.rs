//! Audits: one target's scan turned into its record pieces ([`scan_outcome`]), and the audit's
//! `summary.md` ([`summary_markdown`]) and `junit.xml` ([`junit`], one test case per target).
//! Pure functions; the HTML report is [`crate::html`].

use std::fmt::Write;

use sidescan_core::audit::record::{
    AuditRecord, Counts, FailedControl, MAX_FAILED_CONTROLS, MAX_MESSAGE_CHARS,
    MAX_MESSAGES_PER_CONTROL, SeverityCounts, TargetRecord, Verdict, bounded,
};

use sidescan_core::history::{AuditHistory, Gate, NewFailure, TrendPoint};

use crate::hdf::{Hdf, Status};
use crate::report::xml;
use crate::summary::Summary;
use crate::validate::Validation;

/// What a scanned target's record says about its results.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    pub verdict: Verdict,
    pub compliance: u64,
    pub counts: Counts,
    pub failed_by_severity: SeverityCounts,
    pub violations: Vec<String>,
    pub failed_controls: Vec<FailedControl>,
    pub failed_controls_omitted: usize,
}

/// Counts by status, with the threshold names.
pub fn counts(summary: &Summary) -> Counts {
    Counts {
        passed: summary.totals.passed,
        failed: summary.totals.failed,
        skipped: summary.totals.skipped,
        no_impact: summary.totals.no_impact,
        error: summary.totals.error,
    }
}

/// Failed controls by severity.
pub fn failed_by_severity(summary: &Summary) -> SeverityCounts {
    SeverityCounts {
        critical: summary.severities.critical.failed,
        high: summary.severities.high.failed,
        medium: summary.severities.medium.failed,
        low: summary.severities.low.failed,
    }
}

/// The failed controls with their failed results' messages, bounded (see the record's limits).
pub fn failed_controls(hdf: &Hdf) -> (Vec<FailedControl>, usize) {
    let failed: Vec<_> = hdf
        .controls
        .iter()
        .filter(|c| c.status == Status::Failed)
        .collect();
    let omitted = failed.len().saturating_sub(MAX_FAILED_CONTROLS);
    let controls = failed
        .into_iter()
        .take(MAX_FAILED_CONTROLS)
        .map(|c| FailedControl {
            id: c.id.clone(),
            severity: c.severity.clone(),
            impact: c.impact,
            title: c.title.as_deref().map(|t| bounded(&one_line(t), 300)),
            messages: c
                .results
                .iter()
                .filter(|r| r.status == "failed")
                .take(MAX_MESSAGES_PER_CONTROL)
                .map(|r| {
                    let text = match &r.message {
                        Some(m) => format!("{}: {m}", r.code_desc),
                        None => r.code_desc.clone(),
                    };
                    bounded(text.trim(), MAX_MESSAGE_CHARS)
                })
                .collect(),
        })
        .collect();
    (controls, omitted)
}

/// A scanned target's verdict and record pieces. Without thresholds every scanned target
/// passes (as `saf validate threshold` with an empty file does): the counts still tell.
pub fn scan_outcome(hdf: &Hdf, summary: &Summary, validation: Option<&Validation>) -> ScanOutcome {
    let (failed_controls, failed_controls_omitted) = failed_controls(hdf);
    let passed = validation.is_none_or(Validation::passed);
    ScanOutcome {
        verdict: if passed {
            Verdict::Passed
        } else {
            Verdict::Failed
        },
        compliance: summary.compliance,
        counts: counts(summary),
        failed_by_severity: failed_by_severity(summary),
        violations: validation
            .map(|v| v.violations.iter().map(|x| x.message.clone()).collect())
            .unwrap_or_default(),
        failed_controls,
        failed_controls_omitted,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn md(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

fn icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "✅",
        Verdict::Failed => "❌",
        Verdict::NotScanned => "⚠️",
    }
}

/// `summary.md`: totals and one line per target (not-passed first), for a CI job summary.
pub fn summary_markdown(audit: &AuditRecord) -> String {
    let t = &audit.totals;
    let overall = if t.not_scanned > 0 {
        Verdict::NotScanned
    } else if t.failed > 0 {
        Verdict::Failed
    } else {
        Verdict::Passed
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## {} sidescan audit `{}`: {} targets, {} passed, {} failed, {} not scanned\n",
        icon(overall),
        audit.audit_id,
        t.targets,
        t.passed,
        t.failed,
        t.not_scanned
    );
    if let Some(cluster) = &audit.cluster {
        let _ = writeln!(out, "Cluster **{}**.", md(cluster));
    }
    let _ = writeln!(
        out,
        "Started {}, finished {}. Results in `{}`. Exit code {}.\n",
        audit.started, audit.finished, audit.store, audit.exit_code
    );
    for warning in &audit.warnings {
        let _ = writeln!(out, "> warning: {}", md(warning));
    }
    if !audit.warnings.is_empty() {
        out.push('\n');
    }
    let historic = audit.history.is_some()
        || audit
            .targets
            .iter()
            .any(|t| t.baseline.is_some() || !t.trend.is_empty());
    if let Some(h) = &audit.history {
        out.push_str(&history_markdown(h));
    }
    if audit.targets.is_empty() {
        out.push_str("No targets matched the selection.\n");
        return out;
    }
    if historic {
        out.push_str(
            "| | Namespace | Workload | Container | Image | Compliance | Failed (critical/high/medium/low) | New | Fixed | Trend | Note |\n",
        );
        out.push_str("|---|---|---|---|---|---:|---|---:|---:|---|---|\n");
    } else {
        out.push_str(
            "| | Namespace | Workload | Container | Image | Compliance | Failed (critical/high/medium/low) | Note |\n",
        );
        out.push_str("|---|---|---|---|---|---:|---|---|\n");
    }
    let mut rows: Vec<&TargetRecord> = audit.targets.iter().collect();
    rows.sort_by_key(|r| match r.verdict {
        Verdict::NotScanned => 0,
        Verdict::Failed => 1,
        Verdict::Passed => 2,
    });
    for r in rows {
        let compliance = r
            .compliance
            .map(|c| format!("{c}%"))
            .unwrap_or_else(|| "–".into());
        let failed = r
            .failed_by_severity
            .map(|s| format!("{}/{}/{}/{}", s.critical, s.high, s.medium, s.low))
            .unwrap_or_else(|| "–".into());
        let note = match (&r.reason, r.violations.first()) {
            (Some(reason), _) => reason.clone(),
            (None, Some(first)) => first.clone(),
            _ => String::new(),
        };
        let changes = if historic {
            let (n, f) = r
                .baseline
                .as_ref()
                .map(|c| {
                    (
                        c.delta.counts.new_failures.to_string(),
                        c.delta.counts.fixed.to_string(),
                    )
                })
                .unwrap_or_else(|| ("–".into(), "–".into()));
            format!(" {n} | {f} | {} |", sparkline(&r.trend))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} {} | {} | `{}` | {} | {} |{changes} {} |",
            icon(r.verdict),
            md(&r.namespace),
            md(&r.kind),
            md(&r.workload),
            md(&r.container),
            r.image.replace('`', "'"),
            compliance,
            failed,
            md(&bounded(&note, 200))
        );
    }
    let new_failures: Vec<(&TargetRecord, &NewFailure)> = audit
        .targets
        .iter()
        .filter_map(|t| t.baseline.as_ref().map(|c| (t, c)))
        .flat_map(|(t, c)| c.delta.new_failures.iter().map(move |f| (t, f)))
        .collect();
    if !new_failures.is_empty() {
        let _ = writeln!(out, "\n### New failures\n");
        for (t, f) in new_failures.iter().take(MAX_LISTED) {
            let findings = if f.findings.is_empty() {
                String::new()
            } else {
                let shown: Vec<String> = f
                    .findings
                    .iter()
                    .take(5)
                    .map(|x| format!("`{}`", md(x).replace('`', "'")))
                    .collect();
                format!(
                    ": {}{}",
                    shown.join(", "),
                    if f.findings.len() > 5 { ", …" } else { "" }
                )
            };
            let _ = writeln!(
                out,
                "- `{}`: `{}` ({}) {}{findings}",
                md(&t.id),
                md(&f.control),
                md(&f.severity),
                md(f.title.as_deref().unwrap_or(""))
            );
        }
        if new_failures.len() > MAX_LISTED {
            let _ = writeln!(out, "- … {} more", new_failures.len() - MAX_LISTED);
        }
    }
    out
}

/// New failures listed in `summary.md`.
const MAX_LISTED: usize = 100;

/// The changes since the last results, the gate and the webhook, for `summary.md`.
fn history_markdown(h: &AuditHistory) -> String {
    let t = &h.totals;
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut out = format!(
        "**Since the last results** ({}): {} new failure{} in {} target{}, {} newly failed and {} fixed control{}; {} target{} compared, {} without an earlier result (every failure counts as new). Gate: {}.\n",
        md(&h.baseline),
        t.new_failures,
        plural(t.new_failures),
        t.with_new_failures,
        plural(t.with_new_failures),
        t.newly_failed,
        t.fixed,
        plural(t.fixed),
        t.compared,
        plural(t.compared),
        t.without_baseline,
        match h.gate {
            Gate::Thresholds => "thresholds",
            Gate::NewFailures => "new failures only (--fail-on-new)",
        }
    );
    if let Some(n) = &h.notification {
        let _ = writeln!(
            out,
            "\nWebhook to {} ({}): {}.",
            md(&n.host),
            n.format,
            if n.delivered {
                format!(
                    "delivered, {} new failure{}",
                    n.new_failures,
                    plural(n.new_failures)
                )
            } else {
                format!(
                    "not delivered after {} attempt{}: {}",
                    n.attempts,
                    plural(u64::from(n.attempts)),
                    md(n.error.as_deref().unwrap_or("no answer"))
                )
            }
        );
    }
    out.push('\n');
    out
}

/// A trend as text: one block per audit (`▁` 0% to `█` 100%, `·` not scanned), then the first
/// and last compliance.
pub fn sparkline(points: &[TrendPoint]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if points.is_empty() {
        return "–".into();
    }
    let bars: String = points
        .iter()
        .map(|p| match p.compliance {
            Some(c) => BARS[(c.min(100) * 7 / 100) as usize],
            None => '·',
        })
        .collect();
    let known: Vec<u64> = points.iter().filter_map(|p| p.compliance).collect();
    match (known.first(), known.last()) {
        (Some(a), Some(b)) if known.len() > 1 => format!("{bars} {a}→{b}%"),
        (_, Some(b)) => format!("{bars} {b}%"),
        _ => bars,
    }
}

/// `junit.xml`: one test case per target (class `<namespace>.<kind>.<workload>`, name the
/// container). Failed -> `<failure>` with the violated thresholds; not scanned -> `<error>`.
pub fn junit(audit: &AuditRecord) -> String {
    let t = &audit.totals;
    let seconds: f64 = audit
        .targets
        .iter()
        .map(|r| r.duration_ms as f64)
        .sum::<f64>()
        / 1000.0;
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sidescan audit\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{seconds:.3}\">",
        t.targets, t.failed, t.not_scanned
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{seconds:.3}\" timestamp=\"{}\">",
        xml(&audit.audit_id),
        t.targets,
        t.failed,
        t.not_scanned,
        xml(&audit.started)
    );
    for r in &audit.targets {
        let _ = write!(
            out,
            "    <testcase classname=\"{}.{}.{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&r.namespace),
            xml(&r.kind.to_ascii_lowercase()),
            xml(&r.workload),
            xml(&r.container),
            r.duration_ms as f64 / 1000.0
        );
        match r.verdict {
            Verdict::Passed => out.push_str("/>\n"),
            Verdict::Failed => {
                let first = r
                    .violations
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "thresholds not met".into());
                let mut text = r.violations.join("\n");
                if let Some(hdf) = r.result_keys.get("hdf.json") {
                    let _ = write!(text, "\nresults: {hdf}");
                }
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"thresholds\">{}</failure>\n    </testcase>\n",
                    xml(&first),
                    xml(&text)
                );
            }
            Verdict::NotScanned => {
                let reason = r.reason.clone().unwrap_or_else(|| "not scanned".into());
                let _ = write!(
                    out,
                    ">\n      <error message=\"{}\" type=\"not-scanned\">{}</error>\n    </testcase>\n",
                    xml(&bounded(&one_line(&reason), 300)),
                    xml(&reason)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
