//! Process: the evaluator applies the threshold file to the HDF; the verdict is the exit code.
//! Writes `evaluation.json`, `summary.md` and `junit.xml` (bytes here; the caller stores them
//! beside `hdf.json`).

use crate::Error;
use serde_json::json;
use sidescan_core::history::{Comparison, Gate};
use sidescan_core::{ExitStatus, ResultFile};
use sidescan_eval::{Summary, Threshold, Validation, hdf, report, summary, threshold, validate};

/// Reads a threshold file's text the way `sidescan-gen` checks it: the evaluator's parser, and
/// unknown keys are errors (a misspelled key would silently check nothing).
pub fn parse_thresholds(text: &str, origin: &str) -> Result<Threshold, Error> {
    let bad = |reason: String| Error::Input {
        path: origin.to_string(),
        reason,
    };
    let parsed = threshold::parse_threshold(text, origin).map_err(|e| {
        let message = e.to_string();
        let message = message.lines().next().unwrap_or_default();
        bad(message
            .strip_prefix(&format!("{origin}: "))
            .unwrap_or(message)
            .to_string())
    })?;
    if !parsed.unknown_keys.is_empty() {
        return Err(bad(format!(
            "unknown threshold key(s): {}",
            parsed.unknown_keys.join(", ")
        )));
    }
    Ok(parsed)
}

/// What the run is, for `evaluation.json`.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub run_id: String,
    pub namespace: String,
    pub target: String,
    /// The stored `hdf.json` (its key, or where it came from) and its sha256.
    pub hdf_source: String,
    pub hdf_sha256: String,
}

/// The result a run is compared with (`--baseline`), as found.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// What was asked for: `latest` or the key given.
    pub requested: String,
    /// The baseline's `hdf.json` key (or URL); `None` when there is no earlier run.
    pub key: Option<String>,
    pub hdf: Option<Vec<u8>>,
    /// Why there is none.
    pub note: Option<String>,
}

/// The evaluation and its files.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub status: ExitStatus,
    pub summary: Summary,
    pub validation: Option<Validation>,
    /// What decided the status.
    pub gate: Gate,
    /// The run compared with its baseline, when one was asked for.
    pub comparison: Option<Comparison>,
    /// `evaluation.json`, `summary.md`, `junit.xml`, in that order.
    pub files: Vec<(ResultFile, Vec<u8>)>,
}

/// The verdict's name in `evaluation.json`.
pub fn verdict_name(status: ExitStatus, has_thresholds: bool) -> &'static str {
    verdict_name_for(Gate::Thresholds, status, has_thresholds)
}

/// The verdict's name under `gate`.
pub fn verdict_name_for(gate: Gate, status: ExitStatus, has_thresholds: bool) -> &'static str {
    if gate == Gate::NewFailures {
        return match status {
            ExitStatus::Passed => "no-new-failures",
            _ => "new-failures",
        };
    }
    match (status, has_thresholds) {
        (ExitStatus::Passed, true) => "passed",
        (ExitStatus::Passed, false) => "stored",
        _ => "thresholds-not-met",
    }
}

/// Evaluates `hdf` against `thresholds` (none: the verdict is that the scan ran and was stored).
pub fn evaluate(
    hdf: &[u8],
    thresholds: Option<&Threshold>,
    facts: &RunFacts,
) -> Result<Evaluation, Error> {
    evaluate_against(hdf, thresholds, facts, None, Gate::Thresholds)
}

/// Evaluates `hdf` against `thresholds` and, when given, compares it with `baseline` (`None`
/// key: no earlier run, every failure is new). Under [`Gate::NewFailures`] the status is 1 only
/// when something newly fails; the thresholds are still checked and recorded.
pub fn evaluate_against(
    hdf: &[u8],
    thresholds: Option<&Threshold>,
    facts: &RunFacts,
    baseline: Option<&Baseline>,
    gate: Gate,
) -> Result<Evaluation, Error> {
    let parsed = hdf::parse_named(hdf, &facts.hdf_source).map_err(|e| Error::Retrieve {
        object: facts.hdf_source.clone(),
        reason: format!("the scanner's hdf.json is not valid HDF: {e}"),
    })?;
    let summary = summary::summarize(&parsed);
    let validation = thresholds.map(|t| validate::validate(&summary, t));
    let comparison = match baseline {
        None => None,
        Some(b) => {
            let base = match (&b.key, &b.hdf) {
                (Some(key), Some(bytes)) => {
                    Some(hdf::parse_named(bytes, key).map_err(|e| Error::Baseline {
                        key: key.clone(),
                        reason: format!("not a valid HDF result: {e}"),
                    })?)
                }
                _ => None,
            };
            let key = b.key.as_deref().unwrap_or_default();
            Some(sidescan_eval::diff::compare(
                base.as_ref().map(|h| (key, h)),
                &parsed,
                b.note.clone(),
            ))
        }
    };
    let status = match (gate, &comparison, &validation) {
        (Gate::NewFailures, Some(c), _) if c.has_new_failures() => ExitStatus::ThresholdsNotMet,
        (Gate::NewFailures, _, _) => ExitStatus::Passed,
        (Gate::Thresholds, _, Some(v)) if !v.passed() => ExitStatus::ThresholdsNotMet,
        (Gate::Thresholds, _, _) => ExitStatus::Passed,
    };
    let evaluation = json!({
        "run_id": facts.run_id,
        "namespace": facts.namespace,
        "target": facts.target,
        "hdf": {"source": facts.hdf_source, "sha256": facts.hdf_sha256},
        "verdict": verdict_name_for(gate, status, thresholds.is_some()),
        "exit_code": status.code(),
        "gate": gate.as_str(),
        "baseline": match (baseline, &comparison) {
            (Some(b), Some(c)) => json!({
                "requested": b.requested,
                "key": c.key,
                "note": c.note,
                "new_failures": c.has_new_failures(),
                "delta": c.delta,
            }),
            _ => serde_json::Value::Null,
        },
        "summary": summary,
        "thresholds": match (thresholds, &validation) {
            (Some(t), Some(v)) => json!({
                "origin": t.origin,
                "passed": v.passed,
                "compliance": v.compliance,
                "checked": v.checked,
                "violations": v.violations,
            }),
            _ => serde_json::Value::Null,
        },
    });
    let mut markdown = report::summary_markdown(&summary);
    if let Some(v) = &validation {
        markdown.push('\n');
        match v.first_message() {
            None => markdown.push_str(&format!("**Thresholds met** ({} checked).\n", v.checked)),
            Some(_) => {
                markdown.push_str(&format!(
                    "**Thresholds not met** ({} of {} checks failed):\n\n",
                    v.violations.len(),
                    v.checked
                ));
                for violation in &v.violations {
                    markdown.push_str(&format!("- `{}`: {}\n", violation.key, violation.message));
                }
            }
        }
    }
    if let Some(c) = &comparison {
        markdown.push('\n');
        markdown.push_str(&delta_markdown(c));
    }
    let files = vec![
        (
            ResultFile::Evaluation,
            format!("{evaluation:#}\n").into_bytes(),
        ),
        (ResultFile::Summary, markdown.into_bytes()),
        (ResultFile::Junit, report::junit(&parsed).into_bytes()),
    ];
    Ok(Evaluation {
        status,
        summary,
        validation,
        gate,
        comparison,
        files,
    })
}

/// What changed since the baseline, for `summary.md`.
pub fn delta_markdown(c: &Comparison) -> String {
    let d = &c.delta;
    let mut out = match &c.key {
        Some(key) => format!(
            "**Since `{key}`**: {} newly failed, {} fixed, {} new, {} removed controls; {} new failure{}.\n",
            d.counts.newly_failed,
            d.counts.fixed,
            d.counts.new,
            d.counts.removed,
            d.counts.new_failures,
            if d.counts.new_failures == 1 { "" } else { "s" }
        ),
        None => format!(
            "**No baseline** ({}): {} failing control{} count{} as new.\n",
            c.note.as_deref().unwrap_or("no earlier result"),
            d.counts.new_failures,
            if d.counts.new_failures == 1 { "" } else { "s" },
            if d.counts.new_failures == 1 { "s" } else { "" }
        ),
    };
    if !d.new_failures.is_empty() {
        out.push('\n');
        for f in &d.new_failures {
            out.push_str(&format!(
                "- ❌ `{}` ({}) {}{}\n",
                f.control,
                f.severity,
                f.title.as_deref().unwrap_or(""),
                if f.findings.is_empty() {
                    String::new()
                } else {
                    format!(": `{}`", f.findings.join("`, `"))
                }
            ));
        }
    }
    if c.key.is_some() {
        for id in &d.fixed {
            out.push_str(&format!("- ✅ fixed `{id}`\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two controls: one passed (high), one failed (medium).
    fn hdf() -> Vec<u8> {
        let control = |id: &str, impact: f64, status: &str| {
            json!({"id": id, "title": format!("control {id}"), "impact": impact, "tags": {},
                   "refs": [], "source_location": {}, "descriptions": [],
                   "results": [{"status": status, "code_desc": "c",
                                "start_time": "2026-01-01T00:00:00Z"}]})
        };
        serde_json::to_vec(&json!({
            "platform": {"name": "debian", "release": "12"},
            "version": "1",
            "statistics": {"duration": 0.1},
            "profiles": [{"name": "p", "sha256": "0", "supports": [], "attributes": [],
                          "groups": [], "status": "loaded",
                          "controls": [control("a", 0.7, "passed"), control("b", 0.5, "failed")]}]
        }))
        .unwrap()
    }

    fn facts() -> RunFacts {
        RunFacts {
            run_id: "abc123".into(),
            namespace: "ns".into(),
            target: "web".into(),
            hdf_source: "s3://b/ns/web/x/hdf.json".into(),
            hdf_sha256: "00".into(),
        }
    }

    #[test]
    fn without_thresholds_the_stored_scan_passes() {
        let e = evaluate(&hdf(), None, &facts()).unwrap();
        assert_eq!(e.status, ExitStatus::Passed);
        assert_eq!(e.summary.totals.passed, 1);
        assert_eq!(e.summary.totals.failed, 1);
        assert_eq!(e.summary.compliance, 50);
        let doc: serde_json::Value = serde_json::from_slice(&e.files[0].1).unwrap();
        assert_eq!(doc["verdict"], "stored");
        assert_eq!(doc["exit_code"], 0);
        assert_eq!(doc["thresholds"], serde_json::Value::Null);
        assert_eq!(doc["summary"]["totals"]["failed"], 1);
        assert_eq!(doc["summary"]["compliance"], 50);
        assert_eq!(
            e.files.iter().map(|f| f.0).collect::<Vec<_>>(),
            vec![
                ResultFile::Evaluation,
                ResultFile::Summary,
                ResultFile::Junit
            ]
        );
        let junit = String::from_utf8(e.files[2].1.clone()).unwrap();
        assert!(
            junit.contains("<testsuite") && junit.contains("failure"),
            "{junit}"
        );
    }

    #[test]
    fn thresholds_decide_the_exit_code() {
        let pass = parse_thresholds("compliance:\n  min: 50\n", "pass.yml").unwrap();
        let e = evaluate(&hdf(), Some(&pass), &facts()).unwrap();
        assert_eq!(e.status, ExitStatus::Passed);
        let doc: serde_json::Value = serde_json::from_slice(&e.files[0].1).unwrap();
        assert_eq!(doc["verdict"], "passed");
        assert_eq!(doc["thresholds"]["origin"], "pass.yml");
        assert_eq!(doc["thresholds"]["passed"], true);

        let fail = parse_thresholds(
            "compliance:\n  min: 90\nfailed:\n  medium:\n    max: 0\n",
            "fail.yml",
        )
        .unwrap();
        let e = evaluate(&hdf(), Some(&fail), &facts()).unwrap();
        assert_eq!(e.status, ExitStatus::ThresholdsNotMet);
        let doc: serde_json::Value = serde_json::from_slice(&e.files[0].1).unwrap();
        assert_eq!(doc["verdict"], "thresholds-not-met");
        assert_eq!(doc["exit_code"], 1);
        assert_eq!(doc["thresholds"]["violations"].as_array().unwrap().len(), 2);
        let md = String::from_utf8(e.files[1].1.clone()).unwrap();
        assert!(md.contains("Thresholds not met"), "{md}");
        assert!(md.contains("compliance.min"), "{md}");
    }

    /// `hdf()` with control b passing and a new failing control c.
    fn later() -> Vec<u8> {
        let mut doc: serde_json::Value = serde_json::from_slice(&hdf()).unwrap();
        let controls = doc["profiles"][0]["controls"].as_array_mut().unwrap();
        controls[1]["results"][0]["status"] = "passed".into();
        let mut c = controls[1].clone();
        c["id"] = "c".into();
        c["results"][0]["status"] = "failed".into();
        controls.push(c);
        serde_json::to_vec(&doc).unwrap()
    }

    #[test]
    fn fail_on_new_gates_on_what_newly_fails() {
        let strict = parse_thresholds("compliance:\n  min: 100\n", "t.yml").unwrap();
        let base = Baseline {
            requested: "latest".into(),
            key: Some("p/ns/web/20260101T000000Z-aaaaaa/hdf.json".into()),
            hdf: Some(hdf()),
            note: None,
        };
        // Nothing new fails: passes although the threshold is not met.
        let same = evaluate_against(
            &hdf(),
            Some(&strict),
            &facts(),
            Some(&base),
            Gate::NewFailures,
        )
        .unwrap();
        assert_eq!(same.status, ExitStatus::Passed);
        let doc: serde_json::Value = serde_json::from_slice(&same.files[0].1).unwrap();
        assert_eq!(doc["verdict"], "no-new-failures");
        assert_eq!(doc["gate"], "new-failures");
        assert_eq!(doc["thresholds"]["passed"], false);
        assert_eq!(doc["baseline"]["key"], base.key.as_deref().unwrap());
        assert_eq!(doc["baseline"]["delta"]["counts"]["new_failures"], 0);
        // b fixed, c new and failing: a new failure.
        let e = evaluate_against(&later(), None, &facts(), Some(&base), Gate::NewFailures).unwrap();
        assert_eq!(e.status, ExitStatus::ThresholdsNotMet);
        let doc: serde_json::Value = serde_json::from_slice(&e.files[0].1).unwrap();
        assert_eq!(doc["verdict"], "new-failures");
        assert_eq!(doc["baseline"]["delta"]["fixed"], json!(["b"]));
        assert_eq!(doc["baseline"]["delta"]["new"], json!(["c"]));
        assert_eq!(doc["baseline"]["delta"]["new_failures"][0]["control"], "c");
        let md = String::from_utf8(e.files[1].1.clone()).unwrap();
        assert!(
            md.contains("1 fixed, 1 new, 0 removed controls; 1 new failure."),
            "{md}"
        );
        assert!(md.contains("- ✅ fixed `b`"), "{md}");
        // Under the thresholds gate the delta is recorded and the thresholds decide.
        let t = evaluate_against(&later(), None, &facts(), Some(&base), Gate::Thresholds).unwrap();
        assert_eq!(t.status, ExitStatus::Passed);
        // No earlier run: every failure is new, and the files say so.
        let none = Baseline {
            requested: "latest".into(),
            note: Some("no earlier run of ns/web in the store: every failure counts as new".into()),
            ..Baseline::default()
        };
        let first =
            evaluate_against(&hdf(), None, &facts(), Some(&none), Gate::NewFailures).unwrap();
        assert_eq!(first.status, ExitStatus::ThresholdsNotMet);
        let doc: serde_json::Value = serde_json::from_slice(&first.files[0].1).unwrap();
        assert_eq!(doc["baseline"]["key"], serde_json::Value::Null);
        assert!(
            doc["baseline"]["note"]
                .as_str()
                .unwrap()
                .contains("every failure counts as new")
        );
        let md = String::from_utf8(first.files[1].1.clone()).unwrap();
        assert!(md.contains("**No baseline**"), "{md}");
        // A baseline that is not HDF is bad input, naming it.
        let broken = Baseline {
            hdf: Some(b"{}".to_vec()),
            ..base
        };
        let err =
            evaluate_against(&hdf(), None, &facts(), Some(&broken), Gate::NewFailures).unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::BadInput);
        assert!(err.to_string().contains("20260101T000000Z-aaaaaa"), "{err}");
    }

    #[test]
    fn bad_threshold_files_name_the_file() {
        for bad in [
            "",
            "compliance: [",
            "complianse:\n  min: 80\n",
            "compliance:\n  min: lots\n",
        ] {
            let err = parse_thresholds(bad, "t.yml").unwrap_err();
            assert_eq!(err.exit_status(), ExitStatus::BadInput);
            let text = err.to_string();
            assert!(text.starts_with("t.yml: "), "{bad:?}: {text}");
            assert!(!text.starts_with("t.yml: t.yml"), "{text}");
        }
    }

    #[test]
    fn invalid_hdf_is_an_infrastructure_failure() {
        let err = evaluate(b"{\"profiles\": 3}", None, &facts()).unwrap_err();
        assert_eq!(err.exit_status(), ExitStatus::Infrastructure);
    }
}
