//! Host tests with real processes: targets started in their own root and PID namespace
//! (`unshare --pid --fork --mount-proc --root`), built from static busybox, musl and glibc trees
//! assembled in temp dirs. They need root, unshare, proot, ruby, busybox-static and musl-tools
//! (`apt-get install proot ruby busybox-static musl-tools`); CI runs them as root.

use sidescan_runner::agent::cinc::{self, CincExit, CincOptions};
use sidescan_runner::agent::identify::{Selector, wait_for_target};
use sidescan_runner::agent::view::{self, ViewConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod support;

const NEEDS: &str = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools";

/// A target process in its own root; killed on drop.
struct Target {
    child: Child,
    pid: u32,
    _root: tempfile::TempDir,
    root: PathBuf,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy(from: &str, root: &Path, to: &str) {
    let dest = root.join(to.trim_start_matches('/'));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(from, &dest).unwrap_or_else(|e| panic!("{from}: {e}"));
}

fn ldd_libs(program: &str) -> Vec<String> {
    let out = Command::new("ldd").arg(program).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = l
                .split("=>")
                .nth(1)
                .unwrap_or(l)
                .split_whitespace()
                .next()?;
            path.starts_with('/').then(|| path.to_string())
        })
        .collect()
}

/// Which kind of root to assemble.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Static busybox only, no libc, no `cat` link: distroless-like.
    Static,
    /// A musl-linked program with musl's loader.
    Musl,
    /// Debian's `sleep` and `cat` with their glibc libraries.
    Glibc,
}

fn build_root(kind: Kind, tag: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    write(root, "etc/os-release", &format!("ID={tag}\nVERSION_ID=1\n"));
    write(root, "etc/passwd", "root:x:0:0::/root:/sbin/nologin\n");
    write(root, "srv/open.txt", "");
    std::fs::set_permissions(
        root.join("srv/open.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let command = match kind {
        Kind::Static => {
            copy("/bin/busybox", root, "/bin/busybox");
            // busybox picks its applet from argv[0]'s name; the directory carries the tag.
            copy("/bin/busybox", root, &format!("/{tag}/sleep"));
            format!("/{tag}/sleep 300")
        }
        Kind::Musl => {
            let src = root.join("waiter.c");
            std::fs::write(
                &src,
                "#include <unistd.h>\nint main(void){for(;;)pause();}\n",
            )
            .unwrap();
            std::fs::create_dir_all(root.join(tag)).unwrap();
            let status = Command::new("musl-gcc")
                .arg("-o")
                .arg(root.join(tag).join("waiter"))
                .arg(&src)
                .status()
                .expect(NEEDS);
            assert!(status.success(), "musl-gcc failed");
            std::fs::remove_file(&src).unwrap();
            copy(
                "/lib/x86_64-linux-musl/libc.so",
                root,
                "/lib/ld-musl-x86_64.so.1",
            );
            format!("/{tag}/waiter")
        }
        Kind::Glibc => {
            for program in ["/usr/bin/sleep", "/usr/bin/cat"] {
                copy(program, root, program);
                for lib in ldd_libs(program) {
                    copy(&lib, root, &lib);
                }
            }
            copy(
                "/lib64/ld-linux-x86-64.so.2",
                root,
                "/lib64/ld-linux-x86-64.so.2",
            );
            copy("/usr/bin/sleep", root, &format!("/{tag}/sleep"));
            format!("/{tag}/sleep 300")
        }
    };
    (dir, command)
}

fn start(kind: Kind, tag: &str) -> Target {
    let (dir, command) = build_root(kind, tag);
    let argv: Vec<&str> = command.split(' ').collect();
    let child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--root"])
        .arg(dir.path())
        .args(&argv)
        .spawn()
        .expect(NEEDS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let found = rt
        .block_on(wait_for_target(
            Path::new("/proc"),
            || Selector::Pattern(tag.to_string()),
            Instant::now() + Duration::from_secs(10),
        ))
        .unwrap_or_else(|e| panic!("{kind:?} target: {e}"));
    let root = dir.path().to_path_buf();
    Target {
        child,
        pid: found.pid,
        _root: dir,
        root,
    }
}

fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            out.push(path.display().to_string());
            if entry.file_type().unwrap().is_dir() && !path.ends_with("proc") {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The scanner's static helper programs: busybox and relative applet links.
fn fallback_bin() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("busybox")).unwrap();
    for applet in ["cat", "ls", "stat", "find", "sh"] {
        std::os::unix::fs::symlink("busybox", dir.path().join(applet)).unwrap();
    }
    dir
}

fn ruby_in_view(target: &Target, script: &str) -> (Option<i32>, String, String) {
    let scratch = tempfile::tempdir().unwrap();
    let fallback = fallback_bin();
    let config = ViewConfig {
        proot: view::which("proot").expect(NEEDS),
        target_root: PathBuf::from(format!("/proc/{}/root", target.pid)),
        fallback_bin: Some(fallback.path().to_path_buf()),
        scratch: scratch.path().to_path_buf(),
        target_path: view::target_path(Path::new("/proc"), target.pid),
    };
    let launch = view::launch_for(Path::new("/usr/bin/ruby")).expect(NEEDS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (code, out, err, _) = rt
        .block_on(cinc::run_in_view(
            &config,
            &launch,
            &["-e".into(), script.into()],
            Duration::from_secs(60),
        ))
        .unwrap();
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

const PROBE: &str = r#"
require "json"
read = File.read("/etc/os-release")[/^ID=(.*)$/, 1]
spawned = `cat /etc/os-release`[/^ID=(.*)$/, 1]
puts JSON.generate({"read" => read, "spawned" => spawned,
  "scanner_visible" => Dir.exist?("/.sidescan-scanner/usr/bin"),
  "root" => Dir.children("/").sort})
"#;

fn assert_view_sees_target(kind: Kind, tag: &str) {
    let target = start(kind, tag);
    let before = listing(&target.root);
    let (code, out, err) = ruby_in_view(&target, PROBE);
    assert_eq!(code, Some(0), "{kind:?}: stdout {out} stderr {err}");
    let seen: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(
        seen["read"], tag,
        "{kind:?}: File.read must see the target's file"
    );
    assert_eq!(
        seen["spawned"], tag,
        "{kind:?}: a spawned command must see the target's file"
    );
    assert_eq!(seen["scanner_visible"], true);
    assert!(seen["root"].as_array().unwrap().iter().any(|e| e == "etc"));
    assert_eq!(
        listing(&target.root),
        before,
        "{kind:?}: nothing may be written into the target"
    );
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn ruby_in_the_view_sees_a_static_distroless_like_root() {
    assert_view_sees_target(Kind::Static, "sidescanstatic");
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn ruby_in_the_view_sees_a_musl_root() {
    assert_view_sees_target(Kind::Musl, "sidescanmusl");
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn ruby_in_the_view_sees_a_glibc_root() {
    assert_view_sees_target(Kind::Glibc, "sidescanglibc");
}

fn double() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cinc-auditor-double/cinc-auditor")
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn cinc_backend_runs_the_auditor_in_the_view_and_accepts_exit_100() {
    let target = start(Kind::Static, "sidescancinc");
    let profile = tempfile::tempdir().unwrap();
    write(profile.path(), "inspec.yml", "name: demo\n");
    write(profile.path(), "inputs.yml", "x: 1\n");
    write(profile.path(), "waivers.yml", "{}\n");
    let scratch = tempfile::tempdir().unwrap();
    let fallback = fallback_bin();
    let options = CincOptions {
        cinc_auditor: double(),
        profile: profile.path().to_path_buf(),
        input_files: vec![profile.path().join("inputs.yml")],
        waiver_files: vec![profile.path().join("waivers.yml")],
        proot: view::which("proot").expect(NEEDS),
        fallback_bin: Some(fallback.path().to_path_buf()),
        timeout: Duration::from_secs(60),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = PathBuf::from(format!("/proc/{}/root", target.pid));
    let run = rt
        .block_on(cinc::scan(&options, &root, None, scratch.path()))
        .unwrap();
    assert_eq!(run.exit, CincExit::FailedControls);
    let hdf: serde_json::Value = serde_json::from_slice(&run.report).unwrap();
    assert_eq!(hdf["platform"]["name"], "sidescancinc");
    let desc = hdf["profiles"][0]["controls"][0]["results"][0]["code_desc"]
        .as_str()
        .unwrap();
    assert_eq!(
        desc,
        "file read saw sidescancinc, spawned cat saw sidescancinc, files 2"
    );
    let counts = sidescan_runner::agent::counts::control_counts(&run.report).unwrap();
    assert_eq!(counts["failed"], 1);
}

fn agent(args: &[&str], results: &Path) -> (i32, String, serde_json::Value) {
    let term = results.join("termination-log");
    let out = Command::new(env!("CARGO_BIN_EXE_sidescan-runner"))
        .arg("agent")
        .args(args)
        .arg("--results-dir")
        .arg(results)
        .arg("--termination-log")
        .arg(&term)
        .output()
        .unwrap();
    let message = std::fs::read_to_string(&term).unwrap_or_default();
    let message = serde_json::from_str(&message).unwrap_or(serde_json::Value::Null);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        message,
    )
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn agent_scans_each_root_kind_with_the_builtin_backend() {
    for (kind, tag) in [
        (Kind::Static, "sidescanagentstatic"),
        (Kind::Musl, "sidescanagentmusl"),
        (Kind::Glibc, "sidescanagentglibc"),
    ] {
        let _target = start(kind, tag);
        let results = tempfile::tempdir().unwrap();
        let (code, log, message) = agent(
            &[
                "--backend",
                "builtin",
                "--target-process",
                tag,
                "--wait-seconds",
                "10",
            ],
            results.path(),
        );
        assert_eq!(code, 0, "{kind:?}: {log}");
        assert_eq!(message["outcome"], "stored");
        let folder = message["local_folder"].as_str().unwrap();
        let hdf: serde_json::Value =
            serde_json::from_slice(&std::fs::read(Path::new(folder).join("hdf.json")).unwrap())
                .unwrap();
        assert_eq!(hdf["platform"]["name"], tag, "{kind:?}");
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(Path::new(folder).join("metadata.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["identified_by"], "pattern");
        assert!(meta["timings_ms"]["scan"].is_u64());
        // The walk went through /proc/<pid>/root: it found the world-writable file.
        let ww = &hdf["profiles"][0]["controls"][1];
        assert_eq!(ww["id"], "SIDESCAN-FS-002");
        assert_eq!(
            ww["results"][0]["code_desc"], "file /srv/open.txt is not world-writable",
            "{kind:?}: {ww}"
        );
        // The shell check sees busybox only in the static root.
        let shells = &hdf["profiles"][0]["controls"][5];
        assert_eq!(shells["id"], "SIDESCAN-SW-001");
        let failed = shells["results"][0]["status"] == "failed";
        assert_eq!(failed, matches!(kind, Kind::Static), "{kind:?}: {shells}");
    }
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn agent_cinc_backend_with_the_double_and_a_missing_profile() {
    let _target = start(Kind::Glibc, "sidescanagentcinc");
    let results = tempfile::tempdir().unwrap();
    let profile = tempfile::tempdir().unwrap();
    write(profile.path(), "inspec.yml", "name: demo\nversion: 1.2.3\n");
    let double = double();
    let base = [
        "--backend",
        "cinc",
        "--target-process",
        "sidescanagentcinc",
        "--wait-seconds",
        "10",
        "--cinc-auditor",
        double.to_str().unwrap(),
    ];
    let mut args = base.to_vec();
    args.extend(["--profile", profile.path().to_str().unwrap()]);
    let (code, log, message) = agent(&args, results.path());
    assert_eq!(code, 0, "{log}");
    assert_eq!(message["counts"]["failed"], 1, "{message}");
    let folder = Path::new(message["local_folder"].as_str().unwrap());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(
        meta["versions"]["cinc-auditor"], "0.0.0-test-double",
        "{meta}"
    );
    assert_eq!(meta["versions"]["profile demo"], "1.2.3", "{meta}");
    assert_eq!(meta["backend"], "cinc");

    let results = tempfile::tempdir().unwrap();
    let mut args = base.to_vec();
    args.extend(["--profile", "/nonexistent/profile"]);
    let (code, log, message) = agent(&args, results.path());
    assert_eq!(code, 2, "{log}");
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/profile"),
        "{message}"
    );
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn a_target_that_exits_is_reported() {
    let results = tempfile::tempdir().unwrap();
    let mut child = Command::new("sleep").arg("0.05").spawn().unwrap();
    let pid = child.id().to_string();
    child.wait().unwrap();
    let (code, log, message) = agent(
        &["--target-pid", &pid, "--wait-seconds", "1"],
        results.path(),
    );
    assert_eq!(code, 3, "{log}");
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("not identified"),
        "{message}"
    );
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn a_target_of_another_uid_is_explained_without_sys_ptrace() {
    let target = start(Kind::Static, "sidescanotheruid");
    // The target as uid 0 with full capabilities; the agent as uid 1000 without capabilities.
    let results = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        results.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let term = results.path().join("termination-log");
    // A copy uid 1000 can execute wherever the checkout lives (e.g. under a 0700 home).
    let binary = results.path().join("sidescan-runner");
    std::fs::copy(env!("CARGO_BIN_EXE_sidescan-runner"), &binary).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "1000",
            "--regid",
            "1000",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(&binary)
        .args([
            "agent",
            "--target-pid",
            &target.pid.to_string(),
            "--wait-seconds",
            "2",
            "--results-dir",
        ])
        .arg(results.path())
        .arg("--termination-log")
        .arg(&term)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{log}");
    let message: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    let error = message["error"].as_str().unwrap();
    assert!(
        error.contains("uid 1000") && error.contains("CAP_SYS_PTRACE"),
        "{error}"
    );
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn an_unreachable_store_exits_3_and_keeps_the_files() {
    let _target = start(Kind::Static, "sidescannostore");
    let results = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sidescan-runner"))
        .args([
            "agent",
            "--target-process",
            "sidescannostore",
            "--wait-seconds",
            "10",
        ])
        .args([
            "--store",
            "s3://sidescan-test/scans",
            "--upload-attempts",
            "2",
        ])
        .arg("--results-dir")
        .arg(results.path())
        .arg("--termination-log")
        .arg(results.path().join("termination-log"))
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "unused")
        .env("AWS_SECRET_ACCESS_KEY", "unused-secret-value")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{log}");
    assert!(!log.contains("unused-secret-value"), "secret in the log");
    let message: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results.path().join("termination-log")).unwrap(),
    )
    .unwrap();
    assert_eq!(message["outcome"], "kept-locally");
    let folder = Path::new(message["local_folder"].as_str().unwrap());
    assert!(folder.join("hdf.json").is_file() && folder.join("metadata.json").is_file());
    // The log is the fallback: both files are on stdout, matching the volume and the message.
    assert_eq!(message["in_log"], true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (i, name) in ["hdf.json", "metadata.json"].into_iter().enumerate() {
        let sha = message["objects"][i]["sha256"].as_str().unwrap();
        assert_eq!(message["objects"][i]["file"], name);
        assert!(message["objects"][i].get("key").is_none());
        let logged = sidescan_runner::log_transfer::decode(&stdout, name, Some(sha)).unwrap();
        assert_eq!(logged.bytes, std::fs::read(folder.join(name)).unwrap());
    }
}

#[test]
#[ignore = "needs the S3 server: eval \"$(scripts/dev-s3 up >/dev/null && scripts/dev-s3 env)\""]
fn agent_uploads_to_the_s3_server_once() {
    let bucket = std::env::var("SIDESCAN_S3_BUCKET")
        .expect("SIDESCAN_S3_BUCKET unset: run scripts/dev-s3 env");
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL unset: run scripts/dev-s3 env");
    let _target = start(Kind::Static, "sidescans3upload");
    let results = tempfile::tempdir().unwrap();
    let store = format!("s3://{bucket}/host-tests");
    let (code, log, message) = agent(
        &[
            "--target-process",
            "sidescans3upload",
            "--wait-seconds",
            "10",
            "--store",
            &store,
        ],
        results.path(),
    );
    assert_eq!(code, 0, "{log}");
    assert_eq!(message["outcome"], "stored");
    let key = message["objects"][0]["key"].as_str().unwrap().to_string();
    assert_eq!(message["objects"][0]["file"], "hdf.json");
    assert!(
        key.starts_with("host-tests/local/target/") && key.ends_with("/hdf.json"),
        "{key}"
    );
    // Read it back and compare with the volume's copy; a second put with other bytes is refused.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = sidescan_runner::store::open(&store).unwrap();
    let local =
        std::fs::read(Path::new(message["local_folder"].as_str().unwrap()).join("hdf.json"))
            .unwrap();
    let policy = sidescan_runner::store::RetryPolicy {
        attempts: 1,
        ..Default::default()
    };
    let again = rt
        .block_on(s.put_verified(&key, &local, "application/json", policy))
        .unwrap();
    assert!(!again.created);
    let err = rt
        .block_on(s.put_verified(&key, b"{}", "application/json", policy))
        .unwrap_err();
    assert!(err.to_string().contains("never overwritten"), "{err}");
}

#[test]
#[ignore = "needs the SAF CLI: export SIDESCAN_SAF_BIN=$(scripts/install-saf)"]
fn saf_cli_accepts_the_builtin_report() {
    let saf =
        std::env::var("SIDESCAN_SAF_BIN").expect("SIDESCAN_SAF_BIN unset: run scripts/install-saf");
    let _target = start(Kind::Static, "sidescansaf");
    let results = tempfile::tempdir().unwrap();
    let (code, log, message) = agent(
        &["--target-process", "sidescansaf", "--wait-seconds", "10"],
        results.path(),
    );
    assert_eq!(code, 0, "{log}");
    let hdf = Path::new(message["local_folder"].as_str().unwrap()).join("hdf.json");
    let thresholds =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/thresholds/baseline.yml");
    let out = Command::new(&saf)
        .args(["summary", "-i"])
        .arg(&hdf)
        .args(["--format", "json", "--stdout"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "saf summary: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("sidescan-baseline") || summary.contains("compliance"),
        "{summary}"
    );
    // The static root has busybox (a shell): the medium-severity failure breaks the thresholds.
    let out = Command::new(&saf)
        .args(["validate", "threshold", "-i"])
        .arg(&hdf)
        .arg("-T")
        .arg(&thresholds)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "saf validate threshold should fail on a shell: {text}"
    );
    assert!(text.contains("not satisfied"), "{text}");
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, busybox-static, musl-tools: apt-get install proot ruby busybox-static musl-tools"]
fn cinc_view_works_as_the_targets_uid_without_any_capability() {
    use std::os::unix::fs::PermissionsExt;
    // The target: a static root, its process running as uid 65532 (chroot --userspec).
    let (dir, command) = build_root(Kind::Static, "sidescansameuser");
    let mut target = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc", "chroot"])
        .arg("--userspec=65532:65532")
        .arg(dir.path())
        .args(command.split(' '))
        .spawn()
        .expect(NEEDS);
    // Everything the scanner user needs, in a world-readable place.
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let binary = work.path().join("sidescan-runner");
    std::fs::copy(env!("CARGO_BIN_EXE_sidescan-runner"), &binary).unwrap();
    let auditor = work.path().join("cinc-auditor");
    std::fs::copy(double(), &auditor).unwrap();
    let profile = work.path().join("profile");
    write(&profile, "inspec.yml", "name: demo\n");
    let fallback = work.path().join("bin");
    std::fs::create_dir_all(&fallback).unwrap();
    std::fs::copy("/bin/busybox", fallback.join("busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", fallback.join("cat")).unwrap();
    let results = work.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    std::fs::set_permissions(&results, std::fs::Permissions::from_mode(0o777)).unwrap();
    let term = results.join("termination-log");
    let out = Command::new("setpriv")
        .args(["--reuid", "65532", "--regid", "65532", "--clear-groups"])
        .args(["--inh-caps=-all", "--bounding-set=-all"])
        .arg(&binary)
        .args([
            "agent",
            "--backend",
            "cinc",
            "--target-process",
            "/sidescansameuser/sleep",
        ])
        .args(["--wait-seconds", "10", "--cinc-auditor"])
        .arg(&auditor)
        .arg("--profile")
        .arg(&profile)
        .arg("--fallback-bin")
        .arg(&fallback)
        .arg("--results-dir")
        .arg(&results)
        .arg("--termination-log")
        .arg(&term)
        .output()
        .unwrap();
    let _ = target.kill();
    let _ = target.wait();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("\"capabilities\":\"[]\""),
        "the agent must run without capabilities: {log}"
    );
    let message: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    assert_eq!(message["counts"]["failed"], 1, "{message}");
    let folder = Path::new(message["local_folder"].as_str().unwrap());
    let hdf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("hdf.json")).unwrap()).unwrap();
    let desc = hdf["profiles"][0]["controls"][0]["results"][0]["code_desc"]
        .as_str()
        .unwrap();
    assert_eq!(
        desc,
        "file read saw sidescansameuser, spawned cat saw sidescansameuser, files 0"
    );
}

#[test]
#[ignore = "needs root, runc (scripts/dev-cluster installs it), unshare, busybox-static"]
fn runc_targets_are_pivot_rooted_and_chroot_targets_are_not() {
    use support::{Start, start_target};
    for start in Start::ALL {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        write(root, "etc/os-release", "ID=supporttarget\n");
        copy("/bin/busybox", root, "/bin/busybox");
        let target = start_target(start, root, &["/bin/busybox", "sleep", "300"], 65532, 65532);
        let seen = std::fs::read_to_string(target.root_link().join("etc/os-release")).unwrap();
        assert_eq!(seen, "ID=supporttarget\n", "{start:?}");
        let link = std::fs::read_link(target.root_link()).unwrap();
        match start {
            // What makes canonicalizing tools land in the scanner's own root.
            Start::Runc => assert_eq!(link, Path::new("/"), "{start:?}"),
            Start::Chroot => assert_eq!(link, root, "{start:?}"),
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", target.pid)).unwrap();
        assert!(
            status.contains("Uid:\t65532\t65532\t65532\t65532"),
            "{start:?}: {status}"
        );
    }
}
