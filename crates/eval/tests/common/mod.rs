//! Shared helpers for the integration tests: where the SAF conformance corpus lives.
#![allow(dead_code)]

use std::path::PathBuf;

/// The SAF conformance corpus: `$SIDESCAN_SAF_CORPUS`, else `tests/conformance/saf` in this repository
/// (a copy of MITRE SAF material under its LICENSE.md, kept beside it).
/// Panics (fails the test) when it is missing: these tests must never pass vacuously.
pub fn corpus() -> PathBuf {
    let dir = match std::env::var_os("SIDESCAN_SAF_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/saf"),
    };
    assert!(
        dir.join("SPEC.md").is_file() && dir.join("expected/validate.jsonl").is_file(),
        "SAF conformance corpus not found at {} (set SIDESCAN_SAF_CORPUS to its directory)",
        dir.display()
    );
    dir
}

pub fn read(rel: &str) -> Vec<u8> {
    let path = corpus().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_text(rel: &str) -> String {
    String::from_utf8(read(rel)).unwrap_or_else(|_| panic!("{rel}: not UTF-8"))
}

pub fn jsonl(rel: &str) -> Vec<serde_json::Value> {
    read_text(rel)
        .lines()
        .filter(|l| !l.trim().is_empty() && l.trim_start().starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{rel}: {e}: {l}")))
        .collect()
}
