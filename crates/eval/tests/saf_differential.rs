//! Differential test against the real SAF CLI (`saf validate threshold`, @mitre/saf 1.5.3).
//!
//! Random threshold files (proptest strategies, fixed seed) over the corpus' HDF files; the same
//! file goes to SAF and to us; verdicts and first messages must agree. SAF takes about 2 s of CPU
//! per process start, so every case runs through SAF's own command code in one Node.js process
//! (`scripts/saf-batch.js`: oclif's `run` with the same arguments the `saf` launcher passes), and a
//! sample of the cases also runs through the `saf` executable itself to prove that both paths give
//! the same verdicts. The default of 400 cases takes well under a minute.
//!
//! Only thresholds where SAF is not knowingly wrong are generated: no `compliance.max: 0`, no
//! `no_impact.total.min|max`, numbers only, no empty or duplicated id lists, and flattened or
//! inline files never set two keys under one `status.severity` prefix (SAF keeps only the last).
//! Results whose reading SAF gets wrong (statuses.json, sevnone.json, two_indep2/3.json) are read
//! with SAF-compatible semantics: that difference is documented and tested in conformance.rs.
//!
//! Run: `SIDESCAN_SAF_BIN="$(scripts/install-saf)" cargo test -p sidescan-eval --test
//! saf_differential -- --ignored`. Knobs: SIDESCAN_SAF_DIFF_CASES (400), SIDESCAN_SAF_DIFF_SEED,
//! SIDESCAN_SAF_DIFF_PROCESS_SAMPLES (6: cases also run through the `saf` executable).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use sidescan_eval::summary::{Summary, summarize};
use sidescan_eval::{Semantics, Status, hdf, threshold, validate};

/// HDF files SAF reads, and whether their reading is a documented difference.
const FILES: &[(&str, Semantics)] = &[
    ("RHEL7_overrides_hdf.json", Semantics::Sidescan),
    ("dup_ids.json", Semantics::Sidescan),
    ("empty_bt.json", Semantics::Sidescan),
    ("minimal_hdf.json", Semantics::Sidescan),
    ("onlyna.json", Semantics::Sidescan),
    ("overlay.json", Semantics::Sidescan),
    ("overlay_reversed.json", Semantics::Sidescan),
    ("red_hat_good.json", Semantics::Sidescan),
    ("rhel-8_hardened.json", Semantics::Sidescan),
    ("round.json", Semantics::Sidescan),
    ("sevnone.json", Semantics::SafCompat),
    ("statuses.json", Semantics::SafCompat),
    ("triple_overlay_profile_example.json", Semantics::Sidescan),
    ("triple_overlay_profile_sample.json", Semantics::Sidescan),
    ("two_indep2.json", Semantics::SafCompat),
    ("two_indep3.json", Semantics::SafCompat),
    ("two_independent.json", Semantics::Sidescan),
    ("zero.json", Semantics::Sidescan),
];

const STATUSES: [Status; 5] = Status::THRESHOLD_ORDER;
const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// Every key SAF checks (and is right about), as (key, kind).
fn keys() -> Vec<(String, Kind)> {
    let mut k = vec![
        ("compliance.min".to_string(), Kind::Compliance),
        ("compliance.max".to_string(), Kind::Compliance),
    ];
    for s in STATUSES {
        k.push((format!("{}.total", s.key()), Kind::Total(s)));
        if s != Status::NotApplicable {
            k.push((format!("{}.total.min", s.key()), Kind::Total(s)));
            k.push((format!("{}.total.max", s.key()), Kind::Total(s)));
        }
    }
    let mut buckets: Vec<(Status, &str)> = Vec::new();
    for sev in SEVERITIES {
        for s in STATUSES {
            buckets.push((s, sev));
        }
    }
    buckets.push((Status::NotApplicable, "none"));
    for (s, sev) in buckets {
        for bound in ["min", "max"] {
            k.push((format!("{}.{sev}.{bound}", s.key()), Kind::Bucket(s, sev)));
        }
        k.push((format!("{}.{sev}.controls", s.key()), Kind::Ids(s, sev)));
    }
    k
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Compliance,
    Total(Status),
    Bucket(Status, &'static str),
    Ids(Status, &'static str),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    NestedYaml,
    NestedJson,
    FlatYaml,
    Inline,
}

/// Random choices; turned into a threshold file against one file's actual counts.
#[derive(Clone, Debug)]
struct Choices {
    file: usize,
    form: Form,
    /// (key index, delta from the actual count, add a half, id-list mutation)
    picks: Vec<(usize, i64, bool, u8)>,
}

fn choices(nkeys: usize) -> impl Strategy<Value = Choices> {
    (
        0..FILES.len(),
        prop_oneof![
            3 => Just(Form::NestedYaml),
            1 => Just(Form::NestedJson),
            2 => Just(Form::FlatYaml),
            1 => Just(Form::Inline),
        ],
        prop::collection::vec(
            (
                0..nkeys,
                prop_oneof![2 => Just(0i64), 2 => -2i64..=2],
                prop::bool::weighted(0.15),
                0u8..4,
            ),
            1..6,
        ),
    )
        .prop_map(|(file, form, picks)| Choices { file, form, picks })
}

enum Value {
    Number(f64),
    Ids(Vec<String>),
}

struct Case {
    file: usize,
    form: Form,
    entries: Vec<(String, Value)>,
}

fn build(c: &Choices, summary: &Summary, keys: &[(String, Kind)]) -> Case {
    let mut entries: Vec<(String, Value)> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    for &(ki, delta, half, mutation) in &c.picks {
        let (key, kind) = &keys[ki];
        let flat_like = matches!(c.form, Form::FlatYaml | Form::Inline);
        if matches!(kind, Kind::Ids(..)) && flat_like {
            continue; // flattened and inline files hold numbers only
        }
        let prefix: String = key.split('.').take(2).collect::<Vec<_>>().join(".");
        if entries.iter().any(|(k, _)| k == key)
            || (flat_like && prefixes.contains(&prefix))
            || conflicts_nested(key, &entries)
        {
            continue;
        }
        let half = half && c.form != Form::Inline; // SAF's parseInt truncates inline numbers
        let number = |actual: u64, scale: i64| {
            let v = actual as f64 + (delta * scale) as f64 + if half { 0.5 } else { 0.0 };
            Value::Number(v)
        };
        let value = match *kind {
            Kind::Compliance => {
                let v = number(summary.compliance, 3);
                match v {
                    // compliance.max: 0 is never enforced by SAF (documented difference).
                    Value::Number(n) if n == 0.0 && key.ends_with("max") => Value::Number(1.0),
                    v => v,
                }
            }
            Kind::Total(s) => number(summary.totals.get(s), 1),
            Kind::Bucket(s, sev) => number(summary.severities.get(sev).unwrap().get(s), 1),
            Kind::Ids(s, sev) => {
                let mut ids: Vec<String> = summary
                    .control_ids(s, sev)
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                ids.dedup();
                match mutation {
                    1 if ids.len() > 1 => {
                        ids.pop();
                    }
                    2 => ids.push("zz-not-a-control".to_string()),
                    3 => ids.reverse(),
                    _ => {}
                }
                if ids.is_empty() {
                    // An empty list is a documented difference; ask for a missing control instead.
                    ids.push("zz-not-a-control".to_string());
                }
                Value::Ids(ids)
            }
        };
        prefixes.push(prefix);
        entries.push((key.clone(), value));
    }
    if entries.is_empty() {
        entries.push((
            "compliance.min".to_string(),
            Value::Number(summary.compliance as f64),
        ));
    }
    Case {
        file: c.file,
        form: c.form,
        entries,
    }
}

/// `x.total` (a scalar) and `x.total.min` cannot both exist in a nested file.
fn conflicts_nested(key: &str, entries: &[(String, Value)]) -> bool {
    entries
        .iter()
        .any(|(k, _)| k.starts_with(&format!("{key}.")) || key.starts_with(&format!("{k}.")))
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn render(case: &Case) -> String {
    match case.form {
        Form::FlatYaml => case
            .entries
            .iter()
            .map(|(k, v)| match v {
                Value::Number(n) => format!("{k}: {}\n", number_text(*n)),
                Value::Ids(_) => unreachable!(),
            })
            .collect(),
        Form::Inline => case
            .entries
            .iter()
            .map(|(k, v)| match v {
                Value::Number(n) => format!("{{{k}: {}}}", number_text(*n)),
                Value::Ids(_) => unreachable!(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Form::NestedJson => {
            let mut root = serde_json::Map::new();
            for (k, v) in &case.entries {
                let parts: Vec<&str> = k.split('.').collect();
                let mut at = &mut root;
                for p in &parts[..parts.len() - 1] {
                    at = at
                        .entry(p.to_string())
                        .or_insert_with(|| serde_json::json!({}))
                        .as_object_mut()
                        .unwrap();
                }
                let leaf = match v {
                    Value::Number(n) => serde_json::json!(n),
                    Value::Ids(ids) => serde_json::json!(ids),
                };
                at.insert(parts[parts.len() - 1].to_string(), leaf);
            }
            serde_json::to_string_pretty(&root).unwrap()
        }
        Form::NestedYaml => {
            // Group by first, then second segment, keeping first-seen order.
            let mut out = String::new();
            let mut firsts: Vec<&str> = Vec::new();
            for (k, _) in &case.entries {
                let f = k.split('.').next().unwrap();
                if !firsts.contains(&f) {
                    firsts.push(f);
                }
            }
            for f in firsts {
                out.push_str(&format!("{f}:\n"));
                let mut seconds: Vec<&str> = Vec::new();
                for (k, _) in case
                    .entries
                    .iter()
                    .filter(|(k, _)| k.split('.').next() == Some(f))
                {
                    let s = k.split('.').nth(1).unwrap();
                    if !seconds.contains(&s) {
                        seconds.push(s);
                    }
                }
                for s in seconds {
                    for (k, v) in &case.entries {
                        let parts: Vec<&str> = k.split('.').collect();
                        if parts[0] != f || parts[1] != s || parts.len() != 2 {
                            continue;
                        }
                        if let Value::Number(n) = v {
                            out.push_str(&format!("  {s}: {}\n", number_text(*n)));
                        }
                    }
                    let thirds: Vec<_> = case
                        .entries
                        .iter()
                        .filter(|(k, _)| {
                            let p: Vec<&str> = k.split('.').collect();
                            p.len() == 3 && p[0] == f && p[1] == s
                        })
                        .collect();
                    if thirds.is_empty() {
                        continue;
                    }
                    out.push_str(&format!("  {s}:\n"));
                    for (k, v) in thirds {
                        let t = k.split('.').nth(2).unwrap();
                        match v {
                            Value::Number(n) => {
                                out.push_str(&format!("    {t}: {}\n", number_text(*n)))
                            }
                            Value::Ids(ids) => {
                                out.push_str(&format!("    {t}:\n"));
                                for id in ids {
                                    out.push_str(&format!("      - {}\n", serde_json::json!(id)));
                                }
                            }
                        }
                    }
                }
            }
            out
        }
    }
}

fn saf_bin() -> PathBuf {
    let bin = std::env::var_os("SIDESCAN_SAF_BIN").expect(
        "SIDESCAN_SAF_BIN is not set: run `export SIDESCAN_SAF_BIN=\"$(scripts/install-saf)\"`",
    );
    let bin = PathBuf::from(bin);
    assert!(
        bin.is_file(),
        "SIDESCAN_SAF_BIN={} does not exist",
        bin.display()
    );
    bin
}

/// The `saf` arguments for one case.
fn saf_args(hdf: &Path, case: &Case, file: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["validate".into(), "threshold".into(), "-i".into()];
    args.push(hdf.display().to_string());
    if case.form == Form::Inline {
        args.push("-I".into());
        args.push(render(case));
    } else {
        args.push("-T".into());
        args.push(file.display().to_string());
    }
    args
}

/// SAF's verdict: `PASS` or `FAIL <first Error: line>`; anything else is reported as is.
fn verdict(code: Option<i32>, stdout: &str, stderr: &str) -> String {
    let error = stderr.lines().find(|l| l.starts_with("Error: "));
    match (code, error) {
        (Some(0), None) if stdout.contains("All validation tests passed") => "PASS".to_string(),
        (Some(1), Some(line)) => format!("FAIL {line}"),
        (code, _) => format!("UNEXPECTED rc={code:?} stdout={stdout:?} stderr={stderr:?}"),
    }
}

/// The verdict of the `saf` executable itself (one process per case).
fn run_saf_process(bin: &Path, args: &[String]) -> String {
    let out = Command::new(bin)
        // No background npm registry query for a newer SAF version on every call.
        .env("SAF_SKIP_NEW_VERSION_CHECK", "true")
        .args(args)
        .output()
        .expect("cannot run the SAF CLI");
    verdict(
        out.status.code(),
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    )
}

/// The verdicts of SAF's own command code for every case, in one Node.js process.
fn run_saf_batch(bin: &Path, cases: &[Vec<String>], dir: &Path) -> Vec<String> {
    // `.bin/saf` links to `@mitre/saf/bin/run`: the package is two levels up from the target.
    let package = std::fs::canonicalize(bin)
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
        .parent()
        .and_then(Path::parent)
        .expect("SAF package directory")
        .to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/saf-batch.js");
    let input = dir.join("saf-cases.json");
    let output = dir.join("saf-verdicts.json");
    let list: Vec<serde_json::Value> = cases
        .iter()
        .map(|argv| serde_json::json!({ "argv": argv }))
        .collect();
    std::fs::write(&input, serde_json::to_vec(&list).unwrap()).unwrap();
    let status = Command::new("node")
        .arg(&script)
        .arg(&package)
        .arg(&input)
        .arg(&output)
        .status()
        .expect("node not found (the SAF CLI needs it)");
    assert!(status.success(), "scripts/saf-batch.js failed: {status}");
    let results: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(results.len(), cases.len(), "one verdict per case");
    results
        .iter()
        .map(|r| {
            verdict(
                r["exit"].as_i64().map(|c| c as i32),
                r["stdout"].as_str().unwrap_or_default(),
                r["stderr"].as_str().unwrap_or_default(),
            )
        })
        .collect()
}

fn ours(summary: &Summary, case: &Case, file: &Path) -> String {
    let t = match case.form {
        Form::Inline => threshold::parse_inline(&render(case)),
        _ => threshold::parse_threshold(&std::fs::read_to_string(file).unwrap(), "t"),
    };
    match t {
        Err(e) => format!("ERR {e}"),
        Ok(t) => {
            assert!(
                t.unknown_keys.is_empty(),
                "generated unknown keys {:?}",
                t.unknown_keys
            );
            match validate::validate(summary, &t).first_message() {
                None => "PASS".to_string(),
                Some(m) => format!("FAIL Error: {m}"),
            }
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

#[test]
#[ignore = "needs the SAF CLI: export SIDESCAN_SAF_BIN=\"$(scripts/install-saf)\""]
fn verdicts_agree_with_saf_on_random_thresholds() {
    let bin = saf_bin();
    let corpus = common::corpus();
    let cases_wanted = env_number("SIDESCAN_SAF_DIFF_CASES", 400) as usize;
    let seed = env_number("SIDESCAN_SAF_DIFF_SEED", 0x5AF153);
    let process_samples = env_number("SIDESCAN_SAF_DIFF_PROCESS_SAMPLES", 6) as usize;

    let summaries: Vec<Summary> = FILES
        .iter()
        .map(|(f, semantics)| {
            let path = corpus.join("hdf").join(f);
            let h = hdf::parse_with(&std::fs::read(&path).unwrap(), f, *semantics).unwrap();
            if *semantics == Semantics::Sidescan {
                // These files read the same either way, so the default semantics is what's tested.
                let compat =
                    hdf::parse_with(&std::fs::read(&path).unwrap(), f, Semantics::SafCompat)
                        .unwrap();
                assert_eq!(summarize(&h), summarize(&compat), "{f}");
            }
            summarize(&h)
        })
        .collect();

    let keys = keys();
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = choices(keys.len());
    let cases: Vec<Case> = (0..cases_wanted)
        .map(|_| {
            let c = strategy.new_tree(&mut runner).unwrap().current();
            build(&c, &summaries[c.file], &keys)
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let ext = if case.form == Form::NestedJson {
                "json"
            } else {
                "yml"
            };
            let p = dir.path().join(format!("case-{i:04}.{ext}"));
            std::fs::write(&p, render(case)).unwrap();
            p
        })
        .collect();

    let argvs: Vec<Vec<String>> = cases
        .iter()
        .zip(&paths)
        .map(|(case, path)| saf_args(&corpus.join("hdf").join(FILES[case.file].0), case, path))
        .collect();
    let started = std::time::Instant::now();
    let saf = run_saf_batch(&bin, &argvs, dir.path());
    eprintln!(
        "SAF's command code: {} cases in {:?}",
        cases.len(),
        started.elapsed()
    );

    // The in-process runs must be what the `saf` executable says: a spread-out sample, both ways.
    let step = (cases.len() / process_samples.max(1)).max(1);
    for i in (0..cases.len()).step_by(step).take(process_samples) {
        let direct = run_saf_process(&bin, &argvs[i]);
        assert_eq!(
            direct, saf[i],
            "case {i}: the saf executable and SAF's command code in one process disagree"
        );
    }

    let mut mismatches = Vec::new();
    let (mut passes, mut fails) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let theirs = saf[i].clone();
        let mine = ours(&summaries[case.file], case, &paths[i]);
        if theirs == "PASS" {
            passes += 1;
        } else {
            fails += 1;
        }
        if theirs != mine {
            mismatches.push(format!(
                "case {i} on {} ({:?}):\n{}\n  SAF:  {theirs}\n  ours: {mine}",
                FILES[case.file].0,
                case.form,
                render(case)
            ));
        }
    }
    eprintln!(
        "{} cases (seed {seed:#x}): SAF passed {passes}, failed {fails}; {} mismatches",
        cases.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {} verdicts differ from SAF:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    // Both outcomes must be well represented or the comparison proves little.
    assert!(
        passes * 10 >= cases.len() && fails * 10 >= cases.len(),
        "passes {passes}, fails {fails}"
    );
}
