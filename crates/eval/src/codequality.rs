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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf::parse;
    use serde_json::Value;

    #[test]
    fn one_issue_per_finding_with_gitlab_fields() {
        let text = r#"{"platform":{"name":"x","release":"1"},"statistics":{},"version":"5",
          "profiles":[{"name":"p","sha256":"x","supports":[],"attributes":[],"groups":[],"controls":[
            {"id":"C-1","title":"Owned by root","impact":0.9,"refs":[],"tags":{},"source_location":{},
             "results":[{"status":"failed","code_desc":"/etc/shadow is owned by root",
               "message":"/etc/shadow: owner is uid 5","start_time":"t"}]},
            {"id":"C-2","title":"Ports","impact":0.2,"refs":[],"tags":{},"source_location":{},
             "results":[{"status":"failed","code_desc":"Port 22 is expected not to be listening",
               "message":"expected\n  that port 22 is not listening","start_time":"t"}]},
            {"id":"C-3","impact":0.5,"refs":[],"tags":{},"source_location":{},
             "results":[{"status":"passed","code_desc":"ok","start_time":"t"}]}]}]}"#;
        let hdf = parse(text.as_bytes()).unwrap();
        let issues: Vec<Value> = serde_json::from_str(&codequality(&hdf)).unwrap();
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0]["check_name"], "C-1");
        assert_eq!(issues[0]["severity"], "blocker");
        assert_eq!(issues[0]["location"]["path"], "etc/shadow");
        assert_eq!(issues[0]["location"]["lines"]["begin"], 1);
        assert_eq!(
            issues[0]["description"],
            "C-1: Owned by root: /etc/shadow: owner is uid 5"
        );
        assert_eq!(issues[1]["severity"], "minor");
        assert_eq!(issues[1]["location"]["path"], "hdf.json");
        assert_eq!(
            issues[1]["description"],
            "C-2: Ports: expected that port 22 is not listening"
        );
        assert_eq!(
            issues[0]["fingerprint"],
            crate::finding::fingerprint(
                "C-1",
                &crate::finding::FindingKey::Path("/etc/shadow".into())
            )
        );
        assert_ne!(issues[0]["fingerprint"], issues[1]["fingerprint"]);
        assert_eq!(severity("high"), "critical");
        assert_eq!(severity("medium"), "major");
        assert_eq!(severity("none"), "info");
    }
}
