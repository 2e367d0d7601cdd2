//! The CI wrappers end to end: the GitLab example pipeline (examples/ci/gitlab/.gitlab-ci.yml
//! with the component from templates/, SIDESCAN_LOCAL=true) run by gitlab-ci-local's shell
//! executor, and scripts/ci/github-scan with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, both
//! against the local cluster and S3 server; plus tests of github-scan with stand-in binaries
//! that need no service.
//!
//! Needs for the ignored tests: `scripts/dev-cluster up`, `scripts/dev-s3 up`,
//! `scripts/build-images` (the release runner), `cargo build --release -p sidescan-eval`, `eval`
//! of both `env` outputs; gitlab-ci-local comes from `scripts/install-gitlab-ci-local` (or
//! SIDESCAN_GITLAB_CI_LOCAL).

use serde_json::Value;
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::with_temp_ns;
use sidescan_e2e::scan::{self, DISTROLESS, RUN_FILES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// Step outputs as GitHub reads them from $GITHUB_OUTPUT: `NAME=VALUE` lines and
/// `NAME<<DELIMITER` ... `DELIMITER` blocks; a later value of a name wins.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delimiter {
                    break;
                }
                value.push(l);
            }
            out.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            out.insert(name.to_string(), value.to_string());
        }
    }
    out
}

#[test]
fn step_outputs_are_read_as_github_reads_them() {
    let outputs = parse_outputs("a=1\nb<<EOF_x\nline 1\nline 2\nEOF_x\nc<<D\n\nD\na=2\n");
    assert_eq!(outputs["a"], "2");
    assert_eq!(outputs["b"], "line 1\nline 2");
    assert_eq!(outputs["c"], "");
}

/// A stand-in for sidescan-runner: records its arguments, writes the run report
/// `$STUB_REPORT` (a JSON text, `{dir}` replaced by the stub's folder) to --report-json, prints
/// `$STUB_SAYS` (as a runner under GitHub Actions prints its annotation), exits `$STUB_CODE`; with
/// STUB_CODE=wait it waits for a signal and records it.
const RUNNER_STUB: &str = r#"#!/usr/bin/env bash
dir=$(cd "$(dirname "$0")" && pwd)
printf '%s\n' "$@" > "$dir/args"
report=; prev=
for a in "$@"; do [ "$prev" = --report-json ] && report=$a; prev=$a; done
echo "deploy  1.00s  ok  stand-in"
if [ "$STUB_CODE" = wait ]; then
  trap 'echo TERM > "$dir/signal"; exit 3' TERM
  trap 'echo INT > "$dir/signal"; exit 3' INT
  echo started > "$dir/started"
  while :; do sleep 0.1; done
fi
[ -z "${STUB_REPORT:-}" ] || printf '%s\n' "${STUB_REPORT//\{dir\}/$dir}" > "$report"
[ -z "${STUB_SAYS:-}" ] || printf '%s\n' "$STUB_SAYS"
exit "$STUB_CODE"
"#;

/// A stand-in for sidescan-eval: `summary --help` lists text, json, markdown, junit (no sarif);
/// `summary --input X --format F` prints `F of X`.
const EVAL_STUB: &str = r#"#!/usr/bin/env bash
[ "$2" = --help ] && { echo "[possible values: text, json, markdown, junit]"; exit 0; }
echo "$5 of $3"
"#;

struct Stubbed {
    dir: tempfile::TempDir,
}

impl Stubbed {
    fn new() -> Stubbed {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("sidescan-runner", RUNNER_STUB),
            ("sidescan-eval", EVAL_STUB),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Stubbed { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// github-scan with the stand-ins, `env` added; returns (exit code, stdout, outputs,
    /// step summary).
    fn command(&self, env: &[(&str, &str)]) -> std::process::Command {
        let mut cmd = std::process::Command::new(scan::repo_root().join("scripts/ci/github-scan"));
        cmd.env("SIDESCAN_BIN_DIR", self.dir.path())
            .env("GITHUB_OUTPUT", self.path("outputs"))
            .env("GITHUB_STEP_SUMMARY", self.path("summary.md"))
            .env("RUNNER_TEMP", self.dir.path())
            .env_remove("SIDESCAN_RUN_ID")
            .env_remove("SIDESCAN_OUTPUT_DIR")
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    fn run(&self, env: &[(&str, &str)]) -> (i32, String, BTreeMap<String, String>, String) {
        let out = self.command(env).output().unwrap();
        let read = |name: &str| std::fs::read_to_string(self.path(name)).unwrap_or_default();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            parse_outputs(&read("outputs")),
            read("summary.md"),
        )
    }
}

#[test]
fn github_scan_passes_the_runners_verdict_on_with_outputs_and_annotations() {
    let stub = Stubbed::new();
    let hdf_report = |verdict: &str, code: u8| {
        format!(
            r#"{{"verdict":"{verdict}","exit_code":{code},"compliance":88,"results_url":"file://{{dir}}/r/","hdf_url":"file://{{dir}}/r/hdf.json","error":null,"thresholds":{{"violations":[{{"key":"compliance.min","message":"Compliance: 88% < 90%"}}]}}}}"#
        )
    };

    // Passed: outputs from the report, JUnit written, no SARIF (this sidescan-eval has none).
    let report = hdf_report("passed", 0);
    let (code, stdout, outputs, summary) = stub.run(&[
        ("STUB_CODE", "0"),
        ("STUB_REPORT", &report),
        ("SIDESCAN_NAMESPACE", "ns"),
        ("SIDESCAN_PROFILE", "builtin"),
        (
            "SIDESCAN_SET",
            "security.mode=ptrace\n\n# a comment\n  target.name=web\n",
        ),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(!stdout.contains("::error"), "{stdout}");
    assert_eq!(outputs["verdict"], "passed");
    assert_eq!(outputs["exit-code"], "0");
    assert_eq!(outputs["compliance"], "88");
    let dir = stub.dir.path().display().to_string();
    assert_eq!(outputs["results-url"], format!("file://{dir}/r/"));
    assert_eq!(outputs["sarif-path"], "");
    assert_eq!(outputs["codequality-path"], "");
    let junit = &outputs["junit-path"];
    assert_eq!(
        std::fs::read_to_string(junit).unwrap(),
        format!("junit of file://{dir}/r/hdf.json\n")
    );
    assert!(
        summary.contains(&format!("markdown of file://{dir}/r/hdf.json")),
        "{summary}"
    );
    let run_id = &outputs["run-id"];
    assert!(
        run_id.starts_with("gh") && (6..=32).contains(&run_id.len()),
        "{run_id}"
    );
    let args = std::fs::read_to_string(stub.path("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        &args[..7],
        [
            "scan",
            "--namespace",
            "ns",
            "--profile",
            "builtin",
            "--set",
            "security.mode=ptrace"
        ]
    );
    assert_eq!(
        &args[7..11],
        [
            "--set",
            "target.name=web",
            "--set",
            &format!("runId={run_id}")
        ]
    );

    // Not met: exit 1 and one annotation naming the violated threshold.
    let report = hdf_report("not-met", 1);
    let (code, stdout, outputs, _) = stub.run(&[("STUB_CODE", "1"), ("STUB_REPORT", &report)]);
    assert_eq!(code, 1);
    assert_eq!(outputs["verdict"], "not-met");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(
        errors,
        [
            "::error title=sidescan::thresholds not met (exit code 1): compliance 88%25: Compliance: 88%25 < 90%25"
        ]
    );

    // A runner that annotated its failure itself (under GitHub Actions): that annotation only.
    let (code, stdout, _, _) = stub.run(&[
        ("STUB_CODE", "1"),
        ("STUB_REPORT", &report),
        (
            "STUB_SAYS",
            "::error title=sidescan::thresholds not met (exit code 1): from the runner",
        ),
    ]);
    assert_eq!(code, 1);
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(
        errors,
        ["::error title=sidescan::thresholds not met (exit code 1): from the runner"]
    );

    // Bad input: exit 2 with the report's error; no JUnit without results.
    let report = r#"{"verdict":"bad-input","exit_code":2,"error":"t.yml: unknown threshold key(s): complianse.min"}"#;
    let (code, stdout, outputs, _) = stub.run(&[("STUB_CODE", "2"), ("STUB_REPORT", report)]);
    assert_eq!(code, 2);
    assert_eq!(outputs["verdict"], "bad-input");
    assert_eq!(outputs["junit-path"], "");
    assert!(
        stdout.contains("::error title=sidescan::bad input (exit code 2): t.yml: unknown threshold key(s): complianse.min"),
        "{stdout}"
    );

    // A runner that died (no report, killed): infrastructure, exit 3.
    let (code, stdout, outputs, summary) = stub.run(&[("STUB_CODE", "137")]);
    assert_eq!(code, 3);
    assert_eq!(outputs["verdict"], "infrastructure");
    assert_eq!(outputs["exit-code"], "3");
    assert!(stdout.contains("::error title=sidescan::the scan could not run (exit code 3): sidescan-runner exited 137 without a run report"), "{stdout}");
    assert!(
        summary.contains("infrastructure (exit code 3)"),
        "{summary}"
    );

    // A malformed set line: exit 2 before the runner runs.
    let _ = std::fs::remove_file(stub.path("args"));
    let (code, _, outputs, _) = stub.run(&[("STUB_CODE", "0"), ("SIDESCAN_SET", "no-equals-sign")]);
    assert_eq!((code, outputs["verdict"].as_str()), (2, "bad-input"));
    assert!(!stub.path("args").exists(), "the runner ran");
}

#[test]
fn a_cancelled_github_scan_passes_the_signal_on_and_waits_for_the_runner() {
    let stub = Stubbed::new();
    let mut child = stub.command(&[("STUB_CODE", "wait")]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !stub.path("started").exists() {
        assert!(
            Instant::now() < deadline,
            "the stand-in runner never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    // The runner got the signal (in its own session: only from the wrapper), and the wrapper
    // ended after it with the verdict of a run that could not finish.
    assert_eq!(
        std::fs::read_to_string(stub.path("signal")).unwrap().trim(),
        "TERM"
    );
    assert_eq!(status.code(), Some(3));
}

fn eval_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("SIDESCAN_EVAL_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| scan::repo_root().join("target"));
    let bin = target.join("release/sidescan-eval");
    assert!(
        bin.is_file(),
        "{} not found: cargo build --release -p sidescan-eval, or set SIDESCAN_EVAL_BIN",
        bin.display()
    );
    bin
}

/// A folder with sidescan-runner (the release runner the images hold) and sidescan-eval.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(scan::runner_bin(), dir.path().join("sidescan-runner")).unwrap();
    std::os::unix::fs::symlink(eval_bin(), dir.path().join("sidescan-eval")).unwrap();
    dir
}

fn gitlab_ci_local() -> PathBuf {
    if let Ok(bin) = std::env::var("SIDESCAN_GITLAB_CI_LOCAL") {
        return PathBuf::from(bin);
    }
    let out = std::process::Command::new(scan::repo_root().join("scripts/install-gitlab-ci-local"))
        .output()
        .expect("scripts/install-gitlab-ci-local");
    assert!(
        out.status.success(),
        "scripts/install-gitlab-ci-local: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A project for gitlab-ci-local: the example pipeline as .gitlab-ci.yml, the component
/// templates, the CI scripts, the example specs, profiles and thresholds; a git repository with
/// one commit (gitlab-ci-local reads it).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = scan::repo_root();
    for sub in [
        "templates",
        "scripts/ci",
        "examples/specs",
        "examples/profiles",
        "examples/thresholds",
    ] {
        let to = dir.path().join(sub);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let status = std::process::Command::new("cp")
            .arg("-R")
            .arg(root.join(sub))
            .arg(&to)
            .status()
            .unwrap();
        assert!(status.success(), "cp {sub}");
    }
    std::fs::copy(
        root.join("examples/ci/gitlab/.gitlab-ci.yml"),
        dir.path().join(".gitlab-ci.yml"),
    )
    .unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=sidescan",
            "-c",
            "user.email=ci@sidescan.invalid",
            "commit",
            "-qm",
            "pipeline",
        ],
    ] {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }
    dir
}

/// gitlab-ci-local running the example pipeline in `project` with the local component's inputs,
/// in a process group of its own (as a CI runner's job, or a terminal's foreground job).
fn pipeline(project: &Path, bins: &Path, ns: &str, pod: &str, sets: &[String]) -> Command {
    let mut cmd = Command::new(gitlab_ci_local());
    // (gitlab-ci-local takes only a relative --cwd: it runs in the project instead.)
    cmd.current_dir(project)
        .args(["--force-shell-executor", "--color=false"])
        .args(["--variable", "SIDESCAN_LOCAL=true"])
        .arg("--variable")
        .arg(format!("SIDESCAN_LOCAL_BIN_DIR={}", bins.display()))
        .arg("--variable")
        .arg(format!("SIDESCAN_LOCAL_NAMESPACE={ns}"))
        .arg("--variable")
        .arg(format!("SIDESCAN_LOCAL_POD_NAME={pod}"))
        .args([
            "--variable",
            "SIDESCAN_LOCAL_VALUES=examples/specs/dev-cluster.yaml",
        ])
        .args([
            "--variable",
            "SIDESCAN_LOCAL_THRESHOLD=examples/thresholds/gate.yml",
        ])
        .arg("--variable")
        .arg(format!("SIDESCAN_LOCAL_SET={}", sets.join("\n")))
        .env("SIDESCAN_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    cmd
}

fn store_set(bucket: &str, prefix: &str) -> String {
    format!("results.storeUrl=s3://{bucket}/{prefix}")
}

async fn run_pipeline(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().await.expect("gitlab-ci-local");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("--- gitlab-ci-local exit {:?}\n{text}", out.status.code());
    (out.status.code().unwrap_or(-1), text)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `sidescan-eval summary --format json` of a stored `hdf.json` (a URL the evaluator reads).
async fn summary_json(hdf_url: &str) -> Value {
    let out = Command::new(eval_bin())
        .args(["summary", "--format", "json", "--input", hdf_url])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "sidescan-eval summary {hdf_url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The SARIF and Code Quality files say what the summary says: SARIF has one rule per counted
/// control and its results are the failed controls' findings; the Code Quality issues are the
/// same findings. Returns the failed control ids.
fn assert_reports_match(summary: &Value, sarif: &Path, codequality: &Path) -> Vec<String> {
    let mut failed: Vec<String> = summary["failed_controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    failed.sort();
    let sarif_doc = read_json(sarif);
    assert_eq!(sarif_doc["version"], "2.1.0");
    let run = &sarif_doc["runs"][0];
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().unwrap().len() as u64,
        summary["controls"].as_u64().unwrap(),
        "one SARIF rule per counted control"
    );
    assert_eq!(run["properties"]["controls"], summary["totals"]);
    assert_eq!(run["properties"]["compliance"], summary["compliance"]);
    let results = run["results"].as_array().unwrap();
    let mut rules: Vec<String> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap().to_string())
        .collect();
    rules.sort();
    rules.dedup();
    assert_eq!(
        rules, failed,
        "SARIF results are the failed controls' findings"
    );
    let issues = read_json(codequality);
    let issues = issues.as_array().unwrap();
    assert_eq!(issues.len(), results.len(), "one issue per SARIF result");
    let mut checks: Vec<String> = issues
        .iter()
        .map(|i| i["check_name"].as_str().unwrap().to_string())
        .collect();
    checks.sort();
    checks.dedup();
    assert_eq!(
        checks, failed,
        "Code Quality issues are the failed controls' findings"
    );
    failed
}

fn s3_setup() -> (String, String, String) {
    (
        required("AWS_ACCESS_KEY_ID", S3_HINT),
        required("AWS_SECRET_ACCESS_KEY", S3_HINT),
        required("SIDESCAN_S3_BUCKET", S3_HINT),
    )
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server, release sidescan-eval and gitlab-ci-local: see the module docs"]
async fn the_gitlab_pipeline_passes_on_a_passing_target() {
    with_temp_ns("cigl", |client, ns| async move {
        let (access, secret, bucket) = s3_setup();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let (project, bins) = (project(), bin_dir());
        let mut sets: Vec<String> = DISTROLESS.iter().map(|s| s.to_string()).collect();
        sets.push(store_set(&bucket, "cigl"));
        // GitLab sets GITLAB_CI=true; gitlab-ci-local sets it to false.
        let (code, log) = run_pipeline(
            pipeline(project.path(), bins.path(), &ns, "glpass", &sets)
                .args(["--variable", "GITLAB_CI=true"]),
        )
        .await;
        assert_eq!(code, 0, "{log}");
        let out = project.path().join("sidescan-report");
        let report = read_json(&out.join("report.json"));
        assert_eq!(report["verdict"], "passed");
        // The phases as collapsed sections, each closed; the closing summary as it was.
        let run_log = std::fs::read_to_string(out.join("run.log")).unwrap();
        for phase in ["deploy", "scan", "retrieve", "process", "cleanup"] {
            let start = format!(":sidescan_{phase}[collapsed=true]\r\x1b[0K{phase} ");
            assert!(
                run_log
                    .lines()
                    .any(|l| l.starts_with("section_start:") && l.contains(&start)),
                "no section for {phase}: {run_log}"
            );
            assert!(
                run_log.lines().any(|l| l.starts_with("section_end:")
                    && l.ends_with(&format!(":sidescan_{phase}\r\x1b[0K"))),
                "{phase}'s section is not closed: {run_log}"
            );
        }
        assert!(!run_log.contains("{\""), "no JSON log lines: {run_log}");
        let summary = summary_json(report["hdf_url"].as_str().unwrap()).await;
        assert_eq!(report["compliance"], summary["compliance"]);
        assert_eq!(report["counts"]["failed"], summary["totals"]["failed"]);
        assert_reports_match(
            &summary,
            &out.join("results.sarif"),
            &out.join("codequality.json"),
        );
        // The gate passes with a low-severity failure: JUnit still shows it.
        let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
        assert!(
            junit.contains(&format!(
                "<testsuite name=\"sidescan-baseline\" tests=\"{}\" failures=\"{}\"",
                summary["controls"], summary["totals"]["failed"]
            )),
            "{junit}"
        );
        let env = std::fs::read_to_string(out.join("sidescan.env")).unwrap();
        assert!(env.contains("SIDESCAN_VERDICT=passed\n"), "{env}");
        assert!(
            project.path().join("sidescan-report/report.html").is_file(),
            "the report job wrote no report.html"
        );
        let run_id = report["run_id"].as_str().unwrap().to_string();
        assert_eq!(
            std::fs::read_to_string(out.join("run-id")).unwrap().trim(),
            run_id
        );
        scan::assert_nothing_left(&client, &ns, &run_id, "glpass").await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server, release sidescan-eval and gitlab-ci-local: see the module docs"]
async fn the_gitlab_pipeline_fails_on_a_missed_threshold_with_the_junit_report_written() {
    with_temp_ns("cigl", |client, ns| async move {
        let (access, secret, bucket) = s3_setup();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let (project, bins) = (project(), bin_dir());
        // The glibc target (root, a shell, a package manager) misses the gate.
        let sets = vec![store_set(&bucket, "cigl")];
        let (code, log) = run_pipeline(&mut pipeline(
            project.path(),
            bins.path(),
            &ns,
            "glfail",
            &sets,
        ))
        .await;
        assert_ne!(code, 0, "{log}");
        let out = project.path().join("sidescan-report");
        let report = read_json(&out.join("report.json"));
        assert_eq!(report["verdict"], "not-met");
        assert_eq!(report["exit_code"], 1);
        assert!(
            log.contains("FAILED: thresholds not met (exit code 1)"),
            "{log}"
        );
        let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
        assert!(junit.contains("<failure"), "{junit}");
        let summary = summary_json(report["hdf_url"].as_str().unwrap()).await;
        let failed = assert_reports_match(
            &summary,
            &out.join("results.sarif"),
            &out.join("codequality.json"),
        );
        assert!(!failed.is_empty());
        let run_id = report["run_id"].as_str().unwrap().to_string();
        scan::assert_nothing_left(&client, &ns, &run_id, "glfail").await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server, release sidescan-eval and gitlab-ci-local: see the module docs"]
async fn a_cancelled_gitlab_job_leaves_nothing_in_the_cluster() {
    with_temp_ns("cigl", |client, ns| async move {
        let (access, secret, bucket) = s3_setup();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let (project, bins) = (project(), bin_dir());
        let mut sets: Vec<String> = DISTROLESS.iter().map(|s| s.to_string()).collect();
        sets.push(store_set(&bucket, "cigl"));
        let mut child = pipeline(project.path(), bins.path(), &ns, "glcancel", &sets)
            .spawn()
            .unwrap();
        let pgid = child.id().unwrap();
        // Cancel once the scan pod exists: SIGTERM to the job's process group, as a runner
        // cancelling a job (or Ctrl-C in a terminal) does.
        let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client.clone(), &ns);
        tokio::select! {
            _ = sidescan_e2e::harness::wait_for(&pods, "glcancel", "created", |p: Option<&k8s_openapi::api::core::v1::Pod>| p.is_some()) => {}
            status = child.wait() => panic!("gitlab-ci-local ended ({status:?}) before the scan pod existed"),
        }
        let status = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{pgid}")])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = child.wait().await;
        let run_id = std::fs::read_to_string(project.path().join("sidescan-report/run-id"))
            .expect("the job recorded its run id")
            .trim()
            .to_string();
        // The runner, in a session of its own, goes on until its cleanup is done: wait for it.
        let log = project.path().join("sidescan-report/run.log");
        let report_file = project.path().join("sidescan-report/report.json");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("verdict:") && report_file.is_file() {
                assert!(text.contains("interrupted by SIGTERM"), "{text}");
                break;
            }
            assert!(Instant::now() < deadline, "the runner did not finish: {text}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let report = read_json(&report_file);
        assert_eq!(report["verdict"], "infrastructure");
        assert_eq!(report["run_id"], run_id.as_str());
        scan::assert_nothing_left(&client, &ns, &run_id, "glcancel").await;
    })
    .await;
}

/// `scripts/ci/github-scan` as the action runs it (`GITHUB_ACTIONS=true`, output and summary
/// files) against the dev cluster, with the gate and `sets`; (exit code, stdout, outputs, step
/// summary).
async fn github_scan(
    ns: &str,
    pod: &str,
    sets: &[String],
    work: &Path,
) -> (i32, String, BTreeMap<String, String>, String) {
    let bins = bin_dir();
    let (outputs_file, summary_file) = (work.join("outputs"), work.join("summary.md"));
    let out = Command::new(scan::repo_root().join("scripts/ci/github-scan"))
        .env("SIDESCAN_BIN_DIR", bins.path())
        .env("SIDESCAN_NAMESPACE", ns)
        .env("SIDESCAN_POD_NAME", pod)
        .env("SIDESCAN_PROFILE", "builtin")
        .env("SIDESCAN_VALUES", scan::dev_values())
        .env(
            "SIDESCAN_THRESHOLD",
            scan::repo_root().join("examples/thresholds/gate.yml"),
        )
        .env("SIDESCAN_SET", sets.join("\n"))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &outputs_file)
        .env("GITHUB_STEP_SUMMARY", &summary_file)
        .env("RUNNER_TEMP", work)
        .env_remove("GITLAB_CI")
        .env_remove("SIDESCAN_LOG")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    (
        out.status.code().unwrap_or(-1),
        stdout,
        parse_outputs(&std::fs::read_to_string(&outputs_file).unwrap()),
        std::fs::read_to_string(&summary_file).unwrap_or_default(),
    )
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and a release sidescan-eval: see the module docs"]
async fn github_scan_outputs_match_the_stored_results() {
    with_temp_ns("cigh", |client, ns| async move {
        let (access, secret, bucket) = s3_setup();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let work = tempfile::tempdir().unwrap();
        let mut sets: Vec<String> = DISTROLESS.iter().map(|s| s.to_string()).collect();
        sets.push(store_set(&bucket, "cigh"));
        let (code, stdout, outputs, step_summary) =
            github_scan(&ns, "ghscan", &sets, work.path()).await;
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(outputs["verdict"], "passed");
        assert_eq!(outputs["exit-code"], "0");
        let run_id = outputs["run-id"].clone();
        // The phases as groups (the runner's log followed onto the step's output), each closed;
        // no annotation on a pass.
        for phase in ["deploy", "scan", "retrieve", "process", "cleanup"] {
            assert!(
                stdout
                    .lines()
                    .any(|l| l.starts_with(&format!("::group::{phase} "))),
                "no group for {phase}: {stdout}"
            );
        }
        assert_eq!(
            stdout
                .lines()
                .filter(|l| l.starts_with("::group::"))
                .count(),
            stdout.lines().filter(|l| *l == "::endgroup::").count()
        );
        assert!(!stdout.contains("::error"), "{stdout}");
        assert!(
            scan::run_id_in(&stdout).as_deref() == Some(run_id.as_str()),
            "{stdout}"
        );

        // One complete run folder, the one the outputs name.
        let (store, _) = scan::s3_store();
        let folders = scan::run_folders(store.as_ref(), &format!("cigh/{ns}/distroless/")).await;
        assert_eq!(folders.len(), 1, "{folders:?}");
        let (folder, files) = folders.iter().next().unwrap();
        assert_eq!(files, &RUN_FILES);
        assert!(folder.ends_with(&run_id), "{folder} is not run {run_id}'s");
        assert_eq!(outputs["results-url"], format!("s3://{bucket}/{folder}/"));

        // Compliance: what sidescan-eval says of the stored hdf.json, and the library too.
        let hdf = scan::get(store.as_ref(), &format!("{folder}/hdf.json")).await;
        let hdf_file = work.path().join("stored-hdf.json");
        std::fs::write(&hdf_file, &hdf).unwrap();
        let summary = summary_json(&hdf_file.display().to_string()).await;
        assert_eq!(outputs["compliance"], summary["compliance"].to_string());
        let library = sidescan_eval::summary::summarize(&sidescan_eval::hdf::parse(&hdf).unwrap());
        assert_eq!(outputs["compliance"], library.compliance.to_string());

        // The files the outputs name.
        let junit = std::fs::read_to_string(&outputs["junit-path"]).unwrap();
        assert!(junit.contains("<testsuite"), "{junit}");
        let report = read_json(Path::new(&outputs["report-path"]));
        assert_eq!(report["compliance"], summary["compliance"]);
        assert_reports_match(
            &summary,
            Path::new(&outputs["sarif-path"]),
            Path::new(&outputs["codequality-path"]),
        );
        // With the run's metadata.json: one code scanning category per namespace and target.
        let sarif = read_json(Path::new(&outputs["sarif-path"]));
        assert_eq!(
            sarif["runs"][0]["automationDetails"]["id"],
            format!("sidescan/{ns}/distroless/")
        );
        assert!(step_summary.contains(&run_id), "{step_summary}");
        scan::assert_nothing_left(&client, &ns, &run_id, "ghscan").await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and a release sidescan-eval: see the module docs"]
async fn a_github_scan_that_misses_its_thresholds_is_annotated_once() {
    with_temp_ns("cigh", |client, ns| async move {
        let (access, secret, bucket) = s3_setup();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let work = tempfile::tempdir().unwrap();
        // The glibc target (root, a shell, a package manager) misses the gate.
        let sets = vec![store_set(&bucket, "cigh")];
        let (code, stdout, outputs, _) = github_scan(&ns, "ghfail", &sets, work.path()).await;
        assert_eq!(code, 1, "{stdout}");
        assert_eq!(outputs["verdict"], "not-met");
        let errors: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect();
        assert_eq!(errors.len(), 1, "{stdout}");
        assert!(
            errors[0].starts_with(
                "::error title=sidescan::thresholds not met (exit code 1): compliance "
            ),
            "{}",
            errors[0]
        );
        let report = read_json(Path::new(&outputs["report-path"]));
        let summary = summary_json(report["hdf_url"].as_str().unwrap()).await;
        let failed = assert_reports_match(
            &summary,
            Path::new(&outputs["sarif-path"]),
            Path::new(&outputs["codequality-path"]),
        );
        assert!(!failed.is_empty());
        let run_id = outputs["run-id"].clone();
        scan::assert_nothing_left(&client, &ns, &run_id, "ghfail").await;
    })
    .await;
}
