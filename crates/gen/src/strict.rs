//! Strict schema checks against `k8s-openapi` types. Those types ignore unknown fields, so a value
//! is deserialized, serialized back, and compared: a field that vanished (misspelled, unknown, or
//! at the wrong level) or changed is reported with its path.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Checks `value` against `T`. The error is the path of the first field at fault (`.a.b[0].c`)
/// and what happened to it, or the deserializer's message.
pub fn check<T: DeserializeOwned + Serialize>(value: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| format!(": {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!(": {e}"))?;
    compare(value, &back, String::new())
}

fn compare(original: &Value, back: &Value, path: String) -> Result<(), String> {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let child = format!("{path}.{key}");
                match b.get(key) {
                    Some(other) => compare(value, other, child)?,
                    None if value.is_null() => {}
                    None => return Err(format!("{child} (unknown field)")),
                }
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{path} (rendered {a}, the schema reads {b})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn finds_misspelled_fields() {
        let good = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}});
        assert_eq!(check::<Pod>(&good), Ok(()));
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
            "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicie": "Never"}]}});
        let err = check::<Pod>(&bad).unwrap_err();
        assert!(
            err.starts_with(".spec.containers[0].imagePullPolicie"),
            "{err}"
        );
        let wrong_type = json!({"apiVersion": "v1", "kind": "Pod", "spec": {"hostNetwork": "yes"}});
        assert!(check::<Pod>(&wrong_type).is_err());
    }
}
