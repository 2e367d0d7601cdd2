//! Kubernetes resource quantities: the grammar the API server accepts, read from YAML strings or
//! numbers (`cpu: 2` is what kubectl users write), and their value for comparing requests with
//! limits.

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// A quantity from a YAML string or number, kept as the string Kubernetes would print.
fn from_yaml(value: serde_json::Value) -> Result<String, String> {
    match value {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "expected a quantity (a string such as \"100m\" or a number), found {other}"
        )),
    }
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    from_yaml(serde_json::Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

pub(super) fn deserialize_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| {
            from_yaml(v)
                .map(|q| (k.clone(), q))
                .map_err(|e| serde::de::Error::custom(format!("{k}: {e}")))
        })
        .collect()
}

/// A Kubernetes resource quantity: a decimal number with an optional binary (`Ki`..`Ei`),
/// decimal (`m`, `k`, `M`..`E`) or exponent (`e3`) suffix.
pub fn is_quantity(value: &str) -> bool {
    parse_quantity(value).is_some()
}

/// The value of a quantity (`"100m"` -> 0.1, `"1Ki"` -> 1024.0); `None` when it is not one.
/// Precise enough to compare requests with limits.
pub fn parse_quantity(value: &str) -> Option<f64> {
    let (sign, unsigned) = match value.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, value.strip_prefix('+').unwrap_or(value)),
    };
    let digits_end = unsigned
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    if !number_ok {
        return None;
    }
    let base: f64 = number.parse().ok()?;
    let multiplier = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            10f64.powi(exponent.parse::<i32>().ok()?)
        }
    };
    Some(sign * base * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_follow_the_kubernetes_grammar() {
        for good in [
            "100m", "128Mi", "1", "0.5", "1e3", "2Gi", "+1", "1.", ".5", "-1",
        ] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in [
            "", "lots", "1 Gi", "Mi", "1.2.3", "1mi", "1e", ".", "--1", "1e3.5",
        ] {
            assert!(!is_quantity(bad), "{bad}");
        }
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("1Ki"), Some(1024.0));
        assert_eq!(parse_quantity("2e3"), Some(2000.0));
        assert_eq!(parse_quantity("-1Gi"), Some(-1024f64.powi(3)));
    }

    #[test]
    fn numbers_are_read_as_quantities() {
        assert_eq!(from_yaml(serde_json::json!(2)), Ok("2".to_string()));
        assert_eq!(from_yaml(serde_json::json!(0.5)), Ok("0.5".to_string()));
        assert!(from_yaml(serde_json::json!(true)).is_err());
    }
}
