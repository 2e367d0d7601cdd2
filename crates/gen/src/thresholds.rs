//! Threshold files are checked with the evaluator's own parser before they are shipped to a
//! cluster, so a broken file fails here instead of at the end of a scan. Unknown keys (a warning
//! for the evaluator) are errors here: a misspelled key would silently check nothing.

use crate::GenError;
use crate::error::first_line;
use std::path::Path;

/// Checks that `text` is a SAF threshold file the evaluator accepts, with known keys only.
pub fn check(text: &str, path: &Path) -> Result<(), GenError> {
    let origin = format!("thresholds.file {}", path.display());
    let threshold = sidescan_eval::threshold::parse_threshold(text, &origin)
        .map_err(|e| GenError::ThresholdFile(first_line(&e.to_string())))?;
    if !threshold.unknown_keys.is_empty() {
        return Err(GenError::ThresholdFile(format!(
            "{origin}: unknown threshold key(s): {}",
            threshold.unknown_keys.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_saf_files_and_rejects_broken_ones() {
        let path = Path::new("t.yml");
        check(
            "compliance:\n  min: 80\nfailed:\n  critical:\n    max: 0\n",
            path,
        )
        .unwrap();
        for bad in [
            "",
            "compliance: [",
            "compliance:\n  min: lots\n",
            "complianse:\n  min: 80\n",
        ] {
            let err = check(bad, path).unwrap_err().to_string();
            assert!(err.starts_with("thresholds.file t.yml:"), "{bad:?}: {err}");
        }
    }
}
