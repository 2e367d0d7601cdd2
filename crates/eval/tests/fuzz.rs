//! Property tests: both parsers survive arbitrary and mutated input (no panic), and whatever
//! parses yields internally consistent summaries.

mod common;

use proptest::prelude::*;
use sidescan_eval::summary::summarize;
use sidescan_eval::{Semantics, generate, hdf, threshold, validate};

fn seeds() -> Vec<Vec<u8>> {
    [
        "minimal_hdf.json",
        "overlay.json",
        "statuses.json",
        "two_indep2.json",
        "sevnum.json",
    ]
    .iter()
    .map(|f| common::read(&format!("hdf/{f}")))
    .collect()
}

fn threshold_seeds() -> Vec<String> {
    [
        "edge_flat.yml",
        "edge_mixed.yml",
        "edge_ids4.yml",
        "rhel-8_hardened.counts.good.exact.yml",
        "triple_overlay_profile_example.json.counts.totalMinMax.yml",
    ]
    .iter()
    .map(|f| common::read_text(&format!("thresholds/{f}")))
    .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (
            any::<usize>(),
            prop_oneof![
                Just(b"null".to_vec()),
                Just(b"[]".to_vec()),
                Just(b"{}".to_vec()),
                Just(b"\"".to_vec()),
                Just(b"-1e999".to_vec()),
                Just(b",\"parent_profile\":\"wrapper\"".to_vec()),
                prop::collection::vec(any::<u8>(), 1..8),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] = *b;
                }
            }
            Mutation::Delete(i, n) => {
                let start = i % len;
                let end = (start + n).min(bytes.len());
                if start < end {
                    bytes.drain(start..end);
                }
            }
            Mutation::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

/// Parses with both semantics; when it parses, the summary must add up.
fn exercise_hdf(bytes: &[u8]) {
    for semantics in [Semantics::Sidescan, Semantics::SafCompat] {
        if let Ok(h) = hdf::parse_with(bytes, "fuzz", semantics) {
            let s = summarize(&h);
            let t = &s.totals;
            assert_eq!(
                (t.passed + t.failed + t.skipped + t.no_impact + t.error) as usize,
                s.controls
            );
            assert!(s.compliance <= 100);
            let _ = generate::generate(
                &s,
                generate::GenerateOptions {
                    exact: true,
                    control_ids: true,
                },
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hdf_parser_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        exercise_hdf(&bytes);
    }

    #[test]
    fn hdf_parser_survives_mutated_results(
        seed in 0usize..5,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let bytes = apply(seeds()[seed].clone(), &mutations);
        exercise_hdf(&bytes);
    }

    #[test]
    fn threshold_parser_survives_arbitrary_text(text in ".{0,200}") {
        let _ = threshold::parse_threshold(&text, "fuzz");
        let _ = threshold::parse_inline(&text);
    }

    #[test]
    fn threshold_parser_survives_mutated_files(
        seed in 0usize..5,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let bytes = apply(threshold_seeds()[seed].clone().into_bytes(), &mutations);
        let text = String::from_utf8_lossy(&bytes);
        let s = summarize(&hdf::parse(&common::read("hdf/statuses.json")).unwrap());
        if let Ok(t) = threshold::parse_threshold(&text, "fuzz") {
            let v = validate::validate(&s, &t);
            prop_assert_eq!(v.passed, v.violations.is_empty());
        }
    }

    #[test]
    fn inline_roundtrip_of_numbers(min in 0u32..=100, max in 0i64..1000) {
        let t = threshold::parse_inline(&format!("{{compliance.min: {min}}}, {{failed.total.max: {max}}}")).unwrap();
        prop_assert_eq!(t.number("compliance.min"), Some(min as f64));
        prop_assert_eq!(t.number("failed.total.max"), Some(max as f64));
    }
}
