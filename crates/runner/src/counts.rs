//! Verdict counts of an HDF report for the termination message, by control status with the
//! threshold file's names (`passed`, `failed`, `skipped` = Not Reviewed, `no_impact` = Not
//! Applicable, `error` = Profile Error).
//!
//! Controls are counted as the SAF CLI does for a flat report (see the evaluator for overlays):
//! an errored result makes the control an error, impact 0 makes it not applicable, then any
//! failed result fails it, any passed result passes it, skipped results leave it not reviewed.

use std::collections::BTreeMap;

pub const STATUS_NAMES: [&str; 5] = ["passed", "failed", "skipped", "no_impact", "error"];

/// Counts per status name (every name present, zero included), or an error naming the problem.
pub fn control_counts(hdf: &[u8]) -> Result<BTreeMap<String, u64>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(hdf).map_err(|e| format!("not JSON: {e}"))?;
    let profiles = value
        .get("profiles")
        .and_then(|p| p.as_array())
        .ok_or("no profiles[] array: not an HDF exec report")?;
    let mut counts: BTreeMap<String, u64> =
        STATUS_NAMES.iter().map(|s| (s.to_string(), 0)).collect();
    let Some(first) = profiles.first() else {
        return Ok(counts);
    };
    for control in first
        .get("controls")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        *counts.entry(control_status(control).into()).or_default() += 1;
    }
    Ok(counts)
}

fn control_status(control: &serde_json::Value) -> &'static str {
    let results: Vec<&serde_json::Value> = control
        .get("results")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().collect())
        .unwrap_or_default();
    let status_of = |r: &serde_json::Value| -> Option<String> {
        if r.get("backtrace")
            .is_some_and(|b| !b.is_null() && b != false)
        {
            return Some("error".into());
        }
        r.get("status").and_then(|s| s.as_str()).map(str::to_string)
    };
    let statuses: Vec<Option<String>> = results.iter().map(|r| status_of(r)).collect();
    let has = |name: &str| statuses.iter().any(|s| s.as_deref() == Some(name));
    let waived = control
        .pointer("/waiver_data/skipped_due_to_waiver")
        .is_some_and(|v| v.as_bool() == Some(true));
    let impact = control.get("impact").and_then(|i| i.as_f64());
    if has("error") {
        "error"
    } else if waived || impact == Some(0.0) {
        "no_impact"
    } else if results.is_empty() {
        "error"
    } else if has("failed") {
        "failed"
    } else if has("passed") {
        "passed"
    } else if has("skipped") {
        "skipped"
    } else {
        "error"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_rule() {
        let hdf = serde_json::json!({"profiles": [{"controls": [
            {"id": "a", "impact": 0.5, "results": [{"status": "passed"}, {"status": "failed"}]},
            {"id": "b", "impact": 0.5, "results": [{"status": "passed"}]},
            {"id": "c", "impact": 0.0, "results": [{"status": "failed"}]},
            {"id": "d", "impact": 0.5, "results": [{"status": "skipped"}]},
            {"id": "e", "impact": 0.5, "results": []},
            {"id": "f", "impact": 0.0, "results": [{"status": "passed", "backtrace": []}]},
            {"id": "g", "impact": 0.5, "waiver_data": {"skipped_due_to_waiver": true},
             "results": [{"status": "skipped"}]},
        ]}]});
        let counts = control_counts(hdf.to_string().as_bytes()).unwrap();
        let expect: BTreeMap<String, u64> = [
            ("error", 2),
            ("failed", 1),
            ("no_impact", 2),
            ("passed", 1),
            ("skipped", 1),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        assert_eq!(counts, expect);
    }

    #[test]
    fn rejects_non_reports() {
        assert!(control_counts(b"{}").unwrap_err().contains("profiles"));
        assert!(control_counts(b"nope").unwrap_err().contains("JSON"));
    }
}
