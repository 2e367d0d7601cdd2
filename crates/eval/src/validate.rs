//! Checks a [`Summary`] against a [`Threshold`], in the SAF CLI's order and wording.
//!
//! SAF stops at the first failed check; this reports every one, in the same order, so the first
//! message is the one SAF prints. Checks SAF never makes (`no_impact.total.min|max`) come last,
//! so they never change which message is first.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::hdf::{SEVERITIES, Status};
use crate::summary::Summary;
use crate::threshold::Threshold;

/// One threshold that was not met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The dotted threshold key (`failed.critical.max`).
    pub key: String,
    /// SAF's wording (without its `Error: ` prefix).
    pub message: String,
}

/// The outcome of validating one summary against one threshold file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    pub passed: bool,
    pub compliance: u64,
    /// Number of threshold keys checked.
    pub checked: usize,
    pub violations: Vec<Violation>,
    /// Keys in the threshold file that nothing checks.
    pub unknown_keys: Vec<String>,
}

impl Validation {
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// The message SAF would print (`Error: ...`), if any threshold was not met.
    pub fn first_message(&self) -> Option<&str> {
        self.violations.first().map(|v| v.message.as_str())
    }
}

/// Formats a threshold number as JavaScript prints it (5, -1, 47.5).
pub fn js_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Checks every threshold key; see the module docs for the order.
pub fn validate(summary: &Summary, threshold: &Threshold) -> Validation {
    let mut v = Vec::new();
    let mut checked = 0;
    let compliance = summary.compliance as f64;

    if let Some(min) = threshold.number("compliance.min") {
        checked += 1;
        if compliance < min {
            push(
                &mut v,
                "compliance.min",
                "Overall compliance minimum was not satisfied",
            );
        }
    }
    if let Some(max) = threshold.number("compliance.max") {
        checked += 1;
        if compliance > max {
            push(
                &mut v,
                "compliance.max",
                "Overall compliance maximum was not satisfied",
            );
        }
    }

    // Scalar totals: passed, failed, skipped, no_impact, error (SAF's order).
    for status in [
        Status::Passed,
        Status::Failed,
        Status::NotReviewed,
        Status::NotApplicable,
        Status::ProfileError,
    ] {
        let key = format!("{}.total", status.key());
        if let Some(want) = threshold.number(&key) {
            checked += 1;
            let got = summary.totals.get(status);
            if got as f64 != want {
                push(
                    &mut v,
                    &key,
                    &count_message(&key, got, "is not equal to", want),
                );
            }
        }
    }

    let sas = [
        Status::Passed,
        Status::Failed,
        Status::NotReviewed,
        Status::ProfileError,
    ];
    for bound in ["min", "max"] {
        for status in sas {
            let key = format!("{}.total.{bound}", status.key());
            checked += check_bound(&mut v, threshold, &key, summary.totals.get(status));
        }
    }

    for severity in SEVERITIES {
        let counts = summary
            .severities
            .get(severity)
            .copied()
            .unwrap_or_default();
        for status in Status::THRESHOLD_ORDER {
            if severity == "none" && status != Status::NotApplicable {
                continue;
            }
            for bound in ["min", "max"] {
                let key = format!("{}.{severity}.{bound}", status.key());
                checked += check_bound(&mut v, threshold, &key, counts.get(status));
            }
        }
    }

    for severity in SEVERITIES {
        for status in Status::THRESHOLD_ORDER {
            if severity == "none" && status != Status::NotApplicable {
                continue;
            }
            let key = format!("{}.{severity}.controls", status.key());
            if let Some(expected) = threshold.ids(&key) {
                checked += 1;
                check_ids(
                    &mut v,
                    &key,
                    expected,
                    &summary.control_ids(status, severity),
                );
            }
        }
    }

    // Not checked by SAF at all; last so SAF's first message stays first.
    for bound in ["min", "max"] {
        let key = format!("no_impact.total.{bound}");
        checked += check_bound(&mut v, threshold, &key, summary.totals.no_impact);
    }

    Validation {
        passed: v.is_empty(),
        compliance: summary.compliance,
        checked,
        violations: v,
        unknown_keys: threshold.unknown_keys.clone(),
    }
}

fn push(v: &mut Vec<Violation>, key: &str, message: &str) {
    v.push(Violation {
        key: key.to_string(),
        message: message.to_string(),
    });
}

fn count_message(key: &str, got: u64, relation: &str, want: f64) -> String {
    let status = key.split('.').next().unwrap_or(key);
    format!(
        "{key}: Threshold not met. Number of received total {status} controls ({got}) {relation} your set threshold for the number of {status} controls ({})",
        js_number(want)
    )
}

fn check_bound(v: &mut Vec<Violation>, threshold: &Threshold, key: &str, got: u64) -> usize {
    let Some(want) = threshold.number(key) else {
        return 0;
    };
    let (failed, relation) = if key.ends_with(".min") {
        ((got as f64) < want, "is less than")
    } else {
        ((got as f64) > want, "is greater than")
    };
    if failed {
        push(v, key, &count_message(key, got, relation, want));
    }
    1
}

/// The ids listed must be exactly the ids in the bucket (compared as sets).
fn check_ids(v: &mut Vec<Violation>, key: &str, expected: &[String], actual: &[&str]) {
    let listed = if actual.is_empty() {
        "undefined".to_string()
    } else {
        actual.join(", ")
    };
    let mut wanted = BTreeSet::new();
    for id in expected {
        if !wanted.insert(id.as_str()) {
            continue;
        }
        if !actual.contains(&id.as_str()) {
            push(
                v,
                key,
                &format!(
                    "Expected {key} to contain {id} controls but it only contained [{listed}]"
                ),
            );
        }
    }
    let present: BTreeSet<&str> = actual.iter().copied().collect();
    if wanted.len() != present.len() {
        push(
            v,
            key,
            &format!(
                "Expected {key} to contain {} controls but it contained {}",
                wanted.len(),
                present.len()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_numbers() {
        assert_eq!(js_number(5.0), "5");
        assert_eq!(js_number(-1.0), "-1");
        assert_eq!(js_number(47.5), "47.5");
        assert_eq!(js_number(0.0), "0");
    }
}
