//! The container termination message: a compact JSON summary the orchestrator reads from the
//! pod's status without `pods/exec` or logs. Kubernetes keeps at most 4096 bytes of it.

use serde::Serialize;
use std::collections::BTreeMap;

/// Kubernetes truncates termination messages longer than this.
pub const MAX_BYTES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TerminationSummary {
    /// `stored`, `kept-locally` (upload failed, files on the volume) or `failed`.
    pub outcome: String,
    pub run_id: String,
    pub backend: String,
    /// Result counts by status (`passed`, `failed`, ...), from the HDF.
    pub counts: BTreeMap<String, u64>,
    /// The store URL the keys are relative to (no credentials: they never appear in URLs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// The run's folder on the shared volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_folder: Option<String>,
    pub keys: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub keys_omitted: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Renders the summary as one line of JSON of at most `limit` bytes. When it is too long it drops
/// object keys from the end (counting them in `keys_omitted`), then shortens the error, then the
/// folder; the counts and the outcome always survive.
pub fn render(summary: &TerminationSummary, limit: usize) -> String {
    let mut s = summary.clone();
    loop {
        let text = serde_json::to_string(&s).unwrap_or_else(|_| "{}".into());
        if text.len() <= limit {
            return text;
        }
        if s.keys.pop().is_some() {
            s.keys_omitted += 1;
            continue;
        }
        let over = text.len() - limit;
        if let Some(error) = s.error.as_mut().filter(|e| !e.is_empty()) {
            shorten(error, over);
            continue;
        }
        if let Some(folder) = s.local_folder.as_mut().filter(|f| !f.is_empty()) {
            shorten(folder, over);
            continue;
        }
        if s.store.take().is_some() {
            continue;
        }
        // Only pathological inputs (huge counts map or ids) get here.
        return r#"{"outcome":"truncated"}"#.to_string();
    }
}

/// Cuts `text` by at least `over` bytes (plus room for the marker) at a char boundary.
fn shorten(text: &mut String, over: usize) {
    const MARK: &str = "...";
    // JSON escaping can make a byte count more than once; cut generously.
    let keep = text.len().saturating_sub(over + MARK.len() + 8);
    let mut cut = keep;
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(MARK);
    if cut == 0 {
        text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn summary(keys: usize, error: &str) -> TerminationSummary {
        TerminationSummary {
            outcome: "stored".into(),
            run_id: "abc123def456".into(),
            backend: "builtin".into(),
            counts: BTreeMap::from([("failed".into(), 3), ("passed".into(), 10)]),
            store: Some("s3://bucket/scans".into()),
            local_folder: Some("/results/scans/default/nginx/20261126T152045Z-abc123def456".into()),
            keys: (0..keys)
                .map(|i| format!("scans/default/nginx/20261126T152045Z-abc123def456/file-{i}.json"))
                .collect(),
            keys_omitted: 0,
            error: (!error.is_empty()).then(|| error.to_string()),
        }
    }

    #[test]
    fn small_summary_is_kept_whole() {
        let text = render(&summary(2, ""), MAX_BYTES);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["keys"].as_array().unwrap().len(), 2);
        assert_eq!(back["counts"]["failed"], 3);
        assert!(back.get("keys_omitted").is_none());
        assert!(back.get("error").is_none());
    }

    #[test]
    fn many_keys_are_dropped_and_counted() {
        let text = render(&summary(200, ""), MAX_BYTES);
        assert!(text.len() <= MAX_BYTES, "{}", text.len());
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        let kept = back["keys"].as_array().unwrap().len();
        assert!(kept > 10 && kept < 200, "{kept}");
        assert_eq!(back["keys_omitted"].as_u64().unwrap() as usize + kept, 200);
        assert_eq!(back["counts"]["passed"], 10);
    }

    #[test]
    fn a_long_error_is_shortened() {
        let text = render(&summary(3, &"é\"x".repeat(3000)), MAX_BYTES);
        assert!(text.len() <= MAX_BYTES);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(back["error"].as_str().unwrap().ends_with("..."));
        assert_eq!(back["outcome"], "stored");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn always_valid_json_within_the_limit(
            keys in 0usize..300,
            error in "[a-z\"\\\\é\n]{0,6000}",
            limit in 200usize..5000,
        ) {
            let text = render(&summary(keys, &error), limit);
            prop_assert!(text.len() <= limit, "{} > {}", text.len(), limit);
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert!(back.get("outcome").is_some());
        }
    }
}
