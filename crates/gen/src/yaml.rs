//! A small YAML emitter for render data: every string is quoted (JSON escapes, which YAML's
//! double-quoted style shares) or written as a literal block when that is provably safe, so no
//! user string can change the document's structure. Output is deterministic: maps keep their
//! (sorted) order.

use serde_json::Value;
use std::fmt::Write;

/// A double-quoted YAML scalar. JSON escaping plus `\u` escapes for the characters YAML does not
/// allow raw (DEL, C1 controls, surrogates' neighbours U+FFFE/U+FFFF).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_yaml_printable(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn is_yaml_printable(c: char) -> bool {
    matches!(c as u32,
        0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD | 0x10000..=0x10FFFF)
}

/// A mapping key: plain when it cannot be read as anything but that string, quoted otherwise.
pub fn key(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain { text.to_string() } else { quote(text) }
}

/// Whether `text` survives a literal block scalar (`|`, `|-`, `|+`) unchanged.
fn block_safe(text: &str) -> bool {
    text.contains('\n')
        && !text.starts_with([' ', '\t', '\n'])
        && text
            .chars()
            .all(|c| c == '\n' || c == '\t' || (is_yaml_printable(c) && c != '\u{FEFF}'))
        && text
            .trim_end_matches('\n')
            .split('\n')
            .all(|line| line.is_empty() || !line.trim().is_empty())
        && !text
            .trim_end_matches('\n')
            .split('\n')
            .any(|line| line.ends_with([' ', '\t']))
}

fn block(text: &str, indent: usize, out: &mut String) {
    let body = text.trim_end_matches('\n');
    let trailing = text.len() - body.len();
    out.push_str(match trailing {
        0 => " |-",
        1 => " |",
        _ => " |+",
    });
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(indent, out);
            out.push_str(line);
        }
    }
    // `|+` keeps the extra line breaks: emit them as empty lines.
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar on the rest of the current line (after `key:` or `-`), with its leading space.
fn scalar(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::String(s) if block_safe(s) => block(s, indent, out),
        Value::String(s) => {
            out.push(' ');
            out.push_str(&quote(s));
        }
        Value::Object(_) => out.push_str(" {}"),
        Value::Array(_) => out.push_str(" []"),
        other => {
            out.push(' ');
            out.push_str(&other.to_string());
        }
    }
}

/// Writes `value` as it follows `key:`; nested lines are indented by `indent` spaces.
pub fn after_key(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                out.push('\n');
                pad(indent, out);
                out.push_str(&key(k));
                out.push(':');
                after_key(v, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push('\n');
                pad(indent, out);
                out.push('-');
                list_item(item, indent + 2, out);
            }
        }
        other => scalar(other, indent, out),
    }
}

fn list_item(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (i, (k, v)) in map.iter().enumerate() {
                if i == 0 {
                    out.push(' ');
                } else {
                    out.push('\n');
                    pad(indent, out);
                }
                out.push_str(&key(k));
                out.push(':');
                after_key(v, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            // Nested lists: flow style, every string quoted.
            out.push(' ');
            out.push_str(&flow(value));
            let _ = items;
        }
        other => scalar(other, indent, out),
    }
}

/// Flow style (`[..]`, `{..}`) with quoted strings: JSON with YAML-safe string escapes.
fn flow(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", quote(k), flow(v)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn round_trip(value: &Value) -> Value {
        let mut out = String::from("v:");
        after_key(value, 2, &mut out);
        out.push('\n');
        let parsed: Value = serde_saphyr::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        parsed["v"].clone()
    }

    #[test]
    fn nested_structures_round_trip() {
        let value = json!({
            "a": [{"b": "1", "c": [1, 2], "d": {}}, "x", ["y", ["z"]]],
            "true": "yes", "k: v": "- item", "multi": "line one\nline two\n",
            "keep": "a\n\n\n", "strip": "a\nb", "empty": "", "n": null, "f": 1.5,
        });
        assert_eq!(round_trip(&value), value);
    }

    #[test]
    fn multi_line_text_becomes_a_literal_block() {
        let mut out = String::from("v:");
        after_key(&json!("a: 1\nb: 2\n"), 2, &mut out);
        assert_eq!(out, "v: |\n  a: 1\n  b: 2");
    }

    proptest! {
        #[test]
        fn any_string_round_trips(text in "\\PC*|[ \t\n\r\u{7f}\u{85}\u{2028}\u{feff}a#:-]*") {
            let value = json!({"s": text.clone(), "l": [text.clone()]});
            prop_assert_eq!(round_trip(&value), value);
        }
    }
}
