//! What a run says about itself: one line per phase, and the closing summary.

use crate::orchestrator::process::Evaluation;
use sidescan_core::{ExitStatus, Phase};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One phase's end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseReport {
    pub phase: Phase,
    pub duration: Duration,
    pub ok: bool,
    pub detail: String,
}

/// Everything a run reports: the verdict, the phases, where the results are.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub status: ExitStatus,
    pub error: Option<String>,
    pub run_id: Option<String>,
    pub phases: Vec<PhaseReport>,
    /// Where the run's folder is: a store URL, a local directory, or the orchestrator's log.
    pub results: Option<String>,
    /// True when the result files came from the scanner's log rather than the store.
    pub used_log: bool,
    pub evaluation: Option<Evaluation>,
    /// API requests by kind.
    pub api_requests: BTreeMap<String, u64>,
    pub total: Duration,
}

impl Default for RunReport {
    fn default() -> Self {
        RunReport {
            status: ExitStatus::Infrastructure,
            error: None,
            run_id: None,
            phases: Vec::new(),
            results: None,
            used_log: false,
            evaluation: None,
            api_requests: BTreeMap::new(),
            total: Duration::ZERO,
        }
    }
}

/// `1.234s` / `56ms`.
pub fn format_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `deploy      2.41s  ok      pod sidescan-scan-web running on node localhost`.
pub fn phase_line(p: &PhaseReport) -> String {
    format!(
        "{:<9} {:>8}  {:<6}  {}",
        p.phase.as_str(),
        format_duration(p.duration),
        if p.ok { "ok" } else { "FAILED" },
        p.detail
    )
}

/// The verdict in words.
pub fn verdict_line(status: ExitStatus, has_thresholds: bool) -> &'static str {
    match status {
        ExitStatus::Passed if has_thresholds => "passed: every threshold met",
        ExitStatus::Passed => "scanned and stored (no threshold file)",
        ExitStatus::ThresholdsNotMet => "thresholds not met",
        ExitStatus::BadInput => "bad input",
        ExitStatus::Infrastructure => "infrastructure failure",
    }
}

/// The closing summary: counts, verdict, violations, where the results are, API requests.
pub fn summary(report: &RunReport) -> String {
    let mut out = String::new();
    if let Some(e) = &report.evaluation {
        out.push('\n');
        out.push_str(&sidescan_eval::report::summary_text(&e.summary));
        if let Some(v) = &e.validation {
            for violation in &v.violations {
                let _ = writeln!(out, "threshold {}: {}", violation.key, violation.message);
            }
        }
    }
    out.push('\n');
    let has_thresholds = report
        .evaluation
        .as_ref()
        .is_some_and(|e| e.validation.is_some());
    let _ = writeln!(
        out,
        "verdict: {} (exit code {})",
        verdict_line(report.status, has_thresholds),
        report.status.code()
    );
    if let Some(error) = &report.error {
        let _ = writeln!(out, "error: {error}");
    }
    if let Some(results) = &report.results {
        let _ = writeln!(
            out,
            "results: {results}{}",
            if report.used_log {
                " (read from the scanner's log)"
            } else {
                ""
            }
        );
    }
    let total: u64 = report.api_requests.values().sum();
    let _ = writeln!(
        out,
        "run {} in {}, {total} Kubernetes API requests",
        report.run_id.as_deref().unwrap_or("-"),
        format_duration(report.total)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_lines_line_up() {
        let line = phase_line(&PhaseReport {
            phase: Phase::Deploy,
            duration: Duration::from_millis(2412),
            ok: true,
            detail: "pod x running".into(),
        });
        assert_eq!(line, "deploy       2.41s  ok      pod x running");
        let line = phase_line(&PhaseReport {
            phase: Phase::Retrieve,
            duration: Duration::from_millis(7),
            ok: false,
            detail: "no".into(),
        });
        assert_eq!(line, "retrieve       7ms  FAILED  no");
    }

    #[test]
    fn the_summary_names_verdict_error_and_results() {
        let report = RunReport {
            status: ExitStatus::Infrastructure,
            error: Some("deploy deadline of 5 s passed".into()),
            run_id: Some("abc123".into()),
            results: Some("s3://b/scans/ns/web/x/".into()),
            used_log: true,
            api_requests: BTreeMap::from([("GET pods".into(), 2), ("POST pods".into(), 1)]),
            total: Duration::from_secs(3),
            ..RunReport::default()
        };
        let text = summary(&report);
        assert!(
            text.contains("verdict: infrastructure failure (exit code 3)"),
            "{text}"
        );
        assert!(
            text.contains("error: deploy deadline of 5 s passed"),
            "{text}"
        );
        assert!(text.contains("results: s3://b/scans/ns/web/x/ (read from the scanner's log)"));
        assert!(
            text.contains("run abc123 in 3.00s, 3 Kubernetes API requests"),
            "{text}"
        );
    }
}
