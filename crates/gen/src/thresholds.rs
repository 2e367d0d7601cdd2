//! Threshold files are checked before they are shipped to a cluster, so a broken file fails here
//! instead of at the end of a scan.

use crate::GenError;
use crate::error::first_line;
use std::path::Path;

/// Checks that `text` is a SAF threshold file: a YAML (or JSON) mapping.
pub fn check(text: &str, path: &Path) -> Result<(), GenError> {
    let bad = |reason: String| GenError::Thresholds {
        path: path.to_path_buf(),
        reason,
    };
    if text.trim().is_empty() {
        return Err(bad("the file is empty".into()));
    }
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| bad(first_line(&e.to_string())))?;
    if !value.is_object() {
        return Err(bad("expected a mapping of threshold keys".into()));
    }
    Ok(())
}
