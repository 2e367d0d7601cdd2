//! The container termination message: a compact JSON summary the orchestrator reads from the
//! pod's status without `pods/exec` or logs. Kubernetes keeps at most 4096 bytes of it.
//!
//! It names every result file with its sha256 and size (and its key once stored), so the
//! orchestrator can check what it reads back from the store or the scanner's log.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Kubernetes truncates termination messages longer than this.
pub const MAX_BYTES: usize = 4096;

/// One result file of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultObject {
    /// `hdf.json` or `metadata.json`.
    pub file: String,
    pub sha256: String,
    pub size: u64,
    /// The full key in the store, once stored and verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
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
    /// The result files, `hdf.json` first.
    pub objects: Vec<ResultObject>,
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_omitted: usize,
    /// True when the agent printed the result files to its log (`crate::log_transfer`).
    #[serde(skip_serializing_if = "is_false")]
    pub in_log: bool,
    /// Milliseconds per agent phase (`identify`, `verify`, `scan`, `retrieve`, `upload`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub timings_ms: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl TerminationSummary {
    /// The entry for result file `file` (`hdf.json`), if listed.
    pub fn object(&self, file: &str) -> Option<&ResultObject> {
        self.objects.iter().find(|o| o.file == file)
    }
}

/// Parses a termination message. `None` for text that is not a summary (a crashed agent leaves
/// none; the kubelet may put the log's tail there with `FallbackToLogsOnError`).
pub fn parse(message: &str) -> Option<TerminationSummary> {
    let summary: TerminationSummary = serde_json::from_str(message.trim()).ok()?;
    (!summary.outcome.is_empty()).then_some(summary)
}

/// Renders the summary as one line of JSON of at most `limit` bytes. When it is too long it drops
/// the timings, then result files from the end (counting them in `objects_omitted`), then
/// shortens the error, then the folder; the counts, the outcome and `hdf.json`'s entry survive
/// longest.
pub fn render(summary: &TerminationSummary, limit: usize) -> String {
    let mut s = summary.clone();
    loop {
        let text = serde_json::to_string(&s).unwrap_or_else(|_| "{}".into());
        if text.len() <= limit {
            return text;
        }
        if !s.timings_ms.is_empty() {
            s.timings_ms.clear();
            continue;
        }
        if s.objects.len() > 1 {
            s.objects.pop();
            s.objects_omitted += 1;
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
        if s.objects.pop().is_some() {
            s.objects_omitted += 1;
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

    fn object(i: usize) -> ResultObject {
        ResultObject {
            file: if i == 0 {
                "hdf.json".into()
            } else {
                format!("file-{i}.json")
            },
            sha256: format!("{i:064x}"),
            size: 1000 + i as u64,
            key: Some(format!(
                "scans/default/nginx/20261126T152045Z-abc123def456/file-{i}.json"
            )),
        }
    }

    fn summary(objects: usize, error: &str) -> TerminationSummary {
        TerminationSummary {
            outcome: "stored".into(),
            run_id: "abc123def456".into(),
            backend: "builtin".into(),
            counts: BTreeMap::from([("failed".into(), 3), ("passed".into(), 10)]),
            store: Some("s3://bucket/scans".into()),
            local_folder: Some("/results/scans/default/nginx/20261126T152045Z-abc123def456".into()),
            objects: (0..objects).map(object).collect(),
            objects_omitted: 0,
            in_log: false,
            timings_ms: BTreeMap::from([("identify".into(), 3), ("scan".into(), 250)]),
            error: (!error.is_empty()).then(|| error.to_string()),
        }
    }

    #[test]
    fn small_summary_is_kept_whole_and_parses_back() {
        let original = summary(2, "");
        let text = render(&original, MAX_BYTES);
        assert_eq!(parse(&text).unwrap(), original);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["objects"][0]["file"], "hdf.json");
        assert_eq!(back["objects"][0]["size"], 1000);
        assert_eq!(back["timings_ms"]["scan"], 250);
        assert!(back.get("objects_omitted").is_none());
        assert!(back.get("error").is_none());
        assert!(back.get("in_log").is_none());
    }

    #[test]
    fn two_objects_with_keys_and_hashes_fit_easily() {
        let text = render(&summary(2, ""), MAX_BYTES);
        assert!(text.len() < 1024, "{}", text.len());
    }

    #[test]
    fn many_objects_are_dropped_and_counted_but_hdf_stays() {
        let text = render(&summary(60, ""), MAX_BYTES);
        assert!(text.len() <= MAX_BYTES, "{}", text.len());
        let back = parse(&text).unwrap();
        assert!(back.timings_ms.is_empty());
        let kept = back.objects.len();
        assert!(kept > 5 && kept < 60, "{kept}");
        assert_eq!(back.objects_omitted + kept, 60);
        assert_eq!(back.objects[0].file, "hdf.json");
        assert_eq!(back.counts["passed"], 10);
    }

    #[test]
    fn a_long_error_is_shortened() {
        let text = render(&summary(2, &"é\"x".repeat(3000)), MAX_BYTES);
        assert!(text.len() <= MAX_BYTES);
        let back = parse(&text).unwrap();
        assert!(back.error.as_deref().unwrap().ends_with("..."));
        assert_eq!(back.outcome, "stored");
        assert!(back.object("hdf.json").is_some());
    }

    #[test]
    fn text_that_is_not_a_summary_is_none() {
        assert!(parse("").is_none());
        assert!(parse("panicked at src/main.rs:1").is_none());
        assert!(parse("{}").is_none());
        assert!(parse("[1]").is_none());
        assert_eq!(
            parse(r#"{"outcome":"truncated"}"#).unwrap().outcome,
            "truncated"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn always_valid_json_within_the_limit(
            objects in 0usize..100,
            error in "[a-z\"\\\\é\n]{0,6000}",
            limit in 200usize..5000,
        ) {
            let text = render(&summary(objects, &error), limit);
            prop_assert!(text.len() <= limit, "{} > {}", text.len(), limit);
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert!(back.get("outcome").is_some());
        }
    }
}
