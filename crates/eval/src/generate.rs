//! `saf generate threshold`, byte for byte: thresholds that the given results just meet.
//!
//! SAF builds the file with lodash `_.set` into a plain object and prints it with the `yaml`
//! package; the key order below is that insertion order. The YAML is written here directly so
//! the output is deterministic and needs no YAML serializer.

use std::fmt::Write;

use crate::hdf::{SEVERITIES, Status};
use crate::summary::Summary;

/// `--exact` and `--control-ids`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Every count must match exactly (min and max), not just be at least as good.
    pub exact: bool,
    /// Also list the control ids expected in each status and severity.
    pub control_ids: bool,
}

/// Renders the threshold YAML for a summary.
pub fn generate(summary: &Summary, options: GenerateOptions) -> String {
    let mut out = String::new();
    out.push_str("compliance:\n");
    let _ = writeln!(out, "  min: {}", summary.compliance);
    if options.exact {
        let _ = writeln!(out, "  max: {}", summary.compliance);
    }
    for status in Status::THRESHOLD_ORDER {
        let _ = writeln!(out, "{}:", status.key());
        let mut written: Vec<&str> = Vec::new();
        for severity in SEVERITIES {
            if severity == "none" && status != Status::NotApplicable {
                continue;
            }
            let count = summary
                .severities
                .get(severity)
                .map(|c| c.get(status))
                .unwrap_or_default();
            let _ = writeln!(out, "  {severity}:");
            let passed = status == Status::Passed;
            if passed || options.exact {
                let _ = writeln!(out, "    min: {count}");
            }
            if !passed || options.exact {
                let _ = writeln!(out, "    max: {count}");
            }
            if options.control_ids {
                write_ids(&mut out, &summary.control_ids(status, severity));
            }
            written.push(severity);
        }
        let total = summary.totals.get(status);
        let bound = if status == Status::Passed {
            "min"
        } else {
            "max"
        };
        let _ = writeln!(out, "  total:\n    {bound}: {total}");
        if options.control_ids {
            // Severities without a count template (passed.none, or a raw tag under SAF-compatible
            // semantics) get a key of their own after `total`, in order of first appearance.
            for severity in summary.severities_seen(status) {
                if written.contains(&severity) {
                    continue;
                }
                let _ = writeln!(out, "  {}:", yaml_scalar(severity));
                write_ids(&mut out, &summary.control_ids(status, severity));
            }
        }
    }
    out
}

fn write_ids(out: &mut String, ids: &[&str]) {
    if ids.is_empty() {
        return;
    }
    out.push_str("    controls:\n");
    for id in ids {
        let _ = writeln!(out, "      - {}", yaml_scalar(id));
    }
}

/// A string as the `yaml` package prints it: plain when that reads back as the same string,
/// else double-quoted.
pub fn yaml_scalar(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for ch in s.chars() {
            match ch {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\t' => q.push_str("\\t"),
                '\r' => q.push_str("\\r"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(q, "\\x{:02X}", c as u32);
                }
                c => q.push(c),
            }
        }
        q.push('"');
        q
    }
}

fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.trim() != s || s.chars().any(|c| c.is_control() && c != '\t') {
        return false;
    }
    if "[]{},#&*!|>'\"%@`".contains(first) && !(first == ']' || first == ',') {
        return false;
    }
    if "-?:".contains(first) {
        let second = s.chars().nth(1);
        if second.is_none_or(|c| c == ' ') {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !resolves_to_non_string(s)
}

/// YAML 1.2 core schema: null, booleans, integers and floats read back as non-strings.
fn resolves_to_non_string(s: &str) -> bool {
    matches!(
        s,
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) || is_core_int(s)
        || is_core_float(s)
}

fn is_core_int(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    if let Some(oct) = s.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    if let Some(hex) = s.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    false
}

fn is_core_float(s: &str) -> bool {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    if matches!(body, ".inf" | ".Inf" | ".INF") || matches!(s, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    // [0-9]+(\.[0-9]*)? or \.[0-9]+, then an optional exponent.
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let d = e.strip_prefix(['-', '+']).unwrap_or(e);
        !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_like_the_yaml_package() {
        for (id, want) in [
            ("V-1", "V-1"),
            ("1.1", "\"1.1\""),
            ("1.1.1", "1.1.1"),
            ("-x", "-x"),
            ("- x", "\"- x\""),
            ("a: b", "\"a: b\""),
            ("a:b", "a:b"),
            ("yes", "yes"),
            ("null", "\"null\""),
            ("0x1A", "\"0x1A\""),
            ("08", "\"08\""),
            (".5", "\".5\""),
            ("1e3", "\"1e3\""),
            ("+1", "\"+1\""),
            ("#x", "\"#x\""),
            ("x #y", "\"x #y\""),
            ("it's", "it's"),
            ("q\"x", "q\"x"),
            ("x]", "x]"),
            ("[x", "\"[x\""),
            ("1_000", "1_000"),
            ("12:30:00", "12:30:00"),
            ("", "\"\""),
            ("High", "High"),
        ] {
            assert_eq!(yaml_scalar(id), want, "{id}");
        }
    }
}
