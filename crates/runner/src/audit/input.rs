//! Reading an audit's inputs before anything is deployed: the spec file (YAML), and the threshold
//! file it names. Every failure is bad input: one line naming the file and key, exit 2.

use crate::Error;
use sidescan_core::audit::AuditSpec;
use sidescan_eval::Threshold;
use std::path::{Path, PathBuf};

fn bad(origin: &str, reason: impl std::fmt::Display) -> Error {
    Error::Input {
        path: origin.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses an audit spec's text (YAML or JSON) and checks it; errors name the key
/// (`audit.yaml: select.kinds[1]: unknown variant ...`).
pub fn parse_spec(text: &str, origin: &str) -> Result<AuditSpec, Error> {
    let tree: serde_json::Value = if text.trim().is_empty() {
        serde_json::json!({})
    } else {
        serde_saphyr::from_str(text).map_err(|e| {
            bad(
                origin,
                format!(
                    "not valid YAML: {}",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            )
        })?
    };
    let tree = match tree {
        serde_json::Value::Null => serde_json::json!({}),
        v @ serde_json::Value::Object(_) => v,
        _ => return Err(bad(origin, "expected a mapping at the top level")),
    };
    sidescan_core::audit::from_value(tree).map_err(|e| bad(origin, e))
}

/// Reads and parses the spec file.
pub fn read_spec(path: &Path) -> Result<AuditSpec, Error> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| bad(&origin, e))?;
    parse_spec(&text, &origin)
}

/// Parses a threshold file the way the generator checks it: the evaluator's parser, and unknown
/// keys are errors (a misspelled key would silently check nothing).
pub fn parse_thresholds(text: &str, origin: &str) -> Result<Threshold, Error> {
    let parsed =
        sidescan_eval::threshold::parse_threshold(text, origin).map_err(|e| Error::Input {
            path: origin.to_string(),
            reason: e
                .to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches(&format!("{origin}: "))
                .to_string(),
        })?;
    if let Some(key) = parsed.unknown_keys.first() {
        return Err(bad(
            origin,
            format!("{key}: unknown threshold key (thresholds apply to every target)"),
        ));
    }
    Ok(parsed)
}

/// Where the thresholds come from: the spec's file (relative to the spec's folder), or the
/// mounted ConfigMap in the audit Job.
pub fn thresholds_path(spec: &AuditSpec, spec_dir: &Path, in_job: bool) -> Option<PathBuf> {
    let t = spec.thresholds.as_ref()?;
    match (&t.file, &t.config_map, in_job) {
        (Some(file), _, _) => Some(spec_dir.join(file)),
        (None, Some(_), true) => Some(
            Path::new(sidescan_core::spec::THRESHOLDS_MOUNT_PATH)
                .join(sidescan_core::spec::THRESHOLDS_KEY),
        ),
        _ => None,
    }
}

/// Reads and parses a threshold file.
pub fn read_thresholds(path: &Path) -> Result<Threshold, Error> {
    let origin = format!("thresholds {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| bad(&origin, e))?;
    parse_thresholds(&text, &origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "scanner: {backend: builtin}\nresults: {storeUrl: s3://b/p}\n";

    #[test]
    fn good_specs_parse_and_bad_ones_name_the_key() {
        let spec = parse_spec(GOOD, "a.yaml").unwrap();
        assert_eq!(spec.concurrency, 4);
        for (text, needle) in [
            (
                format!("{GOOD}select: {{kinds: [Deployment, Deploymnet]}}\n"),
                "a.yaml: select.kinds[1]: unknown variant `Deploymnet`",
            ),
            (
                format!("{GOOD}select: {{labelSelector: 'app in (web'}}\n"),
                "a.yaml: select.labelSelector: not a label selector",
            ),
            ("- a\n".to_string(), "a.yaml: expected a mapping"),
            ("a: [\n".to_string(), "a.yaml: not valid YAML"),
            (
                format!("{GOOD}retries: 9\n"),
                "a.yaml: retries: it must be between 0 and 5",
            ),
        ] {
            let err = parse_spec(&text, "a.yaml").unwrap_err().to_string();
            assert!(err.starts_with(needle), "{err}");
            assert_eq!(err.lines().count(), 1);
        }
    }

    #[test]
    fn thresholds_are_checked_with_the_evaluator_and_unknown_keys_refused() {
        parse_thresholds("compliance:\n  min: 80\n", "t.yml").unwrap();
        let err = parse_thresholds("complianse:\n  min: 80\n", "t.yml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.yml: complianse.min: unknown threshold key"),
            "{err}"
        );
        let err = parse_thresholds("compliance:\n  min: lots\n", "t.yml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.yml:"), "{err}");
        let spec = parse_spec(&format!("{GOOD}thresholds: {{file: t.yml}}\n"), "a").unwrap();
        assert_eq!(
            thresholds_path(&spec, Path::new("/specs"), false).unwrap(),
            Path::new("/specs/t.yml")
        );
        let spec = parse_spec(&format!("{GOOD}thresholds: {{configMap: t}}\n"), "a").unwrap();
        assert_eq!(
            thresholds_path(&spec, Path::new("/specs"), true).unwrap(),
            Path::new("/etc/sidescan/thresholds/threshold.yml")
        );
        assert!(thresholds_path(&spec, Path::new("/specs"), false).is_none());
    }
}
