//! What SARIF needs to know about the scan besides its HDF: the target's image and the run, from
//! the run's `metadata.json` (written by the scanner beside `hdf.json`).

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// The parts of a run's `metadata.json` the reports use. Every field is optional: a report of an
/// HDF file without its metadata names no image or run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ScanMetadata {
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
}

/// Parses `metadata.json`; `origin` (a path or URL) names the file in errors.
pub fn parse_metadata(bytes: &[u8], origin: &str) -> Result<ScanMetadata, EvalError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EvalError::Empty {
            origin: origin.to_string(),
        });
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(EvalError::Metadata {
            origin: origin.to_string(),
            detail: "expected the scan's metadata.json object".to_string(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<ScanMetadata, _> = serde_path_to_error::deserialize(&mut de);
    parsed.map_err(|e| {
        let inner = e.inner();
        let detail = match inner.classify() {
            serde_json::error::Category::Data => {
                let path = e.path().to_string();
                let msg = inner.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                if path == "." {
                    format!("{msg} (expected the scan's metadata.json object)")
                } else {
                    format!("{path}: {msg}")
                }
            }
            _ => inner.to_string(),
        };
        EvalError::Metadata {
            origin: origin.to_string(),
            detail,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_it_needs_and_names_bad_ones() {
        let m = parse_metadata(
            br#"{"run_id":"abc123","namespace":"shop","target":"web","image":"nginx:1.27",
                "image_digest":"sha256:ab","pid":7,"versions":{}}"#,
            "m.json",
        )
        .unwrap();
        assert_eq!(m.image.as_deref(), Some("nginx:1.27"));
        assert_eq!(m.run_id.as_deref(), Some("abc123"));
        let err = parse_metadata(br#"{"image": 5}"#, "m.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.json: not a scan metadata.json: image:"),
            "{err}"
        );
        let err = parse_metadata(b"[1]", "m.json").unwrap_err().to_string();
        assert!(
            err.contains("expected the scan's metadata.json object"),
            "{err}"
        );
        let err = parse_metadata(b"{", "m.json").unwrap_err().to_string();
        assert!(
            err.starts_with("m.json: not a scan metadata.json: EOF"),
            "{err}"
        );
    }
}
