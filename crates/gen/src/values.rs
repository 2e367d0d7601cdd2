//! The scan spec from a values file plus `--set` overrides: YAML is read into a JSON tree, the
//! overrides are applied at their dotted paths, and the tree is deserialized strictly, so every
//! error names the field (`target.image: missing required value`).

use crate::GenError;
use crate::error::first_line;
use serde_json::{Map, Value};
use sidescan_core::spec::ScanSpec;

/// Parses a values file's text into a JSON tree (an empty file is an empty mapping).
pub fn parse_values(text: &str, source_name: &str) -> Result<Value, GenError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: Value = serde_saphyr::from_str(text).map_err(|e| GenError::Values {
        source_name: source_name.to_string(),
        message: first_line(&e.to_string()),
    })?;
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        other => Err(GenError::Values {
            source_name: source_name.to_string(),
            message: format!(
                "expected a mapping at the top level, found {}",
                kind(&other)
            ),
        }),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Applies one `key.path=value` override. The value is read as a YAML scalar (`true`, `1000`,
/// `[a, b]`), unless `as_string` is set (`--set-string`); `key=null` removes the key.
pub fn apply_set(root: &mut Value, arg: &str, as_string: bool) -> Result<(), GenError> {
    let bad = |reason: String| GenError::Set {
        arg: arg.to_string(),
        reason,
    };
    let (path, raw) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
    let owned = split_path(path);
    let segments: Vec<&str> = owned.iter().map(String::as_str).collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(bad("the key has an empty segment".into()));
    }
    let value = if as_string || raw.is_empty() {
        Value::String(raw.to_string())
    } else {
        serde_saphyr::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
    };
    let mut node = root;
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let next_is_index = segments
            .get(i + 1)
            .is_some_and(|s| s.parse::<usize>().is_ok());
        let fresh = || {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        };
        node = match node {
            Value::Object(map) => {
                if last {
                    // `key=null` removes the key (its default applies), as in Helm.
                    if value.is_null() {
                        map.remove(*segment);
                    } else {
                        map.insert(segment.to_string(), value);
                    }
                    return Ok(());
                }
                let child = map.entry(segment.to_string()).or_insert_with(fresh);
                if child.is_null() {
                    *child = fresh();
                }
                child
            }
            Value::Array(items) => {
                let index: usize = segment
                    .parse()
                    .map_err(|_| bad(format!("{segment:?} indexes a list: expected a number")))?;
                if index > items.len() {
                    return Err(bad(format!(
                        "index {index} is past the end of a list of {}",
                        items.len()
                    )));
                }
                if index == items.len() {
                    items.push(fresh());
                }
                if last {
                    items[index] = value;
                    return Ok(());
                }
                &mut items[index]
            }
            other => {
                return Err(bad(format!(
                    "{} is {}, not a mapping or list",
                    segments[..i].join("."),
                    kind(other)
                )));
            }
        };
    }
    Ok(())
}

/// Splits a `--set` key at its dots; `\.` is a dot inside a segment, as in Helm
/// (`metadata.labels.team\.example\.com/owner=x`).
fn split_path(path: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                chars.next();
                segments.last_mut().unwrap_or(&mut String::new()).push('.');
            }
            '.' => segments.push(String::new()),
            c => segments.last_mut().unwrap_or(&mut String::new()).push(c),
        }
    }
    segments
}

/// Deserializes the merged tree strictly and checks the spec's rules.
pub fn spec_from_value(value: Value) -> Result<ScanSpec, GenError> {
    let spec: ScanSpec = serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let message = first_line(&err.inner().to_string());
        let (field, message) = match missing_field(&message) {
            Some(name) if path == "." => (name.to_string(), "missing required value".to_string()),
            Some(name) => (
                format!("{path}.{name}"),
                "missing required value".to_string(),
            ),
            None if path == "." => ("spec".to_string(), message),
            None => (path, message),
        };
        GenError::Values {
            source_name: field,
            message,
        }
    })?;
    spec.validate()?;
    Ok(spec)
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_writes_typed_values_at_dotted_paths() {
        let mut root = json!({"target": {"name": "a"}});
        apply_set(&mut root, "target.image=nginx:1.27", false).unwrap();
        apply_set(&mut root, "security.runAsUser=1000", false).unwrap();
        apply_set(&mut root, "cluster.hostNetwork=true", false).unwrap();
        apply_set(&mut root, "scheduling.tolerations.0.key=gpu", false).unwrap();
        apply_set(&mut root, "target.env.ZIP=01234", true).unwrap();
        apply_set(&mut root, "cluster.gone=1", false).unwrap();
        apply_set(&mut root, "cluster.gone=null", false).unwrap();
        apply_set(
            &mut root,
            r"metadata.labels.team\.example\.com/owner=ops",
            false,
        )
        .unwrap();
        assert_eq!(
            root,
            json!({
                "target": {"name": "a", "image": "nginx:1.27", "env": {"ZIP": "01234"}},
                "security": {"runAsUser": 1000},
                "cluster": {"hostNetwork": true},
                "scheduling": {"tolerations": [{"key": "gpu"}]},
                "metadata": {"labels": {"team.example.com/owner": "ops"}},
            })
        );
    }

    #[test]
    fn set_rejects_malformed_arguments() {
        let mut root = json!({"target": {"name": "a"}});
        assert!(apply_set(&mut root, "target.name", false).is_err());
        assert!(apply_set(&mut root, "target..name=x", false).is_err());
        let err = apply_set(&mut root, "target.name.x=1", false).unwrap_err();
        assert!(err.to_string().contains("target.name is a string"), "{err}");
        assert!(apply_set(&mut root, "list.5=1", false).is_err());
        assert!(apply_set(&mut root, "list.0=1", false).is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        let err = spec_from_value(json!({"target": {"name": "a"}})).unwrap_err();
        assert_eq!(err.to_string(), "target.image: missing required value");
        let err = spec_from_value(json!({"target": {"name": "a", "image": "x", "imge": 1}}))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("target.imge: unknown field `imge`"),
            "{err}"
        );
        let err = spec_from_value(json!({"target": {"name": "a", "image": "x"}, "bogus": 1}))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bogus: unknown field `bogus`"), "{err}");
        let err = spec_from_value(json!({"targt": {}}))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("targt: unknown field `targt`"), "{err}");
    }

    #[test]
    fn values_must_be_a_mapping() {
        assert!(parse_values("", "v.yaml").unwrap().is_object());
        let err = parse_values("- a\n", "v.yaml").unwrap_err().to_string();
        assert_eq!(
            err,
            "v.yaml: expected a mapping at the top level, found a list"
        );
        assert!(parse_values("a: [\n", "v.yaml").is_err());
    }
}
