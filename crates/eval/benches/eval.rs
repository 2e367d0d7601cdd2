//! Library timings on the largest corpus file (4.7 MB, three overlaid profiles), and SARIF, Code
//! Quality and diff on it (the diff against a copy with some results flipped, see [`variant`]).
//! `cargo bench -p sidescan-eval`; the corpus is found as in the tests (SIDESCAN_SAF_CORPUS).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use sidescan_eval::generate::{GenerateOptions, generate};
use sidescan_eval::metadata::ScanMetadata;
use sidescan_eval::{codequality, diff, hdf, sarif, summary, threshold, validate};

fn corpus() -> PathBuf {
    std::env::var_os("SIDESCAN_SAF_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/saf")
        })
}

/// The same result with every 5th failed result passing and every 7th passed result failing
/// (about the same size): what a later scan of the same target looks like to `diff`.
pub fn variant(bytes: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let (mut failed, mut passed) = (0usize, 0usize);
    for profile in v["profiles"].as_array_mut().unwrap() {
        for control in profile["controls"].as_array_mut().unwrap() {
            for r in control["results"].as_array_mut().unwrap() {
                match r["status"].as_str() {
                    Some("failed") => {
                        failed += 1;
                        if failed % 5 == 0 {
                            r["status"] = "passed".into();
                        }
                    }
                    Some("passed") => {
                        passed += 1;
                        if passed % 7 == 0 {
                            r["status"] = "failed".into();
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    serde_json::to_vec(&v).unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = corpus();
    let bytes = std::fs::read(dir.join("hdf/triple_overlay_profile_example.json"))
        .expect("SAF corpus not found (set SIDESCAN_SAF_CORPUS)");
    let text = std::fs::read_to_string(
        dir.join("thresholds/triple_overlay_profile_example.json.counts.good.yml"),
    )
    .unwrap();
    let t = threshold::parse_threshold(&text, "t").unwrap();
    let s = summary::summarize(&hdf::parse(&bytes).unwrap());

    c.bench_function("parse triple_overlay (4.7 MB)", |b| {
        b.iter(|| hdf::parse(black_box(&bytes)).unwrap())
    });
    c.bench_function("parse+summarize+validate triple_overlay", |b| {
        b.iter(|| {
            let h = hdf::parse(black_box(&bytes)).unwrap();
            validate::validate(&summary::summarize(&h), &t).passed()
        })
    });
    let parsed = hdf::parse(&bytes).unwrap();
    let later_bytes = variant(&bytes);
    let later = hdf::parse(&later_bytes).unwrap();
    assert!(
        !diff::diff(&parsed, &later).is_empty(),
        "the variant must differ"
    );
    c.bench_function("diff of two parsed 4.7 MB results", |b| {
        b.iter(|| diff::diff(black_box(&parsed), black_box(&later)))
    });
    c.bench_function("parse both + diff (4.7 MB each)", |b| {
        b.iter(|| {
            let old = hdf::parse(black_box(&bytes)).unwrap();
            let new = hdf::parse(black_box(&later_bytes)).unwrap();
            diff::diff(&old, &new).has_new_failures()
        })
    });
    c.bench_function("sarif of a parsed 4.7 MB result", |b| {
        b.iter(|| sarif::sarif(black_box(&parsed), &ScanMetadata::default()))
    });
    c.bench_function("codequality of a parsed 4.7 MB result", |b| {
        b.iter(|| codequality::codequality(black_box(&parsed)))
    });
    c.bench_function("generate --exact --control-ids from summary", |b| {
        b.iter(|| {
            generate(
                black_box(&s),
                GenerateOptions {
                    exact: true,
                    control_ids: true,
                },
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
