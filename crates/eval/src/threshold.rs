//! SAF threshold files: nested or flattened YAML/JSON, and the inline command-line form.
//!
//! Every leaf is read into a dotted key (`failed.critical.max`). Keys the SAF CLI checks (plus
//! `no_impact.total.min|max`, which SAF's own generator writes but never checks) are kept with a
//! typed value; any other key is an *unknown key*: a warning, or an error in strict mode. Values
//! must be numbers (control-id lists: lists of strings); SAF's silent coercions of strings,
//! booleans and null are errors here.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::EvalError;

/// A threshold value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Limit {
    Number(f64),
    Ids(Vec<String>),
}

/// A parsed threshold file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// Where the thresholds came from (a path, or "inline").
    pub origin: String,
    /// The keys the evaluator checks, by dotted name.
    pub entries: BTreeMap<String, Limit>,
    /// Keys nothing checks (typos, severities SAF has no bucket for), sorted.
    pub unknown_keys: Vec<String>,
}

impl Threshold {
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.entries.get(key) {
            Some(Limit::Number(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn ids(&self, key: &str) -> Option<&[String]> {
        match self.entries.get(key) {
            Some(Limit::Ids(ids)) => Some(ids),
            _ => None,
        }
    }
}

const STATUSES: [&str; 5] = ["passed", "failed", "skipped", "error", "no_impact"];
const BUCKET_SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Ids,
}

/// What a dotted key means, if the evaluator checks it.
fn key_kind(key: &str) -> Option<Kind> {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["compliance", "min" | "max"] => Some(Kind::Number),
        [status, "total"] if STATUSES.contains(status) => Some(Kind::Number),
        [status, "total", "min" | "max"] if STATUSES.contains(status) => Some(Kind::Number),
        [status, severity, last] if has_bucket(status, severity) => match *last {
            "min" | "max" => Some(Kind::Number),
            "controls" => Some(Kind::Ids),
            _ => None,
        },
        _ => None,
    }
}

/// The status/severity pairs SAF checks: every status with critical..low, and no_impact.none.
fn has_bucket(status: &str, severity: &str) -> bool {
    STATUSES.contains(&status)
        && (BUCKET_SEVERITIES.contains(&severity) || (status == "no_impact" && severity == "none"))
}

/// Parses a threshold file (YAML or JSON, nested or flattened). `origin` names it in errors.
pub fn parse_threshold(text: &str, origin: &str) -> Result<Threshold, EvalError> {
    if text.trim().is_empty() {
        return Err(EvalError::Empty {
            origin: origin.to_string(),
        });
    }
    let value = parse_document(text, origin)?;
    let map = match value {
        Value::Object(map) => map,
        Value::Null => {
            return Err(EvalError::Empty {
                origin: origin.to_string(),
            });
        }
        other => {
            return Err(EvalError::ThresholdShape {
                origin: origin.to_string(),
                detail: format!(
                    "expected a mapping of threshold keys (compliance, passed, failed, ...), got {}",
                    describe(&other)
                ),
            });
        }
    };
    let mut leaves = Vec::new();
    flatten(&mut leaves, String::new(), Value::Object(map));
    build(origin, leaves)
}

fn parse_document(text: &str, origin: &str) -> Result<Value, EvalError> {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(v) = serde_json::from_str::<Value>(text)
    {
        return Ok(v);
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let message = e.to_string();
        let first = message.lines().next().unwrap_or_default();
        // Drop the parser's advice to its own API ("set DuplicateKeyPolicy in Options ...").
        let detail = first.split(", set ").next().unwrap_or(first);
        EvalError::ThresholdSyntax {
            origin: origin.to_string(),
            detail: detail.trim_start_matches("error: ").to_string(),
        }
    })
}

fn flatten(out: &mut Vec<(String, Value)>, prefix: String, value: Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(out, key, v);
            }
        }
        leaf => out.push((prefix, leaf)),
    }
}

fn build(origin: &str, leaves: Vec<(String, Value)>) -> Result<Threshold, EvalError> {
    let mut entries = BTreeMap::new();
    let mut unknown_keys = Vec::new();
    let bad = |key: &str, detail: String| EvalError::ThresholdValue {
        origin: origin.to_string(),
        key: key.to_string(),
        detail,
    };
    for (key, value) in leaves {
        let Some(kind) = key_kind(&key) else {
            unknown_keys.push(key);
            continue;
        };
        let limit = match (kind, value) {
            (Kind::Number, Value::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() => Limit::Number(f),
                _ => return Err(bad(&key, format!("{n} is not a usable number"))),
            },
            (Kind::Number, other) => {
                return Err(bad(
                    &key,
                    format!("expected a number, got {}", describe(&other)),
                ));
            }
            (Kind::Ids, Value::Array(items)) => {
                let mut ids = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => ids.push(s),
                        other => {
                            return Err(bad(
                                &key,
                                format!(
                                    "expected a list of control ids (strings), found {}",
                                    describe(&other)
                                ),
                            ));
                        }
                    }
                }
                Limit::Ids(ids)
            }
            (Kind::Ids, other) => {
                return Err(bad(
                    &key,
                    format!("expected a list of control ids, got {}", describe(&other)),
                ));
            }
        };
        if entries.insert(key.clone(), limit).is_some() {
            return Err(bad(&key, "set more than once".to_string()));
        }
    }
    // Sorted: the YAML/JSON map order is not kept, and output must be deterministic.
    unknown_keys.sort();
    unknown_keys.dedup();
    Ok(Threshold {
        origin: origin.to_string(),
        entries,
        unknown_keys,
    })
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null (no value)".to_string(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({s:?})"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

/// Parses SAF's inline form: `"{compliance.min: 80}, {failed.critical.max: 0}"`.
///
/// Values are read as numbers (SAF reads them with parseInt, which turns `80.5` into 80 and
/// `abc` into NaN, a check that never fails); anything that is not a number is an error.
pub fn parse_inline(text: &str) -> Result<Threshold, EvalError> {
    let origin = "inline thresholds";
    if text.trim().is_empty() {
        return Err(EvalError::Empty {
            origin: origin.to_string(),
        });
    }
    let mut leaves = Vec::new();
    for item in text.split(',') {
        let item = item
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}')
            .trim();
        if item.is_empty() {
            continue;
        }
        let Some((key, value)) = item.split_once(':') else {
            return Err(EvalError::ThresholdShape {
                origin: origin.to_string(),
                detail: format!("{item:?} is not `key: value`"),
            });
        };
        let key = key.trim().to_string();
        let value = value.trim();
        let number = value
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.to_string()));
        leaves.push((key, number));
    }
    if leaves.is_empty() {
        return Err(EvalError::Empty {
            origin: origin.to_string(),
        });
    }
    build(origin, leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_flattened_agree() {
        let nested = parse_threshold("failed:\n  critical:\n    max: 0\n", "a").unwrap();
        let flat = parse_threshold("failed.critical.max: 0\n", "b").unwrap();
        assert_eq!(nested.entries, flat.entries);
        assert_eq!(nested.number("failed.critical.max"), Some(0.0));
    }

    #[test]
    fn flattened_min_and_max_are_both_kept() {
        let t = parse_threshold("passed.critical.min: 5\npassed.critical.max: 1\n", "t").unwrap();
        assert_eq!(t.number("passed.critical.min"), Some(5.0));
        assert_eq!(t.number("passed.critical.max"), Some(1.0));
    }

    #[test]
    fn unknown_keys_are_collected() {
        let t = parse_threshold("foo:\n  bar: 1\nerror:\n  none:\n    max: 1\n", "t").unwrap();
        assert_eq!(t.unknown_keys, ["error.none.max", "foo.bar"]);
        assert!(t.entries.is_empty());
    }

    #[test]
    fn non_numbers_are_errors_naming_the_key() {
        for (text, needle) in [
            ("failed:\n  total:\n    max: true\n", "a boolean"),
            ("failed:\n  total:\n    max:\n", "null"),
            ("failed:\n  total:\n    min: \"4\"\n", "a string"),
        ] {
            let err = parse_threshold(text, "t.yml").unwrap_err().to_string();
            assert!(err.starts_with("t.yml: failed.total."), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn shapes_and_empties() {
        assert!(matches!(
            parse_threshold("\n", "e").unwrap_err(),
            EvalError::Empty { .. }
        ));
        assert!(matches!(
            parse_threshold("- 1\n- 2\n", "l").unwrap_err(),
            EvalError::ThresholdShape { .. }
        ));
        assert!(parse_threshold("{}", "o").unwrap().entries.is_empty());
        assert!(matches!(
            parse_threshold("a: [", "s").unwrap_err(),
            EvalError::ThresholdSyntax { .. }
        ));
    }

    #[test]
    fn inline_form() {
        let t = parse_inline("{compliance.min: 80}, {failed.critical.max: 0}").unwrap();
        assert_eq!(t.number("compliance.min"), Some(80.0));
        assert_eq!(t.number("failed.critical.max"), Some(0.0));
        let err = parse_inline("{compliance.min: abc}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("compliance.min: expected a number"), "{err}");
    }

    #[test]
    fn a_key_set_twice_is_an_error() {
        let err = parse_threshold("failed.total.max: 2\nfailed:\n  total:\n    max: 3\n", "t")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "t: failed.total.max: set more than once");
        let err = parse_threshold("failed:\n  total: 1\nfailed:\n  total: 2\n", "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate mapping key: failed"), "{err}");
        assert!(!err.contains("DuplicateKeyPolicy"), "{err}");
    }

    #[test]
    fn json_thresholds() {
        let t = parse_threshold(r#"{"compliance": {"min": 47.5}}"#, "t.json").unwrap();
        assert_eq!(t.number("compliance.min"), Some(47.5));
    }
}
