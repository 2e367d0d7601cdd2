//! The binary on bad input: exit 2 and one line naming the field, file or option at fault.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn gen_cmd(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sidescan-gen"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs with a spec file written into a scratch directory that also holds `files`.
fn run_with_spec(spec: &str, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), spec).unwrap();
    let mut args = vec!["render", "all", "--values", "spec.yaml"];
    args.extend_from_slice(extra);
    (gen_cmd(&args, dir.path()), dir)
}

const GOOD: &str = "target: {name: web, image: nginx:1.27}\nsecurity: {runAsUser: 101}\nprofile: {url: s3://p/p.tgz}\n";

/// Exit code 2 and exactly one line on stderr that contains every `needles`.
fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    }
    assert!(out.stdout.is_empty(), "partial output on failure");
}

#[test]
fn a_good_spec_renders_every_document() {
    let (out, _dir) = run_with_spec(GOOD, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for kind in [
        "kind: Pod",
        "kind: Role",
        "kind: Job",
        "kind: CronJob",
        "kind: ServiceAccount",
    ] {
        assert!(text.contains(kind), "{kind}");
    }
}

#[test]
fn invalid_names_are_refused() {
    let (out, _d) = run_with_spec(GOOD, &["--set", "target.name=Web_1"]);
    assert_bad_input(&out, &["target.name", "RFC 1123"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "namespace=-x"]);
    assert_bad_input(&out, &["namespace"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "scanner.container=target"]);
    assert_bad_input(&out, &["scanner.container"]);
}

#[test]
fn missing_required_values_are_named() {
    let (out, _d) = run_with_spec("target: {name: web}\n", &[]);
    assert_bad_input(&out, &["target.image: missing required value"]);
    let (out, _d) = run_with_spec("security: {runAsUser: 1}\n", &[]);
    assert_bad_input(&out, &["target: missing required value"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "security.runAsUser=null"]);
    assert_bad_input(&out, &["security.runAsUser"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "profile=null"]);
    assert_bad_input(&out, &["profile: missing required value"]);
}

#[test]
fn unknown_spec_keys_are_refused() {
    let (out, _d) = run_with_spec(
        &format!("{GOOD}scanner: {{imagePullPolicy: Always}}\n"),
        &[],
    );
    assert_bad_input(&out, &["scanner.imagePullPolicy", "unknown field"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "secruity.mode=ptrace"]);
    assert_bad_input(&out, &["secruity", "unknown field"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "scheduling.affinity.nodeAffinty.x=1"]);
    assert_bad_input(&out, &["scheduling.affinity.nodeAffinty"]);
}

#[test]
fn profile_directory_problems_are_explained() {
    let spec = GOOD.replace("url: s3://p/p.tgz", "dir: profile");
    let (out, dir) = run_with_spec(&spec, &[]);
    assert_bad_input(&out, &["profile.dir", "profile"]);
    std::fs::create_dir_all(dir.path().join("profile/controls")).unwrap();
    let out = gen_cmd(&["render", "all", "--values", "spec.yaml"], dir.path());
    assert_bad_input(&out, &["profile.dir", "no inspec.yml"]);

    std::fs::write(dir.path().join("profile/inspec.yml"), "name: p\n").unwrap();
    std::fs::write(dir.path().join("profile/controls/a.rb"), "# ok\n").unwrap();
    let out = gen_cmd(&["render", "profile", "--values", "spec.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(0));

    std::fs::write(dir.path().join("profile/controls/bad name.rb"), "").unwrap();
    let out = gen_cmd(&["render", "all", "--values", "spec.yaml"], dir.path());
    assert_bad_input(&out, &["controls/bad name.rb"]);
    std::fs::remove_file(dir.path().join("profile/controls/bad name.rb")).unwrap();

    std::fs::create_dir_all(dir.path().join("profile/files")).unwrap();
    std::fs::write(
        dir.path().join("profile/files/big.bin"),
        vec![b'x'; 1024 * 1024],
    )
    .unwrap();
    let out = gen_cmd(&["render", "all", "--values", "spec.yaml"], dir.path());
    assert_bad_input(&out, &["profile.dir", "ConfigMap limit", "profile.url"]);
}

#[test]
fn threshold_files_must_parse() {
    let spec = format!("{GOOD}thresholds: {{file: t.yml}}\n");
    let (out, dir) = run_with_spec(&spec, &[]);
    assert_bad_input(&out, &["thresholds.file", "t.yml"]);
    for bad in [
        "compliance: [\n",
        "",
        "compliance:\n  min: high\n",
        "complianse:\n  min: 80\n",
    ] {
        std::fs::write(dir.path().join("t.yml"), bad).unwrap();
        let out = gen_cmd(&["render", "all", "--values", "spec.yaml"], dir.path());
        assert_bad_input(&out, &["thresholds.file", "t.yml"]);
    }
    std::fs::write(dir.path().join("t.yml"), "compliance:\n  min: 80\n").unwrap();
    let out = gen_cmd(
        &["render", "thresholds", "--values", "spec.yaml"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_options_are_refused() {
    let (out, _d) = run_with_spec(GOOD, &["--kube-version", "1.17"]);
    assert_bad_input(&out, &["--kube-version", "1.18"]);
    let (out, _d) = run_with_spec(GOOD, &["--set", "target.name"]);
    assert_bad_input(&out, &["--set target.name", "KEY=VALUE"]);
    let (out, _d) = run_with_spec("a: [\n", &[]);
    assert_bad_input(&out, &["spec.yaml"]);
    let out = gen_cmd(&["render", "all", "--values", "missing.yaml"], &repo_root());
    assert_bad_input(&out, &["missing.yaml"]);
    let (out, _d) = run_with_spec(
        GOOD,
        &["--set", "schedule.timeZone=UTC", "--kube-version", "1.24"],
    );
    assert_bad_input(&out, &["schedule.timeZone", "1.25"]);
    // Nothing to render for a profile given by URL.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.yaml"), GOOD).unwrap();
    let out = gen_cmd(&["render", "profile", "--values", "spec.yaml"], dir.path());
    assert_bad_input(&out, &["profile.dir"]);
    // Usage errors (clap) are exit 2 as well.
    let out = gen_cmd(&["render", "pods"], &repo_root());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn values_prints_a_spec_that_renders() {
    let dir = tempfile::tempdir().unwrap();
    let out = gen_cmd(&["values"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            > 40
    );
    std::fs::write(dir.path().join("values.yaml"), &text).unwrap();
    let out = gen_cmd(
        &[
            "render",
            "all",
            "--values",
            "values.yaml",
            "--output-dir",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["cronjob.yaml", "job.yaml", "rbac.yaml", "scan-pod.yaml"]
    );
}

#[test]
fn the_default_values_equal_the_spec_defaults() {
    // Every value `sidescan-gen values` shows is the default the code applies.
    let text = sidescan_gen::DEFAULT_VALUES;
    let tree = sidescan_gen::values::parse_values(text, "values").unwrap();
    let shown = sidescan_gen::values::spec_from_value(tree).unwrap();
    let minimal = sidescan_gen::values::spec_from_value(serde_json::json!({
        "target": {"name": "nginx", "image": "nginx:1.27"},
        "security": {"runAsUser": 101},
        "profile": {"url": "s3://sidescan-profiles/baseline.tar.gz"},
    }))
    .unwrap();
    assert_eq!(shown, minimal);
}

#[test]
fn audit_specs_render_and_bad_ones_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let values = gen_cmd(&["values", "--audit"], dir.path());
    assert_eq!(values.status.code(), Some(0));
    std::fs::write(dir.path().join("audit.yaml"), &values.stdout).unwrap();
    let out = gen_cmd(
        &[
            "render",
            "audit-cronjob",
            "-f",
            "audit.yaml",
            "--output-dir",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("out/audit-cronjob.yaml")).unwrap();
    assert!(text.contains("kind: CronJob") && text.contains("kind: ClusterRole"));
    for (set, needles) in [
        (
            "select.kinds.1=Deploymnet",
            vec!["select.kinds[1]", "Deploymnet"],
        ),
        (
            "select.labelSelector=app in (web",
            vec!["select.labelSelector"],
        ),
        ("select.namespaces.0=Shop", vec!["select.namespaces[0]"]),
        ("concurrency=0", vec!["concurrency"]),
        ("results.storeUrl=null", vec!["results.storeUrl"]),
    ] {
        let out = gen_cmd(
            &["render", "audit-job", "-f", "audit.yaml", "--set", set],
            dir.path(),
        );
        assert_bad_input(&out, &needles);
    }
    std::fs::write(dir.path().join("t.yml"), "complianse:\n  min: 80\n").unwrap();
    let out = gen_cmd(
        &[
            "render",
            "audit-job",
            "-f",
            "audit.yaml",
            "--set",
            "thresholds.file=t.yml",
        ],
        dir.path(),
    );
    assert_bad_input(&out, &["thresholds.file", "complianse"]);
}
