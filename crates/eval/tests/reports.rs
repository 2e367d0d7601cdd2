//! SARIF, Code Quality and diff through the binary: counts against `summary --format json`, the
//! same bytes from `summary` and `report`, the conformance corpus, builtin-style findings, `diff`
//! exit codes and `--base latest`, and (ignored; they need the tools) validation by Microsoft's
//! SARIF multitool and by check-jsonschema against GitLab's Code Quality schema.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::corpus;
use serde_json::{Value, json};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sidescan-eval"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn hdf(name: &str) -> String {
    corpus().join("hdf").join(name).display().to_string()
}

/// Bad input: exit 2, exactly one line on stderr naming `needle`, nothing on stdout, no panic.
fn assert_bad(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.contains(needle), "{err:?} does not name {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
}

/// The corpus files that parse (the others are the bad-input cases).
fn good_corpus() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus().join("hdf"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| sidescan_eval::hdf::parse(&std::fs::read(p).unwrap()).is_ok())
        .collect();
    out.sort();
    assert!(out.len() >= 15, "corpus too small: {out:?}");
    out
}

/// One finding as the builtin scanner writes it (crates/runner/src/agent/builtin/report.rs):
/// status, code_desc naming the path, message starting with it.
fn builtin_result(status: &str, code_desc: &str, message: Option<&str>, start: &str) -> Value {
    let mut r = json!({"status": status, "code_desc": code_desc, "run_time": 0.01,
                       "start_time": start});
    if let Some(m) = message {
        r[if status == "skipped" {
            "skip_message"
        } else {
            "message"
        }] = json!(m);
    }
    r
}

fn builtin_control(id: &str, title: &str, impact: f64, results: Vec<Value>) -> Value {
    json!({
        "id": id, "title": title, "desc": format!("Why {title}."),
        "descriptions": [
            {"label": "default", "data": format!("Why {title}.")},
            {"label": "check", "data": format!("How to check: {title}.")},
            {"label": "fix", "data": format!("How to fix: {title}.")},
        ],
        "impact": impact, "refs": [],
        "tags": {"nist": ["AC-6", "CM-6 b"], "cci": ["CCI-000366"],
                 "severity": sidescan_eval::hdf::severity_from_impact(impact)},
        "code": format!("# builtin check {id}"),
        "source_location": {"ref": "crates/runner/src/agent/builtin/controls.rs", "line": 10},
        "results": results,
    })
}

/// A builtin-style HDF with failed (path and path-less findings), passed, skipped and errored
/// controls. `world_writable` lists the world-writable paths found in this scan.
fn builtin_hdf(start: &str, world_writable: &[&str], root_process: bool) -> String {
    let ww: Vec<Value> = if world_writable.is_empty() {
        vec![builtin_result(
            "passed",
            "no world-writable entries outside temporary paths among 812 entries",
            None,
            start,
        )]
    } else {
        world_writable
            .iter()
            .map(|p| {
                builtin_result(
                    "failed",
                    &format!("file {p} is not world-writable"),
                    Some(&format!("{p} has mode 0666")),
                    start,
                )
            })
            .collect()
    };
    let proc_result = if root_process {
        builtin_result(
            "failed",
            "the target process runs with a non-zero effective uid",
            Some("process \"nginx\" runs as uid 0 (root)"),
            start,
        )
    } else {
        builtin_result(
            "passed",
            "the target process runs as uid 101 (not root)",
            None,
            start,
        )
    };
    let controls = vec![
        builtin_control(
            "SIDESCAN-FS-001",
            "Account files are owned by root and not writable by others",
            0.7,
            vec![
                builtin_result(
                    "failed",
                    "/etc/shadow is owned by root with mode 0640 or stricter",
                    Some("/etc/shadow: owner is uid 42, mode is 0644"),
                    start,
                ),
                builtin_result(
                    "passed",
                    "/etc/passwd is owned by root with mode 0644 or stricter",
                    None,
                    start,
                ),
                builtin_result(
                    "skipped",
                    "/etc/gshadow is owned by root with mode 0640 or stricter",
                    Some("/etc/gshadow does not exist in the target"),
                    start,
                ),
            ],
        ),
        builtin_control("SIDESCAN-FS-002", "No world-writable files", 0.5, ww),
        builtin_control(
            "SIDESCAN-FS-003",
            "No setuid or setgid files",
            0.5,
            vec![builtin_result(
                "failed",
                "/usr/bin/passwd has neither setuid nor setgid",
                Some("/usr/bin/passwd is setuid (mode 4755, owner 0:0)"),
                start,
            )],
        ),
        builtin_control(
            "SIDESCAN-PROC-001",
            "The target process is not root",
            0.5,
            vec![proc_result],
        ),
        builtin_control(
            "SIDESCAN-PROC-003",
            "The process cannot gain privileges",
            0.3,
            vec![builtin_result(
                "skipped",
                "NoNewPrivs is set",
                Some("no target process (directory scan)"),
                start,
            )],
        ),
        builtin_control(
            "SIDESCAN-KEY-001",
            "No private keys",
            0.9,
            vec![builtin_result(
                "error",
                "directory /var/lib/secret was walked",
                Some(
                    "/var/lib/secret could not be read: EACCES (Permission denied); what it holds is unknown",
                ),
                start,
            )],
        ),
    ];
    json!({
        "platform": {"name": "debian", "release": "12"},
        "profiles": [{
            "name": "sidescan-baseline", "version": "1.0.0", "title": "sidescan builtin container baseline",
            "summary": "s", "maintainer": "sidescan", "license": "Apache-2.0", "sha256": "0".repeat(64),
            "supports": [], "attributes": [], "groups": [], "status": "loaded",
            "controls": controls,
        }],
        "statistics": {"duration": 0.5},
        "version": "1.0.0",
    })
    .to_string()
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

fn metadata_json() -> String {
    json!({"run_id": "abc123", "namespace": "shop", "target": "web", "pod": "scan-web",
           "image": "nginx:1.27", "image_digest": "sha256:0123", "pid": 7,
           "identified_by": "container-id", "backend": "builtin", "versions": {},
           "started": "2026-11-26T15:20:45Z", "finished": "2026-11-26T15:20:46Z",
           "timings_ms": {}, "os_release": {}})
    .to_string()
}

fn sarif_of(input: &str) -> Value {
    serde_json::from_str(&ok(&["summary", "-i", input, "--format", "sarif"])).unwrap()
}

fn codequality_of(input: &str) -> Vec<Value> {
    serde_json::from_str(&ok(&["summary", "-i", input, "--format", "codequality"])).unwrap()
}

/// Counts of SARIF and Code Quality against `summary --format json` for one input.
fn check_counts(input: &str) -> (usize, usize) {
    let summary: Value =
        serde_json::from_str(&ok(&["summary", "-i", input, "--format", "json"])).unwrap();
    let totals = &summary["totals"];
    let s = sarif_of(input);
    let run = &s["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules.len() as u64,
        summary["controls"].as_u64().unwrap(),
        "{input}: rules"
    );
    let results = run["results"].as_array().unwrap();
    let failed_rules: BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed_rules.len() as u64,
        totals["failed"].as_u64().unwrap(),
        "{input}: failed"
    );
    let want_failed: BTreeSet<&str> = summary["failed_controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed_rules, want_failed, "{input}");
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(
        notes.len() as u64,
        totals["error"].as_u64().unwrap(),
        "{input}: errors"
    );
    assert_eq!(&run["properties"]["controls"], totals, "{input}");
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"], "{input}: ruleIndex");
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["region"]["startLine"], 1);
        let uri = loc["artifactLocation"]["uri"].as_str().unwrap();
        assert!(!uri.is_empty() && !uri.starts_with('/'), "{input}: {uri}");
        assert_eq!(
            r["partialFingerprints"]["sidescanFindingHash/v1"]
                .as_str()
                .unwrap()
                .len(),
            64
        );
    }
    let fps: HashSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["sidescanFindingHash/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(fps.len(), results.len(), "{input}: fingerprints not unique");

    let cq = codequality_of(input);
    assert_eq!(
        cq.len(),
        results.len(),
        "{input}: one issue per SARIF result"
    );
    let cq_checks: BTreeSet<&str> = cq
        .iter()
        .map(|i| i["check_name"].as_str().unwrap())
        .collect();
    assert_eq!(cq_checks, want_failed, "{input}");
    let cq_fps: HashSet<&str> = cq
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(cq_fps, fps, "{input}: the same findings and fingerprints");
    (results.len(), failed_rules.len())
}

#[test]
fn counts_match_the_summary_for_every_status() {
    // statuses.json has passed, failed, skipped, not applicable and errored controls.
    let (results, failed) = check_counts(&hdf("statuses.json"));
    assert_eq!(failed, 3);
    assert!(results >= failed);
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "builtin.json",
        &builtin_hdf(
            "2026-11-26T15:20:45Z",
            &["/srv/drop", "/opt/app/cache"],
            true,
        ),
    );
    let (results, failed) = check_counts(&input);
    // FS-001 (1 path), FS-002 (2 paths), FS-003 (1 path), PROC-001 (no path).
    assert_eq!((results, failed), (5, 4));
    let s = sarif_of(&input);
    let uris: Vec<&str> = s["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        uris,
        [
            "etc/shadow",
            "srv/drop",
            "opt/app/cache",
            "usr/bin/passwd",
            "hdf.json"
        ]
    );
}

#[test]
fn the_conformance_corpus_gives_consistent_sarif_and_codequality() {
    let mut total = 0;
    for path in good_corpus() {
        total += check_counts(&path.display().to_string()).0;
    }
    assert!(total > 100, "only {total} results across the corpus");
}

#[test]
fn summary_and_report_write_the_same_bytes_and_metadata_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "hdf.json",
        &builtin_hdf("t", &["/srv/drop"], false),
    );
    let meta = write(dir.path(), "metadata.json", &metadata_json());
    for format in ["sarif", "codequality"] {
        let a = ok(&[
            "summary",
            "-i",
            &input,
            "--format",
            format,
            "--metadata",
            &meta,
        ]);
        let b = ok(&[
            "report",
            "-i",
            &input,
            "--format",
            format,
            "--metadata",
            &meta,
        ]);
        assert_eq!(a, b, "{format}");
    }
    let s: Value = serde_json::from_str(&ok(&[
        "report", "-i", &input, "--format", "sarif", "-m", &meta,
    ]))
    .unwrap();
    let r = &s["runs"][0];
    assert_eq!(r["automationDetails"]["id"], "sidescan/shop/web/");
    assert_eq!(r["properties"]["image"], "nginx:1.27");
    assert_eq!(r["properties"]["imageDigest"], "sha256:0123");
    assert_eq!(r["properties"]["runId"], "abc123");
    assert_eq!(r["tool"]["driver"]["name"], "sidescan");
    assert_eq!(r["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));

    // Bad metadata: one line naming the file; missing metadata: the file.
    let bad = write(dir.path(), "bad-meta.json", r#"{"image": 5}"#);
    assert_bad(
        &run(&["summary", "-i", &input, "--format", "sarif", "-m", &bad]),
        "bad-meta.json: not a scan metadata.json: image",
    );
    assert_bad(
        &run(&[
            "report",
            "-i",
            &input,
            "--format",
            "sarif",
            "-m",
            "/nonexistent/m.json",
        ]),
        "/nonexistent/m.json: cannot read: no such file",
    );
    assert_bad(
        &run(&["report", "--audit", &input, "--format", "sarif"]),
        "--audit",
    );
}

#[test]
fn fingerprints_are_stable_across_scans_of_the_same_target() {
    let dir = tempfile::tempdir().unwrap();
    let first = write(
        dir.path(),
        "a.json",
        &builtin_hdf("2026-11-26T15:20:45Z", &["/srv/drop"], true),
    );
    let second = write(
        dir.path(),
        "b.json",
        &builtin_hdf("2026-11-27T03:00:00Z", &["/srv/drop"], true),
    );
    let fps = |p: &str| -> Vec<Value> {
        sarif_of(p)["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"].clone())
            .collect()
    };
    assert_eq!(fps(&first), fps(&second));
    assert_eq!(
        ok(&["summary", "-i", &first, "--format", "codequality"]),
        ok(&["summary", "-i", &second, "--format", "codequality"])
    );
}

// ---- diff ----

#[test]
fn diff_reports_changes_and_fail_on_new_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = write(d, "base.json", &builtin_hdf("t1", &["/srv/drop"], true));
    let same = write(d, "same.json", &builtin_hdf("t2", &["/srv/drop"], true));
    let worse = write(
        d,
        "worse.json",
        &builtin_hdf("t2", &["/srv/drop", "/opt/x"], true),
    );
    let better = write(d, "better.json", &builtin_hdf("t2", &[], false));

    let out = run(&["diff", "--base", &base, "--input", &same, "--fail-on-new"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("no changes"),
        "{}",
        text(&out.stdout)
    );

    let out = run(&["diff", "--base", &base, "--input", &worse]);
    assert_eq!(out.status.code(), Some(0), "without --fail-on-new: 0");
    let t = text(&out.stdout);
    assert!(t.contains("SIDESCAN-FS-002"), "{t}");
    assert!(t.contains("    + /opt/x\n"), "{t}");
    let out = run(&["diff", "--base", &base, "--input", &worse, "--fail-on-new"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let out = run(&[
        "diff",
        "-b",
        &base,
        "-i",
        &better,
        "--format",
        "json",
        "--fail-on-new",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["new_failures"], false);
    let ids = |k: &str| -> Vec<String> {
        j["diff"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("fixed"), ["SIDESCAN-FS-002", "SIDESCAN-PROC-001"]);
    assert!(ids("newly_failed").is_empty());

    // Reversed: the fixed controls fail again.
    let out = run(&[
        "diff",
        "-b",
        &better,
        "-i",
        &base,
        "--format",
        "markdown",
        "--fail-on-new",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let md = text(&out.stdout);
    assert!(
        md.starts_with("## ❌ Compliance changes: 2 newly failed, 0 fixed"),
        "{md}"
    );

    // The conformance corpus: a result against itself has no changes; two profiles differ.
    let rhel = hdf("rhel-8_hardened.json");
    let out = run(&[
        "diff",
        "-b",
        &rhel,
        "-i",
        &rhel,
        "--format",
        "json",
        "--fail-on-new",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["diff"]["findings"], json!([]));
    let out = run(&[
        "diff",
        "-b",
        &hdf("red_hat_good.json"),
        "-i",
        &rhel,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!j["diff"]["new_controls"].as_array().unwrap().is_empty());
    assert!(!j["diff"]["removed_controls"].as_array().unwrap().is_empty());
}

#[test]
fn diff_bad_inputs_are_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(d, "good.json", &builtin_hdf("t", &[], false));
    let not_hdf = write(d, "notes.json", r#"{"hello": "world"}"#);
    let missing = d.join("missing.json").display().to_string();
    assert_bad(
        &run(&["diff", "--base", &missing, "--input", &good]),
        "missing.json: cannot read: no such file",
    );
    assert_bad(
        &run(&["diff", "--base", &good, "--input", &missing]),
        "missing.json: cannot read: no such file",
    );
    assert_bad(
        &run(&["diff", "--base", &good, "--input", &not_hdf]),
        "notes.json: not an HDF result file",
    );
    assert_bad(
        &run(&["diff", "--base", "-", "--input", "-"]),
        "cannot both be - (stdin)",
    );
    assert_bad(&run(&["diff", "--input", &good]), "--base");
    assert_bad(
        &run(&["diff", "--base", "latest", "--input", &good]),
        "--base latest needs --input as the URL of a run's hdf.json",
    );
    let off_layout = format!("file://{good}");
    assert_bad(
        &run(&["diff", "--base", "latest", "--input", &off_layout]),
        "--base latest needs --input as the URL of a run's hdf.json",
    );
}

#[test]
fn diff_storage_failure_exits_3() {
    let out = bin()
        .args([
            "diff",
            "--base",
            "latest",
            "--input",
            "s3://bucket/scans/shop/web/20261126T152045Z-abc123/hdf.json",
        ])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("storage unreachable"), "{err}");
}

#[test]
fn diff_base_latest_picks_the_previous_run_with_results() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("scans/shop/web");
    let run_of = |folder: &str, ww: &[&str]| {
        write(
            &target,
            &format!("{folder}/hdf.json"),
            &builtin_hdf(folder, ww, true),
        )
    };
    run_of("20261120T000000Z-aaaaaa", &[]);
    run_of("20261125T120000Z-bbbbbb", &["/srv/drop"]);
    // A later run that never finished (no hdf.json), another target's folder name, and a run
    // after the new one: none of them is the base.
    std::fs::create_dir_all(target.join("20261126T000000Z-cccccc")).unwrap();
    std::fs::write(target.join("20261126T000000Z-cccccc/metadata.json"), "{}").unwrap();
    std::fs::create_dir_all(target.join("not-a-run")).unwrap();
    run_of("20261130T000000Z-eeeeee", &[]);
    let new = run_of("20261127T000000Z-dddddd", &["/srv/drop", "/opt/x"]);
    let new_url = format!("file://{new}");
    let out = run(&[
        "diff",
        "--base",
        "latest",
        "--input",
        &new_url,
        "--format",
        "json",
        "--fail-on-new",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let base = j["base"].as_str().unwrap();
    assert!(
        base.ends_with("/scans/shop/web/20261125T120000Z-bbbbbb/hdf.json"),
        "{base}"
    );
    assert!(base.starts_with("file:///"), "{base}");
    let err = text(&out.stderr);
    assert!(
        err.contains("--base latest:") && err.contains("2 hdf.json probes"),
        "{err}"
    );
    let fs2 = j["diff"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["control"]["id"] == "SIDESCAN-FS-002")
        .unwrap();
    assert_eq!(fs2["added"], json!([{"kind": "path", "value": "/opt/x"}]));

    // The first run has nothing before it.
    let first = format!(
        "file://{}",
        target.join("20261120T000000Z-aaaaaa/hdf.json").display()
    );
    assert_bad(
        &run(&["diff", "--base", "latest", "--input", &first]),
        "no earlier run of shop/web with a hdf.json",
    );
}

// ---- external validators (ignored: they need the tools installed) ----

/// SARIF of every parseable corpus file, a builtin-style result with and without metadata.
fn sarif_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in good_corpus() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let out = ok(&[
            "summary",
            "-i",
            &path.display().to_string(),
            "--format",
            "sarif",
        ]);
        files.push(PathBuf::from(write(dir, &format!("{name}.sarif"), &out)));
    }
    let builtin = write(
        dir,
        "builtin.json",
        &builtin_hdf("t", &["/srv/my data", "/opt/x"], true),
    );
    let meta = write(dir, "metadata.json", &metadata_json());
    let out = ok(&["report", "-i", &builtin, "--format", "sarif", "-m", &meta]);
    files.push(PathBuf::from(write(dir, "builtin.sarif", &out)));
    let out = ok(&["summary", "-i", &builtin, "--format", "sarif"]);
    files.push(PathBuf::from(write(dir, "builtin-nometa.sarif", &out)));
    files
}

#[test]
#[ignore = "needs Microsoft's SARIF multitool: SIDESCAN_SARIF_MULTITOOL=\"$(scripts/install-sarif-multitool)\""]
fn sarif_passes_the_multitool_with_github_rules() {
    let tool = std::env::var("SIDESCAN_SARIF_MULTITOOL")
        .expect("SIDESCAN_SARIF_MULTITOOL not set: run scripts/install-sarif-multitool");
    let dir = tempfile::tempdir().unwrap();
    let files = sarif_files(dir.path());
    let log = dir.path().join("validation.sarif");
    let out = Command::new(&tool)
        .arg("validate")
        .args(["--rule-kind", "Sarif;Gh"])
        .arg("--output")
        .arg(&log)
        .args(&files)
        .output()
        .unwrap();
    let console = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "multitool failed:\n{console}");
    assert!(
        console.contains(&format!("Done. {} files scanned.", files.len())),
        "{console}"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let run = &v["runs"][0];
    // The rules did run: the validator's own invocation succeeded.
    assert_eq!(
        run["invocations"][0]["executionSuccessful"], true,
        "{console}"
    );
    let problems: Vec<String> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        // A result without a level is a warning (SARIF's default).
        .filter(|r| {
            matches!(
                r["level"].as_str().unwrap_or("warning"),
                "error" | "warning"
            )
        })
        .map(|r| format!("{} {}: {}", r["level"], r["ruleId"], r["message"]["text"]))
        .collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // The check can fail: a result without a location breaks GitHub's rules.
    let mut broken: Value =
        serde_json::from_slice(&std::fs::read(files.last().unwrap()).unwrap()).unwrap();
    broken["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("locations");
    let bad = write(dir.path(), "broken.sarif", &broken.to_string());
    let log = dir.path().join("broken-validation.sarif");
    let out = Command::new(&tool)
        .args(["validate", "--rule-kind", "Sarif;Gh", "--output"])
        .arg(&log)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
    let rules: BTreeSet<&str> = v["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["level"] == "error")
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert!(rules.contains("GH1015"), "{rules:?}");
}

#[test]
#[ignore = "needs check-jsonschema: SIDESCAN_CHECK_JSONSCHEMA=\"$(scripts/install-check-jsonschema)\""]
fn codequality_passes_gitlabs_schema() {
    let tool = std::env::var("SIDESCAN_CHECK_JSONSCHEMA")
        .expect("SIDESCAN_CHECK_JSONSCHEMA not set: run scripts/install-check-jsonschema");
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/schemas/gitlab-codequality/report.schema.json");
    assert!(schema.is_file(), "{}", schema.display());
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for path in good_corpus() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let out = ok(&[
            "summary",
            "-i",
            &path.display().to_string(),
            "--format",
            "codequality",
        ]);
        files.push(write(dir.path(), &format!("{name}.cq.json"), &out));
    }
    let builtin = write(
        dir.path(),
        "builtin.json",
        &builtin_hdf("t", &["/srv/my data"], true),
    );
    let out = ok(&["report", "-i", &builtin, "--format", "codequality"]);
    files.push(write(dir.path(), "builtin.cq.json", &out));
    let out = Command::new(&tool)
        .arg("--schemafile")
        .arg(&schema)
        .args(&files)
        .output()
        .unwrap();
    let console = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{console}");
    assert!(console.contains("ok -- validation done"), "{console}");

    // The check can fail: an unknown severity and an absolute path are rejected.
    let mut issues: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&files[files.len() - 1]).unwrap()).unwrap();
    issues[0]["severity"] = json!("high");
    issues[0]["location"]["path"] = json!("/srv/my data");
    let bad = write(dir.path(), "bad.cq.json", &Value::Array(issues).to_string());
    let out = Command::new(&tool)
        .arg("--schemafile")
        .arg(&schema)
        .arg(&bad)
        .output()
        .unwrap();
    let console = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{console}");
    assert!(
        console.contains("severity") && console.contains("location.path"),
        "{console}"
    );
}
