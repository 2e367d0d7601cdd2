//! SARIF 2.1.0 for GitHub code scanning (and any SARIF viewer): one rule per counted control, one
//! result per finding of a failed control, profile errors as tool notifications.
//!
//! Findings that name a path inside the target are located at that path, relative to the base
//! `TARGETROOT` (the target's root filesystem). Findings without a path are located at the
//! control in the results file (`hdf.json` relative to `RESULTS`, line 1) and carry a logical
//! location naming the control, since GitHub requires a file location on every result. Each result
//! carries `partialFingerprints.sidescanFindingHash/v1` (see [`crate::finding::fingerprint`]).
//! Output is deterministic: rules in profile order, results in profile and result order, object
//! keys sorted.

use serde_json::{Value, json};

use crate::finding::{self, FINGERPRINT_NAME, Finding, one_line};
use crate::hdf::{Control, Hdf, Status};
use crate::metadata::ScanMetadata;
use crate::summary::summarize;

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const TOOL_NAME: &str = "sidescan";
pub const INFORMATION_URI: &str = "https://github.com/sidescan/sidescan";
/// Base of the paths of findings inside the target.
pub const TARGET_ROOT: &str = "TARGETROOT";
/// Base of `hdf.json`, where findings without a path are located.
pub const RESULTS_BASE: &str = "RESULTS";
/// The file findings without a path point at.
pub const RESULTS_FILE: &str = "hdf.json";
/// GitHub keeps at most this many tags per rule; the full lists are in the rule's properties.
pub const MAX_TAGS: usize = 20;

/// SARIF `level` of a SAF severity: critical and high are errors, medium warnings, the rest notes.
pub fn level(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => "error",
        "medium" => "warning",
        _ => "note",
    }
}

/// GitHub's `security-severity` (0.0 to 10.0) of an impact (0.0 to 1.0), one decimal.
pub fn security_severity(impact: f64) -> String {
    format!("{:.1}", (impact.clamp(0.0, 1.0) * 10.0))
}

/// The rule tags: `security` and `compliance` (GitHub treats rules tagged `security` as security
/// alerts and then reads `security-severity`), then `external/nist/<control>` and
/// `external/cci/<CCI>`, at most [`MAX_TAGS`].
pub fn tags(control: &Control) -> Vec<String> {
    let mut tags = vec!["security".to_string(), "compliance".to_string()];
    let nist = control.nist.iter().map(|n| format!("external/nist/{n}"));
    let cci = control.cci.iter().map(|c| format!("external/cci/{c}"));
    for tag in nist.chain(cci) {
        if tags.len() == MAX_TAGS {
            break;
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// `sidescan/<namespace>/<target>/` (a GitHub analysis category: one per scanned target), else
/// `sidescan/<profile>/`.
pub fn automation_id(hdf: &Hdf, meta: &ScanMetadata) -> String {
    match (&meta.namespace, &meta.target) {
        (Some(ns), Some(target)) => format!("{TOOL_NAME}/{ns}/{target}/"),
        _ => format!("{TOOL_NAME}/{}/", one_line(&hdf.profile).replace(' ', "-")),
    }
}

fn text(s: &str) -> Value {
    json!({ "text": s })
}

fn rule(c: &Control) -> Value {
    let title = c
        .title
        .as_deref()
        .map(one_line)
        .unwrap_or_else(|| c.id.clone());
    let full = c
        .desc
        .as_deref()
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| title.clone());
    let (help_text, help_md) = help(c, &title);
    json!({
        "id": c.id,
        "shortDescription": text(&title),
        "fullDescription": text(&full),
        "help": { "text": help_text, "markdown": help_md },
        "defaultConfiguration": { "level": level(&c.severity) },
        "properties": {
            "security-severity": security_severity(c.impact),
            "severity": c.severity,
            "impact": c.impact,
            "tags": tags(c),
            "nist": c.nist,
            "cci": c.cci,
        },
    })
}

/// The rule's help: the fix text (else the check text), then the check text, as text and Markdown.
fn help(c: &Control, title: &str) -> (String, String) {
    let fix = c.fix.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let check = c.check.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut plain = String::new();
    let mut md = format!("**{}** {}\n", md_inline(&c.id), md_inline(title));
    match (fix, check) {
        (Some(fix), check) => {
            plain.push_str(fix);
            md.push_str(&format!("\n### Fix\n\n{}\n", md_block(fix)));
            if let Some(check) = check {
                plain.push_str("\n\nCheck:\n");
                plain.push_str(check);
                md.push_str(&format!("\n### Check\n\n{}\n", md_block(check)));
            }
        }
        (None, Some(check)) => {
            plain.push_str(check);
            md.push_str(&format!("\n### Check\n\n{}\n", md_block(check)));
        }
        (None, None) => {
            plain.push_str(title);
        }
    }
    (plain, md)
}

/// Profile text in Markdown: kept as written, in a fenced block when it looks preformatted
/// (commands and indented output are common in check and fix texts).
fn md_block(s: &str) -> String {
    if s.lines()
        .any(|l| l.starts_with("    ") || l.starts_with('\t') || l.starts_with('$'))
    {
        let fence = if s.contains("```") { "~~~~" } else { "```" };
        format!("{fence}text\n{s}\n{fence}")
    } else {
        s.to_string()
    }
}

fn md_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in one_line(s).chars() {
        if matches!(
            ch,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|'
        ) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn result_message(c: &Control, f: &Finding<'_>) -> String {
    let title = c
        .title
        .as_deref()
        .map(one_line)
        .unwrap_or_else(|| c.id.clone());
    let detail: Vec<String> = f.messages.iter().map(|m| m.trim().to_string()).collect();
    format!("{}: {title}\n{}", c.id, detail.join("\n"))
}

fn result(index: usize, c: &Control, profile: &str, f: &Finding<'_>) -> Value {
    let logical = json!([{
        "name": c.id,
        "fullyQualifiedName": format!("{profile}/{}", c.id),
        "kind": "object",
    }]);
    let location = match f.key.path() {
        Some(path) => json!({
            "physicalLocation": {
                "artifactLocation": { "uri": finding::relative_uri(path), "uriBaseId": TARGET_ROOT },
                "region": { "startLine": 1 },
            },
        }),
        None => json!({
            "physicalLocation": {
                "artifactLocation": { "uri": RESULTS_FILE, "uriBaseId": RESULTS_BASE },
                "region": { "startLine": 1 },
            },
            "logicalLocations": logical,
        }),
    };
    let mut properties = json!({ "codeDesc": f.code_desc, "status": "failed" });
    if let Some(path) = f.key.path() {
        properties["path"] = json!(path);
    }
    json!({
        "ruleId": c.id,
        "ruleIndex": index,
        "kind": "fail",
        "level": level(&c.severity),
        "message": text(&result_message(c, f)),
        "locations": [location],
        "partialFingerprints": { FINGERPRINT_NAME: finding::fingerprint(&c.id, &f.key) },
        "properties": properties,
    })
}

fn notification(index: usize, c: &Control) -> Value {
    let detail: Vec<String> = c
        .results
        .iter()
        .filter(|r| r.status == "error" || r.status == "no_status")
        .map(|r| match &r.message {
            Some(m) => format!("{}: {}", r.code_desc, one_line(m)),
            None => r.code_desc.clone(),
        })
        .collect();
    let why = if c.results.is_empty() {
        "no tests ran for this control".to_string()
    } else if detail.is_empty() {
        "profile error".to_string()
    } else {
        detail.join("; ")
    };
    json!({
        "level": "error",
        "message": text(&format!("Control {} could not be evaluated (Profile Error): {why}", c.id)),
        "associatedRule": { "id": c.id, "index": index },
    })
}

/// The SARIF log of one HDF result. `meta` adds the image, digest and run id, and makes the
/// analysis category per target.
pub fn sarif(hdf: &Hdf, meta: &ScanMetadata) -> String {
    let mut rules = Vec::with_capacity(hdf.controls.len());
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for (i, c) in hdf.controls.iter().enumerate() {
        rules.push(rule(c));
        for f in finding::failing(c) {
            results.push(result(i, c, &hdf.profile, &f));
        }
        if c.status == Status::ProfileError {
            notifications.push(notification(i, c));
        }
    }
    let s = summarize(hdf);
    let mut properties = json!({
        "profile": hdf.profile,
        "compliance": s.compliance,
        "controls": s.totals,
    });
    for (key, value) in [
        ("image", &meta.image),
        ("imageDigest", &meta.image_digest),
        ("runId", &meta.run_id),
        ("namespace", &meta.namespace),
        ("target", &meta.target),
    ] {
        if let Some(v) = value {
            properties[key] = json!(v);
        }
    }
    let version = env!("CARGO_PKG_VERSION");
    let doc = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": TOOL_NAME,
                "fullName": format!("{TOOL_NAME} compliance scanner"),
                "version": version,
                "semanticVersion": version,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "automationDetails": { "id": automation_id(hdf, meta) },
            "originalUriBaseIds": {
                TARGET_ROOT: {
                    "uri": "file:///",
                    "description": text("The root of the scanned container's filesystem."),
                },
                RESULTS_BASE: {
                    "description": text("The scan's run folder, which holds hdf.json."),
                },
            },
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
            "columnKind": "unicodeCodePoints",
            "properties": properties,
        }],
    });
    let mut out = serde_json::to_string_pretty(&doc).expect("a JSON value always serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf::parse;

    /// A builtin-style result: two controls with path findings, one failing without a path, one
    /// passing, one errored.
    fn sample() -> Hdf {
        let text = r#"{"platform":{"name":"x","release":"1"},"statistics":{},"version":"5",
          "profiles":[{"name":"sidescan-baseline","sha256":"x","supports":[],"attributes":[],
          "groups":[],"controls":[
            {"id":"SIDESCAN-FS-002","title":"No world-writable files","impact":0.7,"refs":[],
             "desc":"World-writable files let any user change them.",
             "descriptions":[{"label":"default","data":"d"},{"label":"check","data":"Walk the root."},
                             {"label":"fix","data":"chmod o-w the files."}],
             "tags":{"nist":["AC-6","CM-6 b"],"cci":["CCI-000366"],"severity":"high"},
             "source_location":{},"results":[
               {"status":"failed","code_desc":"file /srv/a b is not world-writable",
                "message":"/srv/a b has mode 0666","start_time":"t1"},
               {"status":"failed","code_desc":"directory /data is not world-writable",
                "message":"/data has mode 0777","start_time":"t1"},
               {"status":"passed","code_desc":"file /ok is not world-writable","start_time":"t1"}]},
            {"id":"SIDESCAN-ACCT-001","title":"Only root has UID 0","impact":0.5,"refs":[],
             "tags":{},"source_location":{},"results":[
               {"status":"failed","code_desc":"account toor does not have UID 0",
                "message":"account toor has UID 0 (shell /bin/sh)","start_time":"t1"}]},
            {"id":"SIDESCAN-PROC-001","title":"Not root","impact":0.3,"refs":[],"tags":{},
             "source_location":{},"results":[{"status":"passed","code_desc":"uid 1000","start_time":"t"}]},
            {"id":"SIDESCAN-KEY-001","title":"No keys","impact":1.0,"refs":[],"tags":{},
             "source_location":{},"results":[{"status":"error","code_desc":"file /x was read",
               "message":"EACCES","start_time":"t"}]}
          ]}]}"#;
        parse(text.as_bytes()).unwrap()
    }

    fn doc(hdf: &Hdf, meta: &ScanMetadata) -> Value {
        serde_json::from_str(&sarif(hdf, meta)).unwrap()
    }

    #[test]
    fn rules_results_and_notifications() {
        let d = doc(&sample(), &ScanMetadata::default());
        let run = &d["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 4);
        let ww = &rules[0];
        assert_eq!(ww["id"], "SIDESCAN-FS-002");
        assert_eq!(ww["shortDescription"]["text"], "No world-writable files");
        assert_eq!(
            ww["fullDescription"]["text"],
            "World-writable files let any user change them."
        );
        assert!(
            ww["help"]["text"]
                .as_str()
                .unwrap()
                .starts_with("chmod o-w the files.")
        );
        assert!(ww["help"]["markdown"].as_str().unwrap().contains("### Fix"));
        assert_eq!(ww["properties"]["security-severity"], "7.0");
        assert_eq!(ww["defaultConfiguration"]["level"], "error");
        assert_eq!(
            ww["properties"]["tags"],
            json!([
                "security",
                "compliance",
                "external/nist/AC-6",
                "external/nist/CM-6 b",
                "external/cci/CCI-000366"
            ])
        );
        assert_eq!(rules[1]["defaultConfiguration"]["level"], "warning");
        assert_eq!(rules[2]["defaultConfiguration"]["level"], "note");
        // No fix or check text: the help is the title.
        assert_eq!(rules[1]["help"]["text"], "Only root has UID 0");

        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        let loc = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "srv/a%20b");
        assert_eq!(loc["artifactLocation"]["uriBaseId"], "TARGETROOT");
        assert_eq!(loc["region"]["startLine"], 1);
        assert!(results[0]["locations"][0].get("logicalLocations").is_none());
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "data"
        );
        let pathless = &results[2];
        assert_eq!(pathless["ruleId"], "SIDESCAN-ACCT-001");
        assert_eq!(pathless["ruleIndex"], 1);
        assert_eq!(
            pathless["locations"][0]["logicalLocations"][0]["name"],
            "SIDESCAN-ACCT-001"
        );
        assert_eq!(
            pathless["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "hdf.json"
        );
        assert!(
            pathless["message"]["text"]
                .as_str()
                .unwrap()
                .contains("account toor has UID 0")
        );
        let notes = run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["associatedRule"]["id"], "SIDESCAN-KEY-001");
        assert_eq!(notes[0]["associatedRule"]["index"], 3);
        assert_eq!(
            run["automationDetails"]["id"],
            "sidescan/sidescan-baseline/"
        );
        assert!(run["properties"].get("image").is_none());
    }

    #[test]
    fn metadata_names_the_image_and_the_category() {
        let meta = ScanMetadata {
            run_id: Some("abc123".into()),
            namespace: Some("shop".into()),
            target: Some("web".into()),
            image: Some("nginx:1.27".into()),
            image_digest: Some("sha256:ab".into()),
        };
        let d = doc(&sample(), &meta);
        let run = &d["runs"][0];
        assert_eq!(run["automationDetails"]["id"], "sidescan/shop/web/");
        assert_eq!(run["properties"]["image"], "nginx:1.27");
        assert_eq!(run["properties"]["imageDigest"], "sha256:ab");
        assert_eq!(run["properties"]["runId"], "abc123");
    }

    #[test]
    fn fingerprints_ignore_run_details_and_output_is_deterministic() {
        let hdf = sample();
        let other_run = ScanMetadata {
            run_id: Some("zzz999".into()),
            ..ScanMetadata::default()
        };
        let fp = |d: &Value| -> Vec<Value> {
            d["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["partialFingerprints"].clone())
                .collect()
        };
        let a = doc(&hdf, &ScanMetadata::default());
        assert_eq!(fp(&a), fp(&doc(&hdf, &other_run)));
        // A new message for the same path (mode 0666 -> 0646) keeps the fingerprint.
        let mut changed = hdf.clone();
        changed.controls[0].results[0].message = Some("/srv/a b has mode 0646".into());
        assert_eq!(fp(&a), fp(&doc(&changed, &ScanMetadata::default())));
        let fps = fp(&a);
        assert_eq!(
            fps.iter().collect::<std::collections::HashSet<_>>().len(),
            fps.len(),
            "fingerprints must be unique"
        );
        assert_eq!(sarif(&hdf, &other_run), sarif(&hdf, &other_run));
    }

    #[test]
    fn tags_are_capped_for_github() {
        let mut c = sample().controls[0].clone();
        c.nist = (0..30).map(|i| format!("AC-{i}")).collect();
        let t = tags(&c);
        assert_eq!(t.len(), MAX_TAGS);
        assert_eq!(t[2], "external/nist/AC-0");
        assert_eq!(security_severity(0.7), "7.0");
        assert_eq!(security_severity(1.0), "10.0");
        assert_eq!(security_severity(0.0), "0.0");
    }
}
