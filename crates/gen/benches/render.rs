//! Render 1,000 distinct scan specs, every document (`render all` and `render scan-pod`): target
//! under 1 s. The command-line figures (one process, startup included): `scripts/bench-gen`.
//! `cargo bench -p sidescan-gen --bench render`

use criterion::{Criterion, criterion_group, criterion_main};
use sidescan_gen::{Generator, Kind, KubeVersion, ScanSpec, context, inputs, values};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const SPECS: usize = 1000;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/specs")
}

/// 1,000 variations of the example specs: different targets, UIDs, modes and releases.
fn specs() -> Vec<(ScanSpec, KubeVersion)> {
    let bases = [
        "distroless-same-uid",
        "dev-cluster",
        "scheduled-remote-profile",
    ];
    let trees: Vec<serde_json::Value> = bases
        .iter()
        .map(|b| {
            let text = std::fs::read_to_string(examples().join(format!("{b}.yaml"))).unwrap();
            values::parse_values(&text, b).unwrap()
        })
        .collect();
    (0..SPECS)
        .map(|i| {
            let mut tree = trees[i % trees.len()].clone();
            values::apply_set(&mut tree, &format!("target.name=app-{i}"), false).unwrap();
            values::apply_set(&mut tree, "runId=null", false).unwrap();
            if i % 2 == 0 {
                // ptrace runs as UID 0: the only UID Kubernetes grants added capabilities to.
                values::apply_set(&mut tree, "security.mode=ptrace", false).unwrap();
                values::apply_set(&mut tree, "security.runAsUser=null", false).unwrap();
            } else {
                values::apply_set(&mut tree, "security.mode=same-uid", false).unwrap();
                values::apply_set(
                    &mut tree,
                    &format!("security.runAsUser={}", 1000 + i),
                    false,
                )
                .unwrap();
            }
            let kube = if i % 3 == 2 {
                "1.27"
            } else if i % 3 == 1 {
                "1.20"
            } else {
                "1.33"
            };
            (
                values::spec_from_value(tree).unwrap(),
                KubeVersion::parse(kube).unwrap(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let generator = Generator::new().unwrap();
    let specs = specs();
    let base = examples();
    // Profile and threshold files read once (the specs share them); rendering only.
    let inputs: Vec<inputs::Inputs> = specs
        .iter()
        .map(|(spec, _)| inputs::load_inputs(spec, &base).unwrap())
        .collect();
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    group.bench_function("1000 specs, all documents, inputs preloaded", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for ((spec, kube), input) in specs.iter().zip(&inputs) {
                let ctx = context::build(spec, input, *kube).unwrap();
                let mut rendered = generator.render_kinds(None, &ctx).unwrap();
                rendered.extend(generator.render_kinds(Some(Kind::ScanPod), &ctx).unwrap());
                bytes += sidescan_gen::to_stream(&rendered).len();
            }
            black_box(bytes)
        })
    });
    group.bench_function(
        "1000 specs, all documents, reading profile and thresholds",
        |b| {
            b.iter(|| {
                let mut bytes = 0;
                for (spec, kube) in &specs {
                    let rendered =
                        sidescan_gen::generate(&generator, spec, &base, *kube, None).unwrap();
                    bytes += sidescan_gen::to_stream(&rendered).len();
                }
                black_box(bytes)
            })
        },
    );
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
