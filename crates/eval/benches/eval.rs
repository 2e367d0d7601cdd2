//! Library timings on the largest corpus file (4.7 MB, three overlaid profiles).
//! `cargo bench -p sidescan-eval`; the corpus is found as in the tests (SIDESCAN_SAF_CORPUS).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use sidescan_eval::generate::{GenerateOptions, generate};
use sidescan_eval::{hdf, summary, threshold, validate};

fn corpus() -> PathBuf {
    std::env::var_os("SIDESCAN_SAF_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/saf")
        })
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
