//! What a run says about itself: one line per phase, and the closing summary.

use crate::orchestrator::process::Evaluation;
use sidescan_core::history::{Comparison, Gate};
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

/// What changed since the baseline, for the closing summary: one count line, then one line per
/// new failure (findings included) and per fixed control.
pub fn delta_text(c: &Comparison) -> String {
    let d = &c.delta;
    let mut out = match &c.key {
        Some(key) => format!(
            "baseline: {key}: {} newly failed, {} fixed, {} new, {} removed controls\n",
            d.counts.newly_failed, d.counts.fixed, d.counts.new, d.counts.removed
        ),
        None => format!(
            "baseline: none ({}): every failure counts as new\n",
            c.note.as_deref().unwrap_or("no earlier result")
        ),
    };
    for f in &d.new_failures {
        let _ = writeln!(
            out,
            "new failure {} [{}] {}{}",
            f.control,
            f.severity,
            f.title.as_deref().unwrap_or(""),
            if f.findings.is_empty() {
                String::new()
            } else {
                format!(": {}", f.findings.join(", "))
            }
        );
    }
    if c.key.is_some() {
        for id in &d.fixed {
            let _ = writeln!(out, "fixed {id}");
        }
    }
    out
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
        if let Some(c) = &e.comparison {
            out.push_str(&delta_text(c));
        }
    }
    out.push('\n');
    let has_thresholds = report
        .evaluation
        .as_ref()
        .is_some_and(|e| e.validation.is_some());
    let gate = report
        .evaluation
        .as_ref()
        .map(|e| e.gate)
        .unwrap_or_default();
    let verdict = match (gate, report.status) {
        (Gate::NewFailures, ExitStatus::Passed) => "passed: nothing newly fails",
        (Gate::NewFailures, ExitStatus::ThresholdsNotMet) => "new failures since the baseline",
        (_, status) => verdict_line(status, has_thresholds),
    };
    let _ = writeln!(
        out,
        "verdict: {verdict} (exit code {})",
        report.status.code()
    );
    if let Some(error) = &report.error {
        // One line: a CI log reads a line that starts with `::` as a command.
        let _ = writeln!(out, "error: {}", log_safe(error));
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

/// The CI system whose log the runner writes to, from its environment: GitHub Actions
/// (`GITHUB_ACTIONS=true`) folds groups and shows `::error::` annotations, GitLab CI
/// (`GITLAB_CI=true`) folds sections; anything else is a plain terminal or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiLog {
    Plain,
    GitHub,
    GitLab,
}

impl CiLog {
    /// From environment variables (`var` returns a variable's value).
    pub fn detect(var: impl Fn(&str) -> Option<String>) -> CiLog {
        if var("GITHUB_ACTIONS").as_deref() == Some("true") {
            CiLog::GitHub
        } else if var("GITLAB_CI").as_deref() == Some("true") {
            CiLog::GitLab
        } else {
            CiLog::Plain
        }
    }
}

/// `text` safe as one line of a CI log: control characters (line breaks, carriage returns,
/// escape sequences) become spaces, so no part of it can start a line of its own and be read as
/// a workflow command or a section marker.
pub fn log_safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one_line(&cleaned)
}

/// A GitHub workflow command's message: `%`, CR and LF escaped as the runner expects.
pub fn github_escape(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The lines a finished phase prints: its phase line and, folded under it where the CI log
/// folds, `details` (what was logged while the phase ran). Plain: the phase line alone (details
/// were printed as they came). GitHub: a `::group::` titled with the phase line. GitLab: a
/// collapsed section (expanded when the phase failed) from `ended_unix - duration` to
/// `ended_unix`, so GitLab shows the phase's duration.
pub fn phase_block(ci: CiLog, p: &PhaseReport, details: &[String], ended_unix: u64) -> Vec<String> {
    let line = phase_line(&PhaseReport {
        detail: log_safe(&p.detail),
        ..p.clone()
    });
    let body = details.iter().map(|d| log_safe(d));
    match ci {
        CiLog::Plain => vec![line],
        CiLog::GitHub => std::iter::once(format!("::group::{}", github_escape(&line)))
            .chain(body)
            .chain(std::iter::once("::endgroup::".to_string()))
            .collect(),
        CiLog::GitLab => {
            let name = format!("sidescan_{}", p.phase.as_str());
            let started = ended_unix.saturating_sub(p.duration.as_secs_f64().round() as u64);
            let options = if p.ok { "[collapsed=true]" } else { "" };
            std::iter::once(format!(
                "section_start:{started}:{name}{options}\r\x1b[0K{line}"
            ))
            .chain(body)
            .chain(std::iter::once(format!(
                "section_end:{ended_unix}:{name}\r\x1b[0K"
            )))
            .collect()
        }
    }
}

/// What failed, in one line for a CI annotation: the verdict with its exit code and, for
/// thresholds not met, the compliance and the violated thresholds; otherwise the error. `None`
/// when the run passed.
pub fn failure_message(report: &RunReport) -> Option<String> {
    let error = report.error.as_deref().map(one_line);
    let message = match report.status {
        ExitStatus::Passed => return None,
        ExitStatus::ThresholdsNotMet => {
            let compliance = report
                .evaluation
                .as_ref()
                .map_or_else(|| "?".to_string(), |e| e.summary.compliance.to_string());
            let violations: Vec<String> = report
                .evaluation
                .as_ref()
                .and_then(|e| e.validation.as_ref())
                .map(|v| v.violations.iter().map(|x| one_line(&x.message)).collect())
                .unwrap_or_default();
            format!(
                "thresholds not met (exit code 1): compliance {compliance}%: {}",
                violations.join("; ")
            )
        }
        ExitStatus::BadInput => format!(
            "bad input (exit code 2): {}",
            error.as_deref().unwrap_or("no error message")
        ),
        ExitStatus::Infrastructure => format!(
            "the scan could not run (exit code 3): {}",
            error.as_deref().unwrap_or("no error message")
        ),
    };
    Some(message)
}

/// The `::error::` annotation GitHub shows on the job for a run that did not pass.
pub fn github_error(title: &str, message: &str) -> String {
    format!(
        "::error title={}::{}",
        github_escape(title).replace(':', "%3A").replace(',', "%2C"),
        github_escape(message)
    )
}

/// The verdict's name in the machine-readable run report (`scan --report-json`).
pub fn verdict_key(status: ExitStatus) -> &'static str {
    match status {
        ExitStatus::Passed => "passed",
        ExitStatus::ThresholdsNotMet => "not-met",
        ExitStatus::BadInput => "bad-input",
        ExitStatus::Infrastructure => "infrastructure",
    }
}

/// `text` on one line: line breaks and runs of whitespace become single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The machine-readable run report (`sidescan-runner scan --report-json FILE`): one JSON object
/// for CI wrappers, written after every run, also a failed one. `compliance`, `counts`,
/// `profile` and `controls` are null when nothing was evaluated; `thresholds` is null without a
/// threshold file; `hdf_url` is the run's `hdf.json` when the results are in a store or local
/// folder (`results_url` ends with `/`).
pub fn json(report: &RunReport) -> serde_json::Value {
    use serde_json::{Value, json};
    let summary = report.evaluation.as_ref().map(|e| &e.summary);
    let thresholds = report
        .evaluation
        .as_ref()
        .and_then(|e| e.validation.as_ref())
        .map(|v| {
            json!({
                "passed": v.passed(),
                "checked": v.checked,
                "violations": v.violations.iter()
                    .map(|x| json!({"key": x.key, "message": one_line(&x.message)}))
                    .collect::<Vec<_>>(),
            })
        });
    let hdf_url = report
        .results
        .as_deref()
        .filter(|r| r.contains("://") && r.ends_with('/'))
        .map(|r| format!("{r}{}", sidescan_core::ResultFile::Hdf.file_name()));
    let phases: Vec<Value> = report
        .phases
        .iter()
        .map(|p| {
            json!({
                "phase": p.phase.as_str(),
                "ok": p.ok,
                "duration_ms": p.duration.as_millis() as u64,
                "detail": one_line(&p.detail),
            })
        })
        .collect();
    json!({
        "verdict": verdict_key(report.status),
        "exit_code": report.status.code(),
        "compliance": summary.map(|s| s.compliance),
        "counts": summary.map(|s| json!({
            "passed": s.totals.passed,
            "failed": s.totals.failed,
            "skipped": s.totals.skipped,
            "no_impact": s.totals.no_impact,
            "error": s.totals.error,
        })),
        "profile": summary.map(|s| s.profile.as_str()),
        "controls": summary.map(|s| s.controls),
        "thresholds": thresholds,
        "gate": report.evaluation.as_ref().map(|e| e.gate.as_str()),
        "baseline": report.evaluation.as_ref().and_then(|e| e.comparison.as_ref()),
        "results_url": report.results,
        "hdf_url": hdf_url,
        "results_from_log": report.used_log,
        "run_id": report.run_id,
        "error": report.error.as_deref().map(one_line),
        "phases": phases,
        "duration_ms": report.total.as_millis() as u64,
    })
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

    #[test]
    fn the_ci_log_comes_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(CiLog::detect(env(&[])), CiLog::Plain);
        assert_eq!(
            CiLog::detect(env(&[("GITHUB_ACTIONS", "true")])),
            CiLog::GitHub
        );
        assert_eq!(CiLog::detect(env(&[("GITLAB_CI", "true")])), CiLog::GitLab);
        assert_eq!(
            CiLog::detect(env(&[("GITHUB_ACTIONS", "false"), ("CI", "true")])),
            CiLog::Plain
        );
    }

    #[test]
    fn phases_fold_into_github_groups_and_gitlab_sections() {
        let deploy = phase(Phase::Deploy, 2412, true, "pod x running");
        let details = vec!["info: stored (key=k)".to_string()];
        assert_eq!(
            phase_block(CiLog::Plain, &deploy, &details, 1_700_000_010),
            ["deploy       2.41s  ok      pod x running"]
        );
        assert_eq!(
            phase_block(CiLog::GitHub, &deploy, &details, 1_700_000_010),
            [
                "::group::deploy       2.41s  ok      pod x running",
                "info: stored (key=k)",
                "::endgroup::"
            ]
        );
        assert_eq!(
            phase_block(CiLog::GitLab, &deploy, &details, 1_700_000_010),
            [
                "section_start:1700000008:sidescan_deploy[collapsed=true]\r\x1b[0Kdeploy       2.41s  ok      pod x running",
                "info: stored (key=k)",
                "section_end:1700000010:sidescan_deploy\r\x1b[0K"
            ]
        );
        // A failed phase's section stays open; an empty group is still a group.
        let failed = phase(Phase::Scan, 500, false, "scanner crashed");
        assert_eq!(
            phase_block(CiLog::GitLab, &failed, &[], 1_700_000_010)[0],
            "section_start:1700000009:sidescan_scan\r\x1b[0Kscan         500ms  FAILED  scanner crashed"
        );
        assert_eq!(
            phase_block(CiLog::GitHub, &failed, &[], 1),
            [
                "::group::scan         500ms  FAILED  scanner crashed",
                "::endgroup::"
            ]
        );
    }

    #[test]
    fn nothing_a_phase_or_a_log_line_says_can_become_a_ci_command() {
        let forged = phase(
            Phase::Retrieve,
            7,
            false,
            "last log line: x\n::add-mask::y\r\x1b[2K",
        );
        let details = vec!["info: a\n::endgroup::".to_string()];
        let lines = phase_block(CiLog::GitHub, &forged, &details, 1);
        assert_eq!(
            lines,
            [
                "::group::retrieve       7ms  FAILED  last log line: x ::add-mask::y [2K",
                "info: a ::endgroup::",
                "::endgroup::"
            ]
        );
        // %, CR and LF in a workflow command's message are escaped.
        assert_eq!(github_escape("88% < 90%\r\n"), "88%25 < 90%25%0D%0A");
        let lines = phase_block(CiLog::GitLab, &forged, &details, 10);
        assert!(
            lines[1..]
                .iter()
                .all(|l| !l.contains('\r') || l.starts_with("section_end:"))
        );
    }

    #[test]
    fn a_failure_becomes_one_github_annotation() {
        let evaluation = evaluated("compliance.min: 80\nfailed.medium.max: 0\n");
        let not_met = RunReport {
            status: evaluation.status,
            evaluation: Some(evaluation),
            ..RunReport::default()
        };
        let message = failure_message(&not_met).unwrap();
        assert!(
            message.starts_with("thresholds not met (exit code 1): compliance 50%: "),
            "{message}"
        );
        assert!(message.contains("; "), "two violations: {message}");
        let annotation = github_error("sidescan", &message);
        assert!(
            annotation.starts_with(
                "::error title=sidescan::thresholds not met (exit code 1): compliance 50%25: "
            ),
            "{annotation}"
        );
        assert_eq!(annotation.lines().count(), 1);

        let infra = RunReport {
            status: ExitStatus::Infrastructure,
            error: Some("deploy deadline of 5 s passed\nretry".into()),
            ..RunReport::default()
        };
        assert_eq!(
            failure_message(&infra).unwrap(),
            "the scan could not run (exit code 3): deploy deadline of 5 s passed retry"
        );
        let bad = RunReport {
            status: ExitStatus::BadInput,
            error: Some("t.yml: unknown threshold key(s): x".into()),
            ..RunReport::default()
        };
        assert_eq!(
            github_error("sidescan", &failure_message(&bad).unwrap()),
            "::error title=sidescan::bad input (exit code 2): t.yml: unknown threshold key(s): x"
        );
        let passed = RunReport {
            status: ExitStatus::Passed,
            ..RunReport::default()
        };
        assert_eq!(failure_message(&passed), None);
    }

    /// An evaluation of two controls (one passed, one failed medium) against `threshold`.
    fn evaluated(threshold: &str) -> crate::orchestrator::process::Evaluation {
        use serde_json::json;
        let control = |id: &str, impact: f64, status: &str| {
            json!({"id": id, "title": id, "impact": impact, "tags": {}, "refs": [],
                   "source_location": {}, "descriptions": [],
                   "results": [{"status": status, "code_desc": "c",
                                "start_time": "2026-01-01T00:00:00Z"}]})
        };
        let hdf = serde_json::to_vec(&json!({
            "platform": {"name": "debian", "release": "12"}, "version": "1",
            "statistics": {"duration": 0.1},
            "profiles": [{"name": "baseline", "sha256": "0", "supports": [], "attributes": [],
                          "groups": [], "status": "loaded",
                          "controls": [control("a", 0.7, "passed"), control("b", 0.5, "failed")]}]
        }))
        .unwrap();
        let thresholds =
            crate::orchestrator::process::parse_thresholds(threshold, "t.yml").unwrap();
        crate::orchestrator::process::evaluate(&hdf, Some(&thresholds), &Default::default())
            .unwrap()
    }

    fn phase(phase: Phase, ms: u64, ok: bool, detail: &str) -> PhaseReport {
        PhaseReport {
            phase,
            duration: Duration::from_millis(ms),
            ok,
            detail: detail.into(),
        }
    }

    #[test]
    fn the_json_report_of_a_run_that_missed_its_thresholds() {
        let evaluation = evaluated("compliance.min: 80\nfailed.medium.max: 0\n");
        let report = RunReport {
            status: evaluation.status,
            run_id: Some("gl42abcdef".into()),
            phases: vec![
                phase(Phase::Deploy, 2412, true, "pod x running"),
                phase(Phase::Cleanup, 3001, true, "deleted\nand gone"),
            ],
            results: Some("s3://b/scans/ns/web/20260101T000000Z-gl42abcdef/".into()),
            evaluation: Some(evaluation),
            total: Duration::from_millis(6230),
            ..RunReport::default()
        };
        let doc = json(&report);
        assert_eq!(doc["verdict"], "not-met");
        assert_eq!(doc["exit_code"], 1);
        assert_eq!(doc["compliance"], 50);
        assert_eq!(
            doc["counts"],
            serde_json::json!({"passed": 1, "failed": 1, "skipped": 0, "no_impact": 0, "error": 0})
        );
        assert_eq!(doc["profile"], "baseline");
        assert_eq!(doc["controls"], 2);
        assert_eq!(doc["thresholds"]["passed"], false);
        assert_eq!(doc["thresholds"]["checked"], 2);
        let keys: Vec<&str> = doc["thresholds"]["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["compliance.min", "failed.medium.max"]);
        assert_eq!(
            doc["results_url"],
            "s3://b/scans/ns/web/20260101T000000Z-gl42abcdef/"
        );
        assert_eq!(
            doc["hdf_url"],
            "s3://b/scans/ns/web/20260101T000000Z-gl42abcdef/hdf.json"
        );
        assert_eq!(doc["run_id"], "gl42abcdef");
        assert_eq!(doc["error"], serde_json::Value::Null);
        assert_eq!(doc["duration_ms"], 6230);
        assert_eq!(
            doc["phases"],
            serde_json::json!([
                {"phase": "deploy", "ok": true, "duration_ms": 2412, "detail": "pod x running"},
                {"phase": "cleanup", "ok": true, "duration_ms": 3001, "detail": "deleted and gone"},
            ])
        );
    }

    #[test]
    fn the_json_report_of_a_passing_run_and_of_runs_that_could_not_scan() {
        let evaluation = evaluated("compliance.min: 50\n");
        let passed = RunReport {
            status: evaluation.status,
            results: Some("file:///tmp/results/ns/web/x/".into()),
            evaluation: Some(evaluation),
            ..RunReport::default()
        };
        let doc = json(&passed);
        assert_eq!(
            (doc["verdict"].as_str(), doc["exit_code"].as_u64()),
            (Some("passed"), Some(0))
        );
        assert_eq!(doc["thresholds"]["violations"], serde_json::json!([]));
        assert_eq!(doc["hdf_url"], "file:///tmp/results/ns/web/x/hdf.json");

        // Bad input: nothing ran, nothing evaluated; the error is one line.
        let bad = RunReport {
            status: ExitStatus::BadInput,
            error: Some("t.yml: unknown threshold key(s):\n  complianse.min".into()),
            ..RunReport::default()
        };
        let doc = json(&bad);
        assert_eq!(doc["verdict"], "bad-input");
        assert_eq!(doc["exit_code"], 2);
        assert_eq!(
            doc["error"],
            "t.yml: unknown threshold key(s): complianse.min"
        );
        for key in [
            "compliance",
            "counts",
            "profile",
            "controls",
            "thresholds",
            "gate",
            "baseline",
            "results_url",
            "hdf_url",
            "run_id",
        ] {
            assert_eq!(doc[key], serde_json::Value::Null, "{key}");
        }
        assert_eq!(doc["phases"], serde_json::json!([]));

        // Infrastructure, results kept in the orchestrator's log: no hdf_url.
        let infra = RunReport {
            status: ExitStatus::Infrastructure,
            error: Some("deploy deadline of 5 s passed".into()),
            run_id: Some("abc123".into()),
            phases: vec![phase(Phase::Deploy, 5000, false, "deadline")],
            results: Some("the orchestrator's log".into()),
            used_log: true,
            ..RunReport::default()
        };
        let doc = json(&infra);
        assert_eq!(doc["verdict"], "infrastructure");
        assert_eq!(doc["exit_code"], 3);
        assert_eq!(doc["hdf_url"], serde_json::Value::Null);
        assert_eq!(doc["results_from_log"], true);
        assert_eq!(doc["phases"][0]["ok"], false);
        assert_eq!(doc["compliance"], serde_json::Value::Null);
    }
}
