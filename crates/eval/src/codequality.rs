//! GitLab Code Quality (a subset of the Code Climate issue format): one issue per finding of a
//! failed control, the same findings and fingerprints as the SARIF output.
//!
//! GitLab reads `description`, `check_name`, `fingerprint`, `severity`, `location.path` and
//! `location.lines.begin`; issues with the same fingerprint show once in a merge request. Findings
//! that name a path inside the target are located there (relative, no leading slash); the others
//! at `hdf.json`, line 1.

use serde::Serialize;

use crate::finding::{self, one_line};
use crate::hdf::Hdf;
use crate::sarif::RESULTS_FILE;

/// GitLab's severity of a SAF severity: none info, low minor, medium major, high critical,
/// critical blocker.
pub fn severity(saf_severity: &str) -> &'static str {
    match saf_severity {
        "critical" => "blocker",
        "high" => "critical",
        "medium" => "major",
        "low" => "minor",
        _ => "info",
    }
}

#[derive(Debug, Serialize)]
struct Issue {
    #[serde(rename = "type")]
    kind: &'static str,
    check_name: String,
    description: String,
    categories: [&'static str; 1],
    fingerprint: String,
    severity: &'static str,
    location: Location,
}

#[derive(Debug, Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Debug, Serialize)]
struct Lines {
    begin: u32,
}

/// Longest description kept (GitLab shows it on one line in the merge request widget).
const MAX_DESCRIPTION: usize = 1000;

/// The Code Quality report of one HDF result: a JSON array, in profile and result order.
pub fn codequality(hdf: &Hdf) -> String {
    let mut issues = Vec::new();
    for c in &hdf.controls {
        let title = c.title.as_deref().map(one_line).unwrap_or_default();
        for f in finding::failing(c) {
            let detail: Vec<String> = f.messages.iter().map(|m| one_line(m)).collect();
            let mut description = if title.is_empty() {
                format!("{}: {}", c.id, detail.join("; "))
            } else {
                format!("{}: {title}: {}", c.id, detail.join("; "))
            };
            if description.len() > MAX_DESCRIPTION {
                let mut end = MAX_DESCRIPTION;
                while !description.is_char_boundary(end) {
                    end -= 1;
                }
                description.truncate(end);
                description.push('…');
            }
            issues.push(Issue {
                kind: "issue",
                check_name: c.id.clone(),
                description,
                categories: ["Security"],
                fingerprint: finding::fingerprint(&c.id, &f.key),
                severity: severity(&c.severity),
                location: Location {
                    path: f
                        .key
                        .path()
                        .map(finding::relative_path)
                        .unwrap_or_else(|| RESULTS_FILE.to_string()),
                    lines: Lines { begin: 1 },
                },
            });
        }
    }
    let mut out = serde_json::to_string_pretty(&issues).expect("issues always serialize");
    out.push('\n');
    out
}
