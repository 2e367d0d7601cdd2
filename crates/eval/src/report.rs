//! Human and CI renderings: plain text, Markdown (a CI job summary) and JUnit XML.

use std::fmt::Write;

use crate::hdf::{Hdf, SEVERITIES, Status};
use crate::summary::{StatusCounts, Summary};
use crate::validate::Validation;

const ROWS: [(Status, &str); 5] = [
    (Status::Passed, "Passed"),
    (Status::Failed, "Failed"),
    (Status::NotReviewed, "Not Reviewed (skipped)"),
    (Status::NotApplicable, "Not Applicable (no_impact)"),
    (Status::ProfileError, "Profile Error (error)"),
];

fn row(counts: &StatusCounts, s: Status) -> u64 {
    counts.get(s)
}

/// Plain-text summary for a terminal.
pub fn summary_text(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "profile: {} ({} profile{})",
        s.profile,
        s.profiles,
        if s.profiles == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "controls: {}  compliance: {}%",
        s.controls, s.compliance
    );
    let _ = writeln!(
        out,
        "{:<28}{:>7}{:>10}{:>7}{:>8}{:>6}{:>6}",
        "status", "total", "critical", "high", "medium", "low", "none"
    );
    for (status, label) in ROWS {
        let _ = write!(out, "{label:<28}{:>7}", row(&s.totals, status));
        for (sev, width) in SEVERITIES.iter().zip([10, 7, 8, 6, 6]) {
            let n = s.severities.get(sev).map(|c| row(c, status)).unwrap_or(0);
            let _ = write!(out, "{n:>width$}");
        }
        out.push('\n');
    }
    if !s.failed_controls.is_empty() {
        let _ = writeln!(out, "failed controls:");
        for c in &s.failed_controls {
            let _ = writeln!(
                out,
                "  {} [{}] {}",
                c.id,
                c.severity,
                one_line(c.title.as_deref().unwrap_or(""))
            );
        }
    }
    out
}

/// Markdown for a CI job summary (GitHub `$GITHUB_STEP_SUMMARY`, GitLab, ...).
pub fn summary_markdown(s: &Summary) -> String {
    let mut out = String::new();
    let icon = if s.totals.failed == 0 && s.totals.error == 0 {
        "✅"
    } else {
        "❌"
    };
    let _ = writeln!(out, "## {icon} Compliance: {}%\n", s.compliance);
    let _ = writeln!(
        out,
        "Profile **{}** ({} profile{}), {} controls.\n",
        md_escape(&s.profile),
        s.profiles,
        if s.profiles == 1 { "" } else { "s" },
        s.controls
    );
    out.push_str("| Status | Total | Critical | High | Medium | Low | None |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for (status, label) in ROWS {
        let _ = write!(out, "| {label} | {} |", row(&s.totals, status));
        for sev in SEVERITIES {
            let n = s.severities.get(sev).map(|c| row(c, status)).unwrap_or(0);
            let _ = write!(out, " {n} |");
        }
        out.push('\n');
    }
    if !s.failed_controls.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} failed control{}</summary>\n",
            s.failed_controls.len(),
            if s.failed_controls.len() == 1 {
                ""
            } else {
                "s"
            }
        );
        out.push_str("| Control | Severity | Title |\n|---|---|---|\n");
        for c in &s.failed_controls {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                c.id.replace('`', "'"),
                c.severity,
                md_escape(c.title.as_deref().unwrap_or(""))
            );
        }
        out.push_str("\n</details>\n");
    }
    out
}

fn md_escape(s: &str) -> String {
    one_line(s).replace('|', "\\|")
}

/// Titles often carry the profile source's line breaks and indentation.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// JUnit XML: one test case per counted control. Failed -> `<failure>` with the failed results'
/// messages; Not Reviewed and Not Applicable -> `<skipped>`; Profile Error -> `<error>`.
pub fn junit(hdf: &Hdf) -> String {
    let count = |s: Status| hdf.controls.iter().filter(|c| c.status == s).count();
    let skipped = count(Status::NotReviewed) + count(Status::NotApplicable);
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sidescan\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\">",
        hdf.controls.len(),
        count(Status::Failed),
        count(Status::ProfileError),
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{skipped}\">",
        xml(&hdf.profile),
        hdf.controls.len(),
        count(Status::Failed),
        count(Status::ProfileError),
    );
    for c in &hdf.controls {
        let name = match &c.title {
            Some(t) => format!("{}: {}", c.id, one_line(t)),
            None => c.id.clone(),
        };
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml(&hdf.profile),
            xml(&name)
        );
        let details = |wanted: &[&str]| -> String {
            c.results
                .iter()
                .filter(|r| wanted.contains(&r.status.as_str()))
                .map(|r| match &r.message {
                    Some(m) => format!("{}: {}\n{m}", r.status, r.code_desc),
                    None => format!("{}: {}", r.status, r.code_desc),
                })
                .collect::<Vec<_>>()
                .join("\n\n")
        };
        match c.status {
            Status::Passed => out.push_str("/>\n"),
            Status::Failed => {
                let text = details(&["failed"]);
                let first = c
                    .results
                    .iter()
                    .find(|r| r.status == "failed")
                    .map(|r| r.code_desc.as_str())
                    .unwrap_or("failed");
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(first),
                    c.severity,
                    xml(&text)
                );
            }
            Status::NotReviewed | Status::NotApplicable => {
                let mut reasons: Vec<&str> = Vec::new();
                for r in c.results.iter().filter(|r| r.status == "skipped") {
                    let reason = r.message.as_deref().unwrap_or(&r.code_desc);
                    if !reasons.contains(&reason) {
                        reasons.push(reason);
                    }
                }
                let text = reasons.join("\n");
                let message = if c.status == Status::NotApplicable {
                    "Not Applicable".to_string()
                } else if text.is_empty() {
                    "Not Reviewed".to_string()
                } else {
                    text
                };
                let _ = write!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml(&message)
                );
            }
            Status::ProfileError => {
                let text = details(&["error", "no_status"]);
                let message = if c.results.is_empty() {
                    "no tests ran for this control"
                } else {
                    "profile error"
                };
                let _ = write!(
                    out,
                    ">\n      <error message=\"{message}\">{}</error>\n    </testcase>\n",
                    xml(&text)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
pub(crate) fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Text verdict: SAF's pass line, or one `Error: ...` line per violation, SAF's first.
pub fn validation_text(v: &Validation) -> (String, String) {
    let mut stdout = String::new();
    let mut stderr = String::new();
    if v.passed {
        stdout.push_str("All validation tests passed\n");
    }
    for violation in &v.violations {
        let _ = writeln!(stderr, "Error: {}", violation.message);
    }
    (stdout, stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
