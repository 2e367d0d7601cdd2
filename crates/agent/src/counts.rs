//! Verdict counts of an HDF report for the termination message: counted controls per status with
//! the threshold file's names (`passed`, `failed`, `skipped` = Not Reviewed, `no_impact` = Not
//! Applicable, `error` = Profile Error) and the compliance percentage, computed by the evaluator
//! exactly as the SAF CLI does.

use std::collections::BTreeMap;

pub const STATUS_NAMES: [&str; 5] = ["passed", "failed", "skipped", "no_impact", "error"];

/// Counts per status name (every name present, zero included) plus `compliance`, or the
/// evaluator's error naming the problem.
pub fn control_counts(hdf: &[u8]) -> Result<BTreeMap<String, u64>, sidescan_eval::EvalError> {
    let parsed = sidescan_eval::hdf::parse(hdf)?;
    let summary = sidescan_eval::summary::summarize(&parsed);
    let t = summary.totals;
    Ok(BTreeMap::from([
        ("passed".to_string(), t.passed),
        ("failed".to_string(), t.failed),
        ("skipped".to_string(), t.skipped),
        ("no_impact".to_string(), t.no_impact),
        ("error".to_string(), t.error),
        ("compliance".to_string(), summary.compliance),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(id: &str, impact: f64, results: serde_json::Value) -> serde_json::Value {
        let results: Vec<serde_json::Value> = results
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r["code_desc"] = "check".into();
                r["start_time"] = "2026-11-26T15:00:00Z".into();
                r
            })
            .collect();
        serde_json::json!({"id": id, "impact": impact, "refs": [], "tags": {},
            "source_location": {}, "results": results})
    }

    #[test]
    fn counts_each_rule() {
        let controls = vec![
            control(
                "a",
                0.5,
                serde_json::json!([{"status": "passed"}, {"status": "failed"}]),
            ),
            control("b", 0.5, serde_json::json!([{"status": "passed"}])),
            control("c", 0.0, serde_json::json!([{"status": "failed"}])),
            control("d", 0.5, serde_json::json!([{"status": "skipped"}])),
            control("e", 0.5, serde_json::json!([])),
            control(
                "f",
                0.0,
                serde_json::json!([{"status": "passed", "backtrace": []}]),
            ),
        ];
        let hdf = serde_json::json!({"platform": {"name": "x", "release": "1"},
            "statistics": {}, "version": "1",
            "profiles": [{"name": "p", "sha256": "0", "supports": [], "attributes": [],
                          "groups": [], "controls": controls}]});
        let counts = control_counts(hdf.to_string().as_bytes()).unwrap();
        let expect: BTreeMap<String, u64> = [
            ("error", 2),
            ("failed", 1),
            ("no_impact", 1),
            ("passed", 1),
            ("skipped", 1),
            ("compliance", 20),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
        assert_eq!(counts, expect);
    }

    #[test]
    fn rejects_non_reports() {
        assert!(control_counts(b"{}").is_err());
        assert!(control_counts(b"nope").is_err());
    }
}
