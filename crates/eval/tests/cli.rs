//! The `sidescan-eval` binary: exit codes, one-line errors on bad input, output formats.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::corpus;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sidescan-eval"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn hdf(name: &str) -> String {
    corpus().join("hdf").join(name).display().to_string()
}

fn thr(name: &str) -> String {
    corpus().join("thresholds").join(name).display().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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

fn write(dir: &Path, name: &str, body: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

const GOOD: &str = "{compliance.min: 0}";

#[test]
fn bad_hdf_inputs_are_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let minimal = std::fs::read(corpus().join("hdf/minimal_hdf.json")).unwrap();
    let wrong_type = String::from_utf8(minimal.clone())
        .unwrap()
        .replacen("\"impact\":0.7", "\"impact\":\"high\"", 1)
        .replacen("\"impact\": 0.7", "\"impact\": \"high\"", 1);
    assert!(wrong_type.contains("\"high\""), "fixture did not change");
    let missing = d.join("missing.json").display().to_string();
    let cases: Vec<(String, &str)> = vec![
        (missing.clone(), "missing.json: cannot read: no such file"),
        (write(d, "empty.json", b""), "empty.json: empty input"),
        (
            write(d, "text.json", b"not json at all"),
            "text.json: not valid JSON",
        ),
        (write(d, "obj.json", b"{}"), "not an HDF result file"),
        (write(d, "arr.json", b"[]"), "not an HDF result file"),
        (
            hdf("profilejson.json"),
            "profilejson.json: not an HDF result file",
        ),
        (
            write(d, "trunc.json", &minimal[..minimal.len() / 2]),
            "trunc.json: not valid JSON",
        ),
        (write(d, "wrong.json", wrong_type.as_bytes()), "impact"),
        (hdf("noprofiles.json"), "profiles"),
        (hdf("noimpact.json"), "impact"),
    ];
    for (input, needle) in &cases {
        for args in [
            vec!["validate", "--input", input, "--inline", GOOD],
            vec!["summary", "--input", input],
            vec!["generate", "--input", input],
        ] {
            assert_bad(&run(&args), needle);
        }
    }
}

#[test]
fn parent_profile_cycle_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(corpus().join("hdf/overlay.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["profiles"][0]["parent_profile"] = "base".into(); // base's parent is wrapper already
    let p = write(dir.path(), "cycle.json", v.to_string().as_bytes());
    assert_bad(
        &run(&["summary", "--input", &p]),
        r#"parent_profile cycle: "wrapper" -> "base" -> "wrapper""#,
    );
}

#[test]
fn bad_threshold_files_are_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = hdf("statuses.json");
    for (file, needle) in [
        (write(d, "empty.yml", b""), "empty.yml: empty input"),
        (write(d, "comments.yml", b"# nothing\n"), "empty input"),
        (
            thr("edge_strmin.yml"),
            "failed.total.min: expected a number",
        ),
        (
            thr("edge_nullmax.yml"),
            "failed.total.max: expected a number, got null",
        ),
        (
            write(d, "nan.yml", b"compliance:\n  min: abc\n"),
            "compliance.min: expected a number",
        ),
        (
            write(d, "broken.yml", b"compliance: [\n"),
            "broken.yml: not valid YAML or JSON",
        ),
        (thr("edge_list.yml"), "expected a mapping"),
        (
            d.join("nope.yml").display().to_string(),
            "nope.yml: cannot read: no such file",
        ),
        (
            write(d, "ids.yml", b"failed:\n  high:\n    controls: c01\n"),
            "failed.high.controls: expected a list",
        ),
    ] {
        assert_bad(
            &run(&["validate", "--input", &input, "--threshold", &file]),
            needle,
        );
    }
    assert_bad(
        &run(&[
            "validate",
            "--input",
            &input,
            "--inline",
            "{compliance.min: lots}",
        ]),
        "compliance.min: expected a number",
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = run(&["validate", "--input", &hdf("statuses.json")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--threshold"), "{err}");
    assert_bad(
        &run(&["validate", "--input", "-", "--threshold", "-"]),
        "cannot both be - (stdin)",
    );
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).lines().count(), 1);
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn verdicts_and_saf_wording() {
    let out = run(&[
        "validate",
        "-i",
        &hdf("triple_overlay_profile_example.json"),
        "-T",
        &thr("triple_overlay_profile_example.json.counts.good.yml"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "All validation tests passed\n");

    let out = run(&[
        "validate",
        "-i",
        &hdf("triple_overlay_profile_example.json"),
        "-T",
        &thr("triple_overlay_profile_example.json.counts.bad.total.yml"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).lines().next().unwrap(),
        "Error: failed.total: Threshold not met. Number of received total failed controls (55) is not equal to your set threshold for the number of failed controls (54)"
    );
}

#[test]
fn json_verdict_lists_every_violation() {
    let out = run(&[
        "validate",
        "-i",
        &hdf("rhel-8_hardened.json"),
        "-I",
        "{compliance.min: 90}, {failed.total.max: 1}",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["compliance"], 66);
    assert_eq!(v["violations"].as_array().unwrap().len(), 2);
    assert_eq!(v["violations"][1]["key"], "failed.total.max");
    assert_eq!(v["summary"]["totals"]["failed"], 112);
}

#[test]
fn unknown_keys_warn_and_strict_rejects_them() {
    let args = [
        "validate",
        "-i",
        &hdf("round.json"),
        "-T",
        &thr("edge_unknown.yml"),
    ];
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("warning: ") && text(&out.stderr).contains("foo.bar"));
    let mut strict = args.to_vec();
    strict.push("--strict");
    assert_bad(&run(&strict), "foo.bar: unknown threshold key");
}

#[test]
fn generate_writes_saf_identical_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("t.yml");
    let out = run(&[
        "generate",
        "-i",
        &hdf("rhel-8_hardened.json"),
        "--exact",
        "--control-ids",
        "--output",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let want =
        std::fs::read(corpus().join("expected/generate/rhel-8_hardened.exact_ids.yml")).unwrap();
    assert_eq!(std::fs::read(&out_file).unwrap(), want);
    // And what it generates validates.
    let out = run(&[
        "validate",
        "-i",
        &hdf("rhel-8_hardened.json"),
        "-T",
        out_file.to_str().unwrap(),
        "--strict",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn stdin_and_file_urls() {
    let path = corpus().join("hdf/round.json");
    let mut child = bin()
        .args(["summary", "--input", "-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&path).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["compliance"], 13);

    let abs: PathBuf = std::fs::canonicalize(&path).unwrap();
    let url = format!("file://{}", abs.display());
    let out = run(&["summary", "--input", &url, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_bad(
        &run(&["summary", "--input", "file:///nonexistent/hdf.json"]),
        "file:///nonexistent/hdf.json: no such object",
    );
    assert_bad(
        &run(&["summary", "--input", "ftp://x/y"]),
        "unsupported URL scheme",
    );
}

#[test]
fn unreachable_object_store_exits_3() {
    let out = bin()
        .args(["summary", "--input", "s3://bucket/results/hdf.json"])
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
    assert!(
        err.contains("s3://bucket/results/hdf.json: storage unreachable"),
        "{err}"
    );
}

#[test]
fn summary_formats() {
    let input = hdf("statuses.json");
    let md = text(&run(&["summary", "-i", &input, "--format", "markdown"]).stdout);
    assert!(md.starts_with("## ❌ Compliance: 45%"), "{md}");
    assert!(md.contains("| Failed | 3 | 1 | 0 | 2 | 0 | 0 |"), "{md}");
    assert!(md.contains("`c15`"), "{md}");

    let out = run(&["summary", "-i", &input, "--format", "junit"]);
    assert_eq!(out.status.code(), Some(0));
    let xml = text(&out.stdout);
    assert_eq!(xml.matches("<testcase ").count(), 24);
    assert_eq!(xml.matches("<failure ").count(), 3);
    assert_eq!(xml.matches("<skipped ").count(), 2 + 4);
    assert_eq!(xml.matches("<error ").count(), 6);
    assert!(
        xml.contains("tests=\"24\" failures=\"3\" errors=\"6\" skipped=\"6\""),
        "{xml}"
    );

    let t = text(&run(&["summary", "-i", &input]).stdout);
    assert!(t.contains("compliance: 45%"), "{t}");
}

#[test]
#[ignore = "needs S3: eval \"$(scripts/dev-s3 env)\" after scripts/dev-s3 up"]
fn reads_results_from_s3() {
    use object_store::{ObjectStoreExt, PutPayload, aws::AmazonS3Builder, path::Path};
    let bucket = std::env::var("SIDESCAN_S3_BUCKET")
        .expect("SIDESCAN_S3_BUCKET not set: eval \"$(scripts/dev-s3 env)\"");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL not set");
    let store = AmazonS3Builder::from_env()
        .with_bucket_name(&bucket)
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .build()
        .unwrap();
    let key = format!("eval-test/{}/hdf.json", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = std::fs::read(corpus().join("hdf/rhel-8_hardened.json")).unwrap();
    rt.block_on(store.put(&Path::from(key.as_str()), PutPayload::from(body)))
        .unwrap();
    let url = format!("s3://{bucket}/{key}");
    let out = run(&[
        "validate",
        "-i",
        &url,
        "-I",
        "{compliance.min: 66}, {failed.total.max: 112}",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["validate", "-i", &url, "-I", "{failed.total.max: 111}"]);
    assert_eq!(out.status.code(), Some(1));
    rt.block_on(store.delete(&Path::from(key.as_str())))
        .unwrap();
    assert_bad(
        &run(&[
            "summary",
            "-i",
            &format!("s3://{bucket}/eval-test/none/hdf.json"),
        ]),
        "no such object",
    );
}

#[test]
fn report_renders_one_result_as_a_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--input",
        &hdf("minimal_hdf.json"),
        "--threshold",
        &thr("edge_c_max0.yml"),
        "--output",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&out_file).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<tbody class=\"target\"").count(), 1);
    assert!(!page.contains("src=") && !page.contains("href="));
    assert_bad(&run(&["report", "--format", "html"]), "--input");
}

#[test]
fn report_combines_audits_and_reads_failed_controls_from_progress_records() {
    use sidescan_core::audit::record::{AuditRecord, ProgressRecord};
    let dir = tempfile::tempdir().unwrap();
    let target = serde_json::json!({
        "id": "shop/deployment.web.app", "namespace": "shop", "kind": "Deployment",
        "workload": "web", "container": "app", "image": "web:1", "verdict": "failed",
        "compliance": 50, "attempts": 1, "duration_ms": 1200,
        "failed_by_severity": {"critical": 0, "high": 1, "medium": 0, "low": 0},
        "violations": ["Compliance: 50% < 80%"],
    });
    let audit = |id: &str, cluster: &str| -> AuditRecord {
        serde_json::from_value(serde_json::json!({
            "audit_id": id, "cluster": cluster, "started": "2026-11-26T03:00:00Z",
            "finished": "2026-11-26T03:01:00Z", "store": "s3://b/p",
            "settings": {"scanner_image": "s:1", "backend": "builtin", "run": "hold",
                         "placement": "scan-namespace", "concurrency": 4},
            "totals": {"targets": 1, "passed": 0, "failed": 1, "not_scanned": 0},
            "exit_code": 1, "targets": [target],
        }))
        .unwrap()
    };
    let mut paths = Vec::new();
    for (id, cluster) in [("audit-a-123456", "east"), ("audit-b-123456", "west")] {
        let folder = dir.path().join(id);
        std::fs::create_dir_all(folder.join("targets/shop")).unwrap();
        let a = audit(id, cluster);
        std::fs::write(folder.join("audit.json"), serde_json::to_vec(&a).unwrap()).unwrap();
        let progress: ProgressRecord = serde_json::from_value(serde_json::json!({
            "audit_id": id, "target": a.targets[0],
            "failed_controls": [{"id": format!("CTRL-{cluster}"), "severity": "high", "impact": 0.7,
                                  "messages": ["mode 0666"]}],
        }))
        .unwrap();
        std::fs::write(
            folder.join("targets/shop/deployment.web.app.json"),
            serde_json::to_vec(&progress).unwrap(),
        )
        .unwrap();
        paths.push(folder.join("audit.json").display().to_string());
    }
    let out = run(&["report", "--audit", &paths[0], "--audit", &paths[1]]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert_eq!(page.matches("<tbody class=\"target\"").count(), 2);
    assert!(page.contains("CTRL-east") && page.contains("CTRL-west"));
    assert!(page.contains("data-namespace=\"east/shop\""));
    let out = run(&["report", "--audit", &paths[0], "--format", "junit"]);
    assert_eq!(text(&out.stdout).matches("<testcase ").count(), 1);
    let not_audit = write(dir.path(), "x.json", b"{}");
    assert_bad(
        &run(&["report", "--audit", &not_audit]),
        "not an audit.json",
    );
}
