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
fn render_all_is_the_job_path_and_scan_pod_the_manual_one() {
    let (out, dir) = run_with_spec(GOOD, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for kind in [
        "kind: Role",
        "kind: Job",
        "kind: CronJob",
        "kind: ServiceAccount",
        "kind: ConfigMap",
    ] {
        assert!(text.contains(kind), "{kind}");
    }
    // The Job creates the scan pod: `all` does not render it a second time.
    assert!(!text.contains("kind: Pod"), "{text}");
    let out = gen_cmd(&["render", "scan-pod", "--values", "spec.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("\nkind: ").count(), 1);
    assert!(text.contains("kind: Pod"));
}

/// Every value the API server, the kubelet or the container runtime would refuse later is
/// refused here: exit 2 and one line naming the key and the reason.
#[test]
fn values_refused_later_are_refused_now() {
    let cases: &[(&str, &str)] = &[
        (
            "schedule.cron=61 * * * *",
            "schedule.cron: minute field \"61\": 61 is outside 0-59",
        ),
        (
            "schedule.cron=@sometimes",
            "schedule.cron: unknown descriptor \"@sometimes\"",
        ),
        (
            "schedule.timeZone=Mars/Base",
            "schedule.timeZone: not a time zone of the IANA tz database",
        ),
        (
            "target.image=nginx 1.27",
            "target.image: not an image reference: ' ' is not allowed",
        ),
        (
            "target.image=nginx@sha256:xyz",
            "target.image: not an image reference: digest \"sha256:xyz\": sha256 needs 64 lower-case hex digits",
        ),
        (
            "target.image=nginx:1.27:foo",
            "target.image: not an image reference: tag \"1.27:foo\" is not valid",
        ),
        (
            "target.image=NGINX:1.27",
            "target.image: not an image reference: repository names must be lower-case",
        ),
        (
            "security.runAsUser=3000000000",
            "security.runAsUser: it must be between 0 and 2147483647",
        ),
        (
            "scanner.resultsDir=/tmp",
            "scanner.resultsDir: the scanner already mounts /tmp",
        ),
        (
            "scanner.resultsDir=/etc/sidescan/profile/results",
            "scanner.resultsDir: the scanner already mounts /etc/sidescan/profile",
        ),
        (
            "scheduling.nodeSelector.bad key!=x",
            "scheduling.nodeSelector.bad key!: not a qualified name",
        ),
        (
            "target.resources.limits.memory=-1Gi",
            "target.resources.limits.memory: a quantity must not be negative",
        ),
        (
            "images.registry=http://bad reg/",
            "images.registry: a registry is host[:port][/path] without a scheme",
        ),
        (
            "results.endpoint=not a url",
            "results.endpoint: a URL cannot contain whitespace",
        ),
        (
            "security.mode=ptrace",
            "security.runAsUser: mode ptrace needs UID 0: Kubernetes grants added capabilities (SYS_PTRACE) only to UID 0",
        ),
        (
            "results.storeUrl=gs://bucket",
            "results.storeUrl: scheme \"gs\" is not supported",
        ),
        (
            r"metadata.labels.app\.kubernetes\.io/name=x",
            "metadata.labels.app.kubernetes.io/name: sidescan sets this label itself",
        ),
        (
            "scheduling.priorityClassName=Urgent",
            "scheduling.priorityClassName: \"Urgent\" is not a valid RFC 1123 subdomain",
        ),
        (
            "target.securityContext.privileged=true",
            "target.securityContext.privileged: true breaks the Pod Security rule \"Privileged Containers\"",
        ),
        (
            "target.securityContext.runAsUser=0",
            "target.securityContext.runAsUser: mode same-uid runs the scanner as security.runAsUser (101)",
        ),
        (
            "target.securityContext.allowPrivilegeEscalation=true",
            "target.securityContext.allowPrivilegeEscalation: true (false required) breaks the Pod Security rule \"Privilege Escalation\" of level restricted",
        ),
        (
            "target.securityContext.runAsUsr=5",
            "target.securityContext.runAsUsr: unknown field (checked against the Kubernetes SecurityContext schema)",
        ),
        (
            "profile.url=https://example.com/p.tgz",
            "profile.sha256: missing required value: an https:// profile is only used when its SHA-256 is pinned",
        ),
        (
            "profile.sha256=abc",
            "profile.sha256: expected 64 hex digits",
        ),
    ];
    for (set, message) in cases {
        let (out, _d) = run_with_spec(GOOD, &["--set", set]);
        assert_bad_input(&out, &[message]);
    }
    // Keys of Secrets and ConfigMaps.
    let spec = format!(
        "{GOOD}results:\n  storeUrl: s3://b/p\n  credentialsSecret: {{name: s3, accessKeyIdKey: a/b}}\n"
    );
    let (out, _d) = run_with_spec(&spec, &[]);
    assert_bad_input(
        &out,
        &["results.credentialsSecret.accessKeyIdKey: not a Secret or ConfigMap key"],
    );
    // Host paths break Pod Security "baseline", which mode ptrace keeps too.
    let host_path = "target:\n  name: web\n  image: nginx:1.27\n  volumes: [{name: host, hostPath: {path: /}}]\n  volumeMounts: [{name: host, mountPath: /host}]\nsecurity: {mode: ptrace}\nscanner: {backend: builtin}\n";
    let (out, _d) = run_with_spec(host_path, &[]);
    assert_bad_input(
        &out,
        &[
            "target.volumes (host): hostPath breaks the Pod Security rule \"HostPath Volumes\" of level baseline, which mode ptrace keeps",
        ],
    );
}

#[test]
fn kubernetes_releases_outside_the_known_range_are_refused() {
    let (out, _d) = run_with_spec(GOOD, &["--kube-version", "1.99"]);
    assert_bad_input(
        &out,
        &["--kube-version \"1.99\": not a known Kubernetes release: supported are 1.18 to 1.37"],
    );
    let (out, _d) = run_with_spec(GOOD, &["--kube-version", "1.37"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn quantities_may_be_yaml_numbers() {
    let spec = GOOD.replace(
        "name: web, image: nginx:1.27}",
        "name: web, image: nginx:1.27, resources: {requests: {cpu: 2, memory: 64Mi}, limits: {cpu: 4, memory: 536870912}}}",
    );
    let (out, _d) = run_with_spec(&spec, &["--set", "scanner.resultsSizeLimit=1000000"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\"cpu\": \"2\"") || text.contains("cpu: \"2\""),
        "{text}"
    );
}

#[test]
fn huge_values_fail_fast_with_the_key_named() {
    // A 50 MB env value: refused from the file's size before it is parsed.
    let with_env = |value: &str| {
        GOOD.replace(
            "target: {name: web, image: nginx:1.27}",
            &format!("target:\n  name: web\n  image: nginx:1.27\n  env: {{BIG: {value}}}"),
        )
    };
    let spec = with_env(&"x".repeat(50 * 1024 * 1024));
    let started = std::time::Instant::now();
    let (out, _d) = run_with_spec(&spec, &[]);
    assert_bad_input(
        &out,
        &[
            "spec.yaml: 52428",
            "a spec must fit into a ConfigMap of 1048576 bytes",
        ],
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    // 1.5 MB: parsed, then refused by the spec ConfigMap's size, naming the key.
    let spec = with_env(&"x".repeat(1536 * 1024));
    let (out, _d) = run_with_spec(&spec, &[]);
    assert_bad_input(
        &out,
        &[
            "target.env.BIG: 1572864 bytes make the spec ConfigMap",
            "above the ConfigMap limit of 1048576 bytes",
        ],
    );
}

#[test]
fn output_dir_holds_exactly_what_was_rendered() {
    let with_profile = GOOD.replace("url: s3://p/p.tgz", "dir: profile");
    let (out, dir) = run_with_spec(&with_profile, &["--output-dir", "out"]);
    assert_bad_input(&out, &["profile.dir"]);
    assert!(!dir.path().join("out").exists(), "written on error");
    std::fs::create_dir_all(dir.path().join("profile/controls")).unwrap();
    std::fs::write(dir.path().join("profile/inspec.yml"), "name: p\n").unwrap();
    std::fs::write(dir.path().join("profile/controls/a.rb"), "# a\n").unwrap();
    let render_into_out = |dir: &Path| {
        gen_cmd(
            &[
                "render",
                "all",
                "--values",
                "spec.yaml",
                "--output-dir",
                "out",
            ],
            dir,
        )
    };
    assert_eq!(render_into_out(dir.path()).status.code(), Some(0));
    let listing = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let out_dir = dir.path().join("out");
    assert_eq!(
        listing(&out_dir),
        ["cronjob.yaml", "job.yaml", "profile.yaml", "rbac.yaml"]
    );
    std::fs::write(out_dir.join("README"), "mine").unwrap();
    let scan_pod = gen_cmd(
        &[
            "render",
            "scan-pod",
            "--values",
            "spec.yaml",
            "--output-dir",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(scan_pod.status.code(), Some(0));
    // Another spec without a profile directory: its stale profile.yaml goes, other files stay.
    std::fs::write(dir.path().join("spec.yaml"), GOOD).unwrap();
    assert_eq!(render_into_out(dir.path()).status.code(), Some(0));
    assert_eq!(
        listing(&out_dir),
        [
            "README",
            "cronjob.yaml",
            "job.yaml",
            "rbac.yaml",
            "scan-pod.yaml"
        ]
    );
    // A failed write leaves every file as it was, and no staging directory behind.
    let before = std::fs::read_to_string(out_dir.join("rbac.yaml")).unwrap();
    std::fs::remove_file(out_dir.join("job.yaml")).unwrap();
    std::fs::create_dir(out_dir.join("job.yaml")).unwrap();
    std::fs::write(
        dir.path().join("spec.yaml"),
        GOOD.replace("name: web", "name: other"),
    )
    .unwrap();
    let out = render_into_out(dir.path());
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("rbac.yaml")).unwrap(),
        before
    );
    assert_eq!(listing(dir.path()), ["out", "profile", "spec.yaml"]);
}

#[test]
fn a_directory_of_specs_renders_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let specs = dir.path().join("specs");
    std::fs::create_dir(&specs).unwrap();
    for name in ["a", "b", "c"] {
        std::fs::write(
            specs.join(format!("{name}.yaml")),
            GOOD.replace("name: web", &format!("name: {name}")),
        )
        .unwrap();
    }
    let out = gen_cmd(
        &["render", "all", "--values", "specs", "--output-dir", "out"],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["a", "b", "c"] {
        let job = std::fs::read_to_string(dir.path().join(format!("out/{name}/job.yaml"))).unwrap();
        assert!(job.contains(&format!("sidescan-{name}-scan")));
    }
    std::fs::write(specs.join("d.yaml"), "target: {name: d}\n").unwrap();
    let out = gen_cmd(&["render", "all", "--values", "specs"], dir.path());
    assert_bad_input(&out, &["d.yaml: target.image: missing required value"]);
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
    assert_bad_input(&out, &["--kube-version", "1.18 to 1.37"]);
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
    assert_eq!(files, ["cronjob.yaml", "job.yaml", "rbac.yaml"]);
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
