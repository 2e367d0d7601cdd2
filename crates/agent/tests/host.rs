//! Host tests with real processes: targets started in their own root and PID namespace
//! (`unshare --pid --fork --mount-proc --root`, and runc from an OCI bundle, which pivot_roots),
//! built from static busybox, musl and glibc trees assembled in temp dirs. They need root,
//! unshare, runc, proot, ruby, gcc, busybox-static and musl-tools
//! (`apt-get install proot ruby busybox-static musl-tools gcc`); CI runs them as root.
//!
//! Target roots live beneath `/tmp` on purpose: the view may write only in the scan's scratch
//! directory (PRoot's own files included), never in the scanner's `/tmp`, and a target there
//! shows it. The views are checked at the kernel's Landlock ABI and at ABI 1 (the test switch
//! `SIDESCAN_LANDLOCK_MAX_ABI`), as Linux 5.13 to 5.19 offer it.

use sidescan_agent::cinc::{self, CincExit, CincOptions, Containment, ProfileSource};
use sidescan_agent::identify::{Selector, wait_for_target};
use sidescan_agent::root::TargetRoot;
use sidescan_agent::sandbox::ReadOnlyRuleset;
use sidescan_agent::view::{self, ViewConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod support;

use support::Mode;

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
    let dir = support::target_tempdir();
    let root = dir.path();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    write(root, "etc/os-release", &format!("ID={tag}\nVERSION_ID=1\n"));
    write(root, "etc/target-only", "only the target has this\n");
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
            for program in [
                "/usr/bin/sleep",
                "/usr/bin/cat",
                "/usr/bin/stat",
                "/usr/bin/ls",
            ] {
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

/// The agent's binary started in the view first, to seal it (`view-exec`), as the agent does.
fn runner_launch() -> view::Launch {
    view::launch_for(Path::new(env!("CARGO_BIN_EXE_sidescan-agent"))).unwrap()
}

fn ruby_in_view(target: &Target, script: &str) -> (Option<i32>, String, String) {
    let scratch = tempfile::tempdir().unwrap();
    let fallback = fallback_bin();
    let root = TargetRoot::open(Path::new("/proc"), target.pid).unwrap();
    let config = ViewConfig {
        proot: view::which("proot").expect(NEEDS),
        root_fd: root.raw_fd(),
        preload: Some(support::interposer()),
        fallback_bin: Some(fallback.path().to_path_buf()),
        scratch: scratch.path().to_path_buf(),
        target_path: view::target_path(Path::new("/proc"), target.pid),
        seal: Some(runner_launch()),
    };
    let ruleset = ReadOnlyRuleset::for_view(scratch.path()).unwrap();
    let launch = view::launch_for(Path::new("/usr/bin/ruby")).expect(NEEDS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let out = rt
        .block_on(cinc::run_in_view(
            &config,
            Some(&ruleset),
            &launch,
            &["-e".into(), script.into()],
            Containment {
                timeout: Duration::from_secs(60),
                sweep_descendants_of: None,
            },
        ))
        .unwrap();
    (
        out.code,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
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
        profile: ProfileSource::Path(profile.path().to_path_buf()),
        profile_sha256: None,
        profile_max_bytes: 1 << 20,
        report_max_bytes: cinc::DEFAULT_REPORT_MAX_BYTES,
        input_files: vec![profile.path().join("inputs.yml")],
        waiver_files: vec![profile.path().join("waivers.yml")],
        proot: view::which("proot").expect(NEEDS),
        proot_preload: Some(support::interposer()),
        fallback_bin: Some(fallback.path().to_path_buf()),
        timeout: Duration::from_secs(60),
        allow_writable_view: false,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = TargetRoot::open(Path::new("/proc"), target.pid).unwrap();
    let view_config = ViewConfig {
        proot: options.proot.clone(),
        root_fd: root.raw_fd(),
        preload: options.proot_preload.clone(),
        fallback_bin: options.fallback_bin.clone(),
        scratch: scratch.path().to_path_buf(),
        target_path: None,
        seal: Some(runner_launch()),
    };
    let ruleset = ReadOnlyRuleset::for_view(scratch.path()).unwrap();
    let limits = Containment {
        timeout: options.timeout,
        sweep_descendants_of: None,
    };
    let run = rt
        .block_on(cinc::scan(
            &options,
            profile.path(),
            &view_config,
            Some(&ruleset),
            limits,
        ))
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
    let counts = sidescan_agent::counts::control_counts(&run.report).unwrap();
    assert_eq!(counts["failed"], 1);
}

fn agent(args: &[&str], results: &Path) -> (i32, String, serde_json::Value) {
    let term = results.join("termination-log");
    let out = Command::new(env!("CARGO_BIN_EXE_sidescan-agent"))
        .env("SIDESCAN_LOG_FORMAT", "json")
        .arg("scan")
        .args(args)
        .arg("--proot-preload")
        .arg(support::interposer())
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
        let ww = control(&hdf, "SIDESCAN-FS-002");
        assert_eq!(
            ww["results"][0]["code_desc"], "file /srv/open.txt is not world-writable",
            "{kind:?}: {ww}"
        );
        // The shell check sees busybox only in the static root.
        let shells = control(&hdf, "SIDESCAN-SW-001");
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
    let binary = results.path().join("sidescan-agent");
    std::fs::copy(env!("CARGO_BIN_EXE_sidescan-agent"), &binary).unwrap();
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
        .env("SIDESCAN_LOG_FORMAT", "json")
        .args([
            "scan",
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
fn an_unreachable_store_fails_before_the_scan() {
    let _target = start(Kind::Static, "sidescannostore");
    let results = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_sidescan-agent"))
        .env("SIDESCAN_LOG_FORMAT", "json")
        .args([
            "scan",
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
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "not fast: {log}"
    );
    assert!(!log.contains("unused-secret-value"), "secret in the log");
    assert!(
        !log.contains("\"phase\":\"identify\""),
        "identified anyway: {log}"
    );
    let message: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results.path().join("termination-log")).unwrap(),
    )
    .unwrap();
    assert_eq!(message["outcome"], "failed");
    let error = message["error"].as_str().unwrap();
    assert!(
        error.starts_with("--store s3://sidescan-test/scans"),
        "{error}"
    );
    assert!(message["local_folder"].is_null(), "{message}");
}

/// Needs nothing but the binary: every value is refused before a target is looked for.
#[test]
fn bad_values_fail_fast_with_exit_2_naming_the_flag() {
    let results = tempfile::tempdir().unwrap();
    let file = results.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sidescan-agent"))
            .env("SIDESCAN_LOG_FORMAT", "json")
            .arg("scan")
            .args(["--target-pid", "1", "--wait-seconds", "1"])
            .args(args)
            .arg("--termination-log")
            .arg(results.path().join("termination-log"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let bad_dir = file.join("sub");
    let dir = results.path().to_str().unwrap();
    let cinc_profile = |profile| {
        [
            "--results-dir",
            dir,
            "--backend",
            "cinc",
            "--profile",
            profile,
        ]
    };
    // Each case: the arguments, and the flag the one-line error must name.
    let cases: [(&[&str], &str); 3] = [
        (
            &["--results-dir", bad_dir.to_str().unwrap()],
            "--results-dir",
        ),
        (&["--results-dir", dir, "--store", "ftp://x/y"], "--store"),
        (
            &cinc_profile("https://example.org/p.tar.gz"),
            "--profile-sha256",
        ),
    ];
    for (args, flag) in cases {
        let (code, log) = run(args);
        assert_eq!(code, Some(2), "{log}");
        assert!(log.contains(flag), "{log}");
    }
    let (code, log) = run(&cinc_profile("relative/profile"));
    assert_eq!(code, Some(2), "{log}");
    // Made absolute against the working directory before anything else.
    let cwd = std::env::current_dir().unwrap();
    assert!(
        log.contains(&format!("profile {}/relative/profile", cwd.display())),
        "{log}"
    );
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
    let s = sidescan_store::open(&store).unwrap();
    let local =
        std::fs::read(Path::new(message["local_folder"].as_str().unwrap()).join("hdf.json"))
            .unwrap();
    let policy = sidescan_store::RetryPolicy {
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

/// A control of an HDF report by id.
fn control<'a>(hdf: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    hdf["profiles"][0]["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}"))
}

fn saf_run(saf: &str, args: &[&str], paths: &[&Path]) -> (bool, String) {
    let mut command = Command::new(saf);
    // The SAF CLI writes its log (CliProcessOutput.log) into the working directory.
    command.current_dir(std::env::temp_dir()).args(args);
    for path in paths {
        command.arg(path);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// XML entities as SAF writes them in a checklist.
fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[test]
#[ignore = "needs the SAF CLI (export SIDESCAN_SAF_BIN=$(scripts/install-saf)), root, unshare, busybox-static"]
fn saf_cli_counts_the_builtin_report_as_the_agent_does() {
    let saf =
        std::env::var("SIDESCAN_SAF_BIN").expect("SIDESCAN_SAF_BIN unset: run scripts/install-saf");
    let _target = start(Kind::Static, "sidescansaf");
    let results = tempfile::tempdir().unwrap();
    // The static root's busybox is a shell; waived (run: false), SAF must count the control as
    // Not Applicable, as the agent does.
    let waivers = results.path().join("waivers.yml");
    std::fs::write(
        &waivers,
        "SIDESCAN-SW-001:\n  justification: busybox is the application\n  run: false\n  \
         expiration_date: 2099-12-31\n",
    )
    .unwrap();
    let (code, log, message) = agent(
        &[
            "--target-process",
            "sidescansaf",
            "--wait-seconds",
            "10",
            "--waiver-file",
            waivers.to_str().unwrap(),
        ],
        results.path(),
    );
    assert_eq!(code, 0, "{log}");
    let folder = Path::new(message["local_folder"].as_str().unwrap()).to_path_buf();
    let hdf_path = folder.join("hdf.json");
    let hdf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&hdf_path).unwrap()).unwrap();
    assert_eq!(
        control(&hdf, "SIDESCAN-SW-001")["waiver_data"]["skipped_due_to_waiver"],
        true
    );

    // `saf view summary` counts what the agent counted (its termination message).
    let (ok, text) = saf_run(
        &saf,
        &["view", "summary", "-f", "json", "-s", "-i"],
        &[&hdf_path],
    );
    assert!(ok, "saf view summary: {text}");
    let json_start = text.find('[').expect("JSON summary");
    let summary: serde_json::Value = serde_json::Deserializer::from_str(&text[json_start..])
        .into_iter::<serde_json::Value>()
        .next()
        .unwrap()
        .unwrap();
    let summary = &summary[0];
    assert_eq!(summary["profileName"], "sidescan-baseline");
    let counts = &message["counts"];
    for status in ["passed", "failed", "skipped", "error", "no_impact"] {
        assert_eq!(
            summary[status]["total"], counts[status],
            "{status}: saf {summary} vs agent {counts}"
        );
    }
    assert_eq!(summary["compliance"], counts["compliance"]);
    // The two inventory controls and the waived one.
    assert_eq!(counts["no_impact"], 3, "{counts}");

    // The world-writable file (medium) still breaks the baseline thresholds.
    let thresholds =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/thresholds/baseline.yml");
    let (ok, text) = saf_run(
        &saf,
        &["validate", "threshold", "-i"],
        &[&hdf_path, Path::new("-T"), &thresholds],
    );
    assert!(!ok, "saf validate threshold should fail: {text}");
    assert!(
        text.contains("not satisfied") || text.contains("not met"),
        "{text}"
    );

    // Checklist and CSV carry each control's fix text and CCIs.
    let ckl = results.path().join("report.ckl");
    let (ok, text) = saf_run(
        &saf,
        &["convert", "hdf2ckl", "-i"],
        &[&hdf_path, Path::new("-o"), &ckl],
    );
    assert!(ok, "saf convert hdf2ckl: {text}");
    let ckl = xml_unescape(&std::fs::read_to_string(&ckl).unwrap());
    let csv = results.path().join("report.csv");
    let (ok, text) = saf_run(
        &saf,
        &["convert", "hdf2csv", "-i"],
        &[&hdf_path, Path::new("-o"), &csv],
    );
    assert!(ok, "saf convert hdf2csv: {text}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.lines().next().unwrap().contains("Fix"), "{csv}");
    for def in sidescan_agent::builtin::ALL_CONTROLS {
        assert!(
            ckl.contains(def.fix),
            "{}: fix text not in the checklist",
            def.id
        );
        assert!(csv.contains(def.fix), "{}: fix text not in the CSV", def.id);
        for cci in def.cci {
            assert!(ckl.contains(cci), "{}: {cci} not in the checklist", def.id);
        }
    }
}

#[test]
#[ignore = "needs the SAF CLI: export SIDESCAN_SAF_BIN=$(scripts/install-saf)"]
fn every_cci_tag_belongs_to_one_of_its_controls_nist_tags() {
    // DISA's CCI-to-NIST list as the SAF CLI ships it (heimdall2's hdf-converters).
    let saf =
        std::env::var("SIDESCAN_SAF_BIN").expect("SIDESCAN_SAF_BIN unset: run scripts/install-saf");
    let modules = Path::new(&saf).parent().unwrap().parent().unwrap();
    let data = std::fs::read_to_string(
        modules.join("@mitre/hdf-converters/lib/src/mappings/CciNistMappingData.js"),
    )
    .unwrap();
    let nist_of = |cci: &str| -> Option<String> {
        let at = data.find(&format!("'{cci}': '"))? + cci.len() + 5;
        Some(data[at..at + data[at..].find('\'')?].to_string())
    };
    for def in sidescan_agent::builtin::ALL_CONTROLS {
        for cci in def.cci {
            let nist =
                nist_of(cci).unwrap_or_else(|| panic!("{}: {cci} is not in DISA's list", def.id));
            assert!(
                def.nist.iter().any(|tag| nist == *tag
                    || nist
                        .strip_prefix(tag)
                        .is_some_and(|rest| rest.starts_with(' '))),
                "{}: {cci} maps to {nist}, not to one of {:?}",
                def.id,
                def.nist
            );
        }
    }
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
    let binary = work.path().join("sidescan-agent");
    std::fs::copy(env!("CARGO_BIN_EXE_sidescan-agent"), &binary).unwrap();
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
        .env("SIDESCAN_LOG_FORMAT", "json")
        .args([
            "scan",
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
        .arg("--proot-preload")
        .arg(support::interposer())
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

const TARGET_UID: u32 = 65532;

/// Files and hashes of a tree, to show a scan changed nothing.
fn hashed_listing(root: &Path) -> Vec<String> {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            let hash = if meta.is_file() {
                hex::encode(sha2::Sha256::digest(std::fs::read(&path).unwrap()))
            } else {
                String::new()
            };
            out.push(format!(
                "{} {:o} {} {hash}",
                path.display(),
                meta.mode(),
                meta.size()
            ));
            if meta.is_dir() && !path.ends_with("proc") {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Run as the agent's identity outside the view: sets the file's mode, owner, times and
/// `user.sidescan` to what they are, which only its owner may do.
const METADATA_CONTROL: &str = r#"
path = ARGV[0]
st = File.stat(path)
File.chmod(st.mode & 0o7777, path)
File.chown(st.uid, st.gid, path)
File.utime(st.atime, st.mtime, path)
setxattr = Fiddle::Function.new(Fiddle::Handle::DEFAULT["setxattr"],
  [Fiddle::TYPE_VOIDP, Fiddle::TYPE_VOIDP, Fiddle::TYPE_VOIDP, Fiddle::TYPE_SIZE_T, Fiddle::TYPE_INT],
  Fiddle::TYPE_INT)
raise "setxattr: errno #{Fiddle.last_error}" unless setxattr.call(path, "user.sidescan", "before", 6, 0).zero?
print "chmod chown utime setxattr: changed"
"#;

/// `setpriv` running a program with the identity the agent has in `mode`.
fn as_scanner(mode: Mode) -> Command {
    support::as_scanner(mode, TARGET_UID)
}

/// A file's metadata as `stat` and `getfattr` report it from outside: mode, owner, group,
/// modification and change times (nanoseconds), and the value of `user.sidescan`.
fn metadata_of(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut value = [0u8; 64];
    // SAFETY: getxattr into a buffer of the size given.
    let n = unsafe {
        libc::getxattr(
            c_path.as_ptr(),
            c"user.sidescan".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    let xattr = if n < 0 {
        format!("({})", std::io::Error::last_os_error())
    } else {
        String::from_utf8_lossy(&value[..n as usize]).into_owned()
    };
    format!(
        "mode {:o} owner {}:{} mtime {}.{:09} ctime {}.{:09} user.sidescan={xattr}",
        meta.mode(),
        meta.uid(),
        meta.gid(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// Sets `user.sidescan` on `path`.
fn set_xattr(path: &Path, value: &str) {
    let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: setxattr with valid C strings and the value's length.
    let ret = unsafe {
        libc::setxattr(
            c_path.as_ptr(),
            c"user.sidescan".as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        ret,
        0,
        "setxattr {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Everything the agent needs, world-readable in /tmp (the checkout may be under a 0700 home).
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = support::agent_workdir();
        std::fs::copy(double(), dir.path().join("cinc-auditor")).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for applet in ["cat", "ls", "stat", "find", "sh", "sleep", "chmod", "touch"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        Workspace { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A directory profile with the double's hook files.
    fn profile(&self, name: &str, hooks: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        write(
            &dir,
            "inspec.yml",
            &format!("name: {name}\nversion: 0.1.0\n"),
        );
        for (file, text) in hooks {
            write(&dir, file, text);
        }
        dir
    }

    /// The agent's arguments for the workspace's tools (CINC Auditor double, fallback binaries,
    /// the PRoot interposer) and its outputs (results directory, termination log).
    fn tools_and_outputs(&self, results: &Path, term: &Path) -> Vec<std::ffi::OsString> {
        vec![
            "--cinc-auditor".into(),
            self.path("cinc-auditor").into(),
            "--fallback-bin".into(),
            self.path("bin").into(),
            "--proot-preload".into(),
            support::interposer().into(),
            "--results-dir".into(),
            results.into(),
            "--termination-log".into(),
            term.into(),
        ]
    }

    /// Runs the agent in `mode`; returns the exit code, the log and the termination message.
    fn agent(&self, mode: Mode, args: &[&str]) -> (i32, String, serde_json::Value) {
        self.agent_with(mode, args, &[])
    }

    /// [`Workspace::agent`] with more environment variables.
    fn agent_with(
        &self,
        mode: Mode,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> (i32, String, serde_json::Value) {
        use std::os::unix::fs::PermissionsExt;
        let results = tempfile::tempdir_in(self.dir.path()).unwrap();
        std::fs::set_permissions(results.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let term = results.path().join("termination-log");
        let out = as_scanner(mode)
            .arg(self.path("sidescan-agent"))
            .env("SIDESCAN_LOG_FORMAT", "json")
            .arg("scan")
            .args(args)
            .args(self.tools_and_outputs(results.path(), &term))
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let message = std::fs::read_to_string(&term).unwrap_or_default();
        let message = serde_json::from_str(&message).unwrap_or(serde_json::Value::Null);
        let folder = message["local_folder"].as_str().map(PathBuf::from);
        // Keep the run's files for the caller to read: move them out of the temp results dir.
        let mut log = String::from_utf8_lossy(&out.stderr).into_owned();
        if let Some(folder) = folder {
            for file in ["hdf.json", "metadata.json"] {
                if let Ok(text) = std::fs::read_to_string(folder.join(file)) {
                    log.push_str(&format!("\n@@{file}@@{text}"));
                }
            }
        }
        (out.status.code().unwrap_or(-1), log, message)
    }
}

/// A file of the run the agent wrote, from the log [`Workspace::agent`] returns.
fn run_file(log: &str, file: &str) -> serde_json::Value {
    let marker = format!("\n@@{file}@@");
    let start = log
        .find(&marker)
        .unwrap_or_else(|| panic!("no {file} in {log}"))
        + marker.len();
    let end = log[start..].find("\n@@").map_or(log.len(), |i| start + i);
    serde_json::from_str(&log[start..end]).unwrap()
}

/// What `metadata.json` must say of a view confined at Landlock ABI `abi`: read-only because
/// every write tried was refused, and no capability where the target is read.
fn assert_view_proven(view: &serde_json::Value, abi: u32, case: &str) {
    assert_eq!(view["read_only"], true, "{case}: {view}");
    assert_eq!(view["landlock_abi"], abi, "{case}: {view}");
    let tried = view["writes_tried"].as_array().unwrap();
    let names: Vec<&str> = tried
        .iter()
        .map(|w| w["attempt"].as_str().unwrap())
        .collect();
    for expected in [
        "open O_WRONLY /",
        "truncate /",
        "create /.sidescan-write-test-",
        "mkdir /tmp/",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(expected)),
            "{case}: {expected}… not tried: {names:?}"
        );
    }
    assert!(
        names.last().unwrap().starts_with("open O_RDONLY|O_TRUNC /"),
        "{case}: {names:?}"
    );
    for attempt in tried {
        assert_eq!(attempt["outcome"], "EACCES", "{case}: {attempt}");
    }
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(
            view["processes"][set], "0000000000000000",
            "{case}: {set}: {view}"
        );
    }
    assert_eq!(view["processes"]["NoNewPrivs"], "1", "{case}: {view}");
}

fn check_views(start: support::Start, tag: &str) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (dir, command) = build_root(Kind::Glibc, tag);
    let root = dir.path();
    // World-writable, so only the view's read-only guard can stop a write, in both modes.
    for (path, mode) in [
        ("", 0o777),
        ("etc", 0o777),
        ("etc/os-release", 0o666),
        ("etc/target-only", 0o666),
    ] {
        std::fs::set_permissions(root.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // Files the agent's identity owns, one per mode (the target's UID; root), each with an
    // extended attribute: Landlock does not govern their metadata, only the view's filter can.
    let owned = [
        ("/srv/owned-by-target", TARGET_UID),
        ("/srv/owned-by-root", 0),
    ];
    for (path, uid) in owned {
        let path = root.join(path.trim_start_matches('/'));
        std::fs::write(&path, "its metadata must not change\n").unwrap();
        std::os::unix::fs::chown(&path, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        set_xattr(&path, "before");
    }
    let listed = owned.map(|(path, _)| path).join("\n");
    let argv: Vec<&str> = command.split(' ').collect();
    let mut target = support::start_target(start, root, &argv, TARGET_UID, TARGET_UID);
    let pid = target.pid.to_string();
    let ws = Workspace::new();
    let scanner_only = ws.path("sidescan-agent").display().to_string();
    let probe = ws.profile(
        "probe",
        &[
            ("sidescan-double-probe", &scanner_only),
            ("sidescan-double-metadata", &listed),
            ("sidescan-double-glue", &listed),
        ],
    );
    // Unique per test (the runc and chroot tests run at the same time in this process).
    let which = match start {
        support::Start::Runc => 1,
        support::Start::Chroot => 2,
    };
    let hang_tag = format!("3600.{}{which}", std::process::id());
    let hang = ws.profile("hang", &[("sidescan-double-hang", &hang_tag)]);
    let mut entries: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    let os_release_inode = std::fs::metadata(root.join("etc/os-release"))
        .unwrap()
        .ino();
    let before = hashed_listing(root);

    let kernel_abi = sidescan_agent::sandbox::kernel_landlock_abi().expect("Landlock");
    let abis = [(kernel_abi, kernel_abi.to_string()), (1, "1".to_string())];
    for ((abi, abi_env), mode) in abis
        .iter()
        .flat_map(|abi| [Mode::SameUid, Mode::Ptrace].map(|mode| (abi, mode)))
    {
        let case = format!("{start:?}/{mode:?}/Landlock ABI {abi}");
        let env = [(sidescan_agent::sandbox::MAX_ABI_ENV, abi_env.as_str())];
        let base = ["--target-pid", pid.as_str(), "--wait-seconds", "10"];

        // builtin: reads beneath the pinned root descriptor, from threads that cannot write.
        let mut args = base.to_vec();
        args.extend(["--backend", "builtin"]);
        let (code, log, _) = ws.agent_with(mode, &args, &env);
        assert_eq!(code, 0, "{case} builtin: {log}");
        let meta = run_file(&log, "metadata.json");
        assert_eq!(meta["os_release"]["ID"], tag, "{case}: {meta}");
        assert_eq!(meta["view"]["mechanism"], "descriptor", "{case}");
        assert_view_proven(&meta["view"], *abi, &case);
        let caps = mode.logged_capabilities();
        assert!(log.contains(caps), "{case}: expected {caps} in {log}");
        assert_eq!(hashed_listing(root), before, "{case}: the target changed");

        // Outside the view, the agent's identity may change the metadata of the file it owns
        // (to the same values): in the view only the filter can stop it.
        let own = match mode {
            Mode::SameUid => owned[0].0,
            Mode::Ptrace => owned[1].0,
        };
        let out = as_scanner(mode)
            .args(["ruby", "-rfiddle", "-e", METADATA_CONTROL])
            .arg(target.root_link().join(own.trim_start_matches('/')))
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "chmod chown utime setxattr: changed",
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let metadata_before = owned.map(|(path, _)| metadata_of(&root.join(&path[1..])));

        // cinc: the double in the view, proven first, read-only.
        let mut args = base.to_vec();
        args.extend(["--backend", "cinc", "--profile", probe.to_str().unwrap()]);
        let (code, log, message) = ws.agent_with(mode, &args, &env);
        assert_eq!(code, 0, "{case} cinc: {log}");
        assert_eq!(message["outcome"], "stored", "{case}");
        assert!(log.contains("\"phase\":\"prove\""), "{case}: {log}");
        let meta = run_file(&log, "metadata.json");
        assert_eq!(meta["os_release"]["ID"], tag, "{case}");
        assert_eq!(meta["view"]["mechanism"], "proot", "{case}");
        let proof = meta["view"]["proof"].as_str().unwrap();
        assert!(
            proof.contains("removexattr refused with EPERM in the view"),
            "{proof}"
        );
        assert_view_proven(&meta["view"], *abi, &case);
        // The proof tried the pod's shared memory too, and the other processes (PRoot emulates
        // ptrace for the view's programs among its own tracees: another PID is ESRCH there).
        let tried = meta["view"]["writes_tried"].to_string();
        assert!(
            tried.contains("create /dev/shm/.sidescan-write-test-"),
            "{case}: {tried}"
        );
        let reached = meta["view"]["other_processes"].as_object().unwrap();
        assert_eq!(reached.len(), 4, "{case}: {reached:?}");
        for (what, outcome) in reached {
            assert!(
                ["EPERM", "EACCES", "ESRCH"].contains(&outcome.as_str().unwrap()),
                "{case}: {what}: {outcome}"
            );
        }
        let hdf = run_file(&log, "hdf.json");
        let controls = &hdf["profiles"][0]["controls"];
        assert_eq!(
            controls[0]["results"][0]["code_desc"],
            format!("file read saw {tag}, spawned cat saw {tag}, files 0"),
            "{case}"
        );
        let seen: Vec<String> = controls[1]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code_desc"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            seen,
            [
                format!("entries {}", entries.join(",")),
                "scanner-only visible false".to_string(),
                format!("stat inode {os_release_inode}"),
                "create / EACCES".into(),
                "append /etc/os-release EACCES".into(),
                "delete /etc/target-only EACCES".into(),
                "mkdir /etc/sidescan-dir EACCES".into(),
                "rename /etc/target-only EACCES".into(),
                "truncate /etc/os-release EACCES".into(),
                "O_RDONLY|O_TRUNC /etc/target-only EACCES".into(),
                "create /tmp EACCES".into(),
                "create /dev/shm EACCES".into(),
                "TMPDIR written".into(),
                "CapEff ruby 0000000000000000".into(),
                "CapEff spawned 0000000000000000".into(),
            ],
            "{case}"
        );
        assert_eq!(hashed_listing(root), before, "{case}: the target changed");
        // No metadata call reached a target file, from Ruby or from a spawned command.
        let outcomes = |control: &serde_json::Value| -> Vec<String> {
            control["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["code_desc"].as_str().unwrap().to_string())
                .collect()
        };
        let refused: Vec<String> = owned
            .iter()
            .flat_map(|(path, _)| {
                [
                    "chmod",
                    "fchmod",
                    "chown",
                    "utime",
                    "setxattr",
                    "removexattr",
                ]
                .map(|call| format!("{call} {path} EPERM"))
                .into_iter()
                .chain(["chmod", "touch"].map(|c| format!("spawned {c} {path} exit 1")))
            })
            .collect();
        assert_eq!(controls[2]["id"], "double-metadata", "{case}");
        assert_eq!(outcomes(&controls[2]), refused, "{case}");
        assert_eq!(
            owned.map(|(path, _)| metadata_of(&root.join(&path[1..]))),
            metadata_before,
            "{case}: the target's file metadata changed"
        );
        // The links planted in PRoot's temporary directory were not followed (PRoot may not
        // chmod), and the directory is gone (the agent removed it).
        let glues = outcomes(&controls[3]);
        assert!(
            !glues.is_empty(),
            "{case}: no PRoot glue directory in {log}"
        );
        for glue in glues {
            let dir = glue.strip_prefix("glue ").unwrap();
            assert!(!Path::new(dir).exists(), "{case}: {dir} left behind");
        }

        // A scan that never ends: the timeout kills the child, the daemonized grandchild and
        // everything else; nothing of the scan is left once the agent has returned.
        let mut args = base.to_vec();
        args.extend([
            "--backend",
            "cinc",
            "--scan-timeout",
            "3",
            "--profile",
            hang.to_str().unwrap(),
        ]);
        let (code, log, message) = ws.agent_with(mode, &args, &env);
        assert_eq!(code, 3, "{case} hang: {log}");
        let error = message["error"].as_str().unwrap_or_default();
        assert!(error.contains("timed out after 3s"), "{case}: {message}");
        assert_eq!(
            support::processes_with(&hang_tag),
            vec![],
            "{case}: processes of the scan outlived the agent"
        );
        assert_eq!(hashed_listing(root), before, "{case}: the target changed");
    }
    target.stop();
}

#[test]
#[ignore = "needs root, runc, proot, ruby, gcc, busybox-static: apt-get install proot ruby busybox-static gcc (runc: scripts/dev-cluster)"]
fn a_runc_target_is_seen_read_only_and_contained_in_both_modes() {
    check_views(support::Start::Runc, "sidescanviewrunc");
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, gcc, busybox-static: apt-get install proot ruby busybox-static gcc"]
fn a_chroot_target_is_seen_read_only_and_contained_in_both_modes() {
    check_views(support::Start::Chroot, "sidescanviewchroot");
}

/// The ptrace mode (root with CAP_SYS_PTRACE) without Landlock (the test switch at 0): nothing
/// but capabilities and the seccomp filter keeps a program in the view from the target's
/// process, so the view's programs must hold none.
#[test]
#[ignore = "needs root, runc, proot, ruby, gcc, busybox-static: apt-get install proot ruby busybox-static gcc (runc: scripts/dev-cluster)"]
fn view_programs_hold_no_capability_and_reach_no_process_even_without_landlock() {
    let (dir, command) = build_root(Kind::Glibc, "sidescannocaps");
    let argv: Vec<&str> = command.split(' ').collect();
    let mut target = support::start_target(
        support::Start::Runc,
        dir.path(),
        &argv,
        TARGET_UID,
        TARGET_UID,
    );
    let pid = target.pid.to_string();
    let before = hashed_listing(dir.path());
    let ws = Workspace::new();
    let profile = ws.profile("plain", &[]);
    let env = [(sidescan_agent::sandbox::MAX_ABI_ENV, "0")];
    let base = ["--target-pid", pid.as_str(), "--wait-seconds", "10"];

    // cinc refuses a view Landlock cannot make read-only…
    let mut args = base.to_vec();
    args.extend(["--backend", "cinc", "--profile", profile.to_str().unwrap()]);
    let (code, log, message) = ws.agent_with(Mode::Ptrace, &args, &env);
    assert_eq!(code, 3, "{log}");
    let error = message["error"].as_str().unwrap();
    assert!(error.contains("Landlock is unavailable"), "{error}");

    // …unless told to accept it, and then says so; its programs still hold no capability.
    args.push("--allow-writable-view");
    let (code, log, _) = ws.agent_with(Mode::Ptrace, &args, &env);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains(Mode::Ptrace.logged_capabilities()), "{log}");
    let view = &run_file(&log, "metadata.json")["view"];
    assert_eq!(view["read_only"], false, "{view}");
    assert_eq!(view["allow_writable_view"], true, "{view}");
    assert!(view["landlock_abi"].is_null(), "{view}");
    assert!(
        view.get("writes_tried").is_none(),
        "nothing may be tried: {view}"
    );
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(view["processes"][set], "0000000000000000", "{set}: {view}");
    }
    let seize = &view["other_processes"][format!("ptrace PTRACE_SEIZE {pid}")];
    assert!(
        ["EPERM", "ESRCH"].contains(&seize.as_str().unwrap()),
        "{view}"
    );
    let mem = &view["other_processes"][format!("open /proc/{pid}/mem")];
    assert!(
        ["EPERM", "EACCES"].contains(&mem.as_str().unwrap()),
        "{view}"
    );
    let agent_mem = view["other_processes"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(what, _)| what.starts_with("open /proc/") && !what.contains(&pid))
        .map(|(_, outcome)| outcome.as_str().unwrap().to_string())
        .unwrap();
    assert!(["EPERM", "EACCES"].contains(&agent_mem.as_str()), "{view}");

    // builtin runs without Landlock, and says the scan could have written.
    let mut args = base.to_vec();
    args.extend(["--backend", "builtin"]);
    let (code, log, _) = ws.agent_with(Mode::Ptrace, &args, &env);
    assert_eq!(code, 0, "{log}");
    let view = &run_file(&log, "metadata.json")["view"];
    assert_eq!(view["read_only"], false, "{view}");
    assert!(view.get("writes_tried").is_none(), "{view}");
    assert_eq!(view["processes"]["CapEff"], "0000000000000000", "{view}");
    assert_eq!(hashed_listing(dir.path()), before, "the target changed");
    target.stop();
}

/// The report lies in the scratch directory, which the view may write: a link, a FIFO or a
/// file too large in its place ends the run (exit 3) naming it, without hanging or filling
/// the agent's memory.
#[test]
#[ignore = "needs root, unshare, proot, ruby, gcc, busybox-static: apt-get install proot ruby busybox-static gcc"]
fn a_report_replaced_by_a_link_a_fifo_or_a_large_file_is_refused() {
    let _target = start(Kind::Static, "sidescanreport");
    let ws = Workspace::new();
    let cases = [
        ("zero-link", "cinc-report.json is a symbolic link"),
        ("fifo", "cinc-report.json is a FIFO, not a regular file"),
        (
            "big 4096",
            "cinc-report.json is 4096 bytes, more than the 4000 allowed (--report-max-bytes)",
        ),
    ];
    for (replacement, expected) in cases {
        let name = format!("report-{}", replacement.split(' ').next().unwrap());
        let profile = ws.profile(&name, &[("sidescan-double-report", replacement)]);
        let started = Instant::now();
        let (code, log, message) = ws.agent(
            Mode::Ptrace,
            &[
                "--target-process",
                "sidescanreport",
                "--wait-seconds",
                "10",
                "--backend",
                "cinc",
                "--report-max-bytes",
                "4000",
                "--profile",
                profile.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 3, "{replacement}: {log}");
        let error = message["error"].as_str().unwrap();
        assert!(error.contains(expected), "{replacement}: {error}");
        assert!(started.elapsed() < Duration::from_secs(60), "{replacement}");
    }
}

#[test]
#[ignore = "needs root, proot, ruby, gcc and the S3 server: eval \"$(scripts/dev-s3 up >/dev/null && scripts/dev-s3 env)\""]
fn a_profile_archive_is_fetched_from_s3_and_verified() {
    use sha2::Digest;
    let bucket = std::env::var("SIDESCAN_S3_BUCKET")
        .expect("SIDESCAN_S3_BUCKET unset: run scripts/dev-s3 env");
    let _target = start(Kind::Glibc, "sidescanprofileurl");
    // An archive (the double only needs it to exist in the view; CINC Auditor reads it).
    let archive: &[u8] =
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00";
    let sha = hex::encode(sha2::Sha256::digest(archive));
    let key = format!("host-tests/profiles/{:016x}/demo-1.0.tar.gz", rand_u64());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = sidescan_store::open(&format!("s3://{bucket}")).unwrap();
    rt.block_on(store.put_verified(
        &key,
        archive,
        "application/gzip",
        sidescan_store::RetryPolicy::default(),
    ))
    .unwrap();
    let url = format!("s3://{bucket}/{key}");
    let base = [
        "--backend",
        "cinc",
        "--target-process",
        "sidescanprofileurl",
        "--wait-seconds",
        "10",
        "--cinc-auditor",
    ];
    let double = double();
    // The agent fetching `url` checked against `digest`; the results dir lives as long as the
    // caller reads from it.
    let run_with_digest = |digest: &str| {
        let mut args = base.to_vec();
        args.extend([
            double.to_str().unwrap(),
            "--profile",
            &url,
            "--profile-sha256",
            digest,
        ]);
        let results = tempfile::tempdir().unwrap();
        let (code, log, message) = agent(&args, results.path());
        (results, code, log, message)
    };
    let (_results, code, log, message) = run_with_digest(&sha);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("profile fetched"), "{log}");
    let folder = Path::new(message["local_folder"].as_str().unwrap());
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(meta["profile"], url.as_str());

    // The wrong digest is bad input, found before the target is even looked for.
    let (_wrong_results, code, log, message) = run_with_digest(&"0".repeat(64));
    assert_eq!(code, 2, "{log}");
    assert!(
        message["error"].as_str().unwrap().contains(&sha),
        "{message}"
    );
    assert!(!log.contains("\"phase\":\"identify\""), "{log}");
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, gcc, busybox-static: apt-get install proot ruby busybox-static gcc"]
fn sigterm_kills_the_scan_and_reports_it() {
    let _target = start(Kind::Glibc, "sidescansigterm");
    let ws = Workspace::new();
    let tag = format!("3600.{}9", std::process::id());
    let hang = ws.profile("hang", &[("sidescan-double-hang", &tag)]);
    let results = tempfile::tempdir().unwrap();
    let term = results.path().join("termination-log");
    let mut agent = Command::new(ws.path("sidescan-agent"))
        .env("SIDESCAN_LOG_FORMAT", "json")
        .args([
            "scan",
            "--backend",
            "cinc",
            "--target-process",
            "sidescansigterm",
        ])
        .args(["--wait-seconds", "10", "--scan-timeout", "120", "--profile"])
        .arg(&hang)
        .args(ws.tools_and_outputs(results.path(), &term))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The scan runs once its child and daemonized grandchild exist.
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::processes_with(&tag).len() < 2 {
        assert!(Instant::now() < deadline, "the scan did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = agent.wait().unwrap().code();
    assert_eq!(code, Some(3));
    let message: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    assert_eq!(message["outcome"], "failed");
    assert!(
        message["error"]
            .as_str()
            .unwrap()
            .contains("terminated by SIGTERM"),
        "{message}"
    );
    assert_eq!(
        support::processes_with(&tag),
        vec![],
        "the scan outlived the agent"
    );
}

#[test]
#[ignore = "needs root, runc, proot, ruby, gcc, busybox-static: apt-get install proot ruby busybox-static gcc (runc: scripts/dev-cluster)"]
fn a_target_that_exits_during_the_scan_gives_no_result() {
    let (dir, command) = build_root(Kind::Glibc, "sidescanvanish");
    let argv: Vec<&str> = command.split(' ').collect();
    let mut target = support::start_target(support::Start::Runc, dir.path(), &argv, 0, 0);
    let ws = Workspace::new();
    let profile = ws.profile("pause", &[("sidescan-double-pause", "3")]);
    let results = tempfile::tempdir().unwrap();
    let term = results.path().join("termination-log");
    let agent = Command::new(ws.path("sidescan-agent"))
        .env("SIDESCAN_LOG_FORMAT", "json")
        .args(["scan", "--backend", "cinc", "--target-pid"])
        .arg(target.pid.to_string())
        .args(["--wait-seconds", "10", "--profile"])
        .arg(&profile)
        .args(ws.tools_and_outputs(results.path(), &term))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the target while the tool runs in its view.
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::processes_with("cinc-auditor exec").is_empty() {
        assert!(Instant::now() < deadline, "the scan did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    target.stop();
    let out = agent.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{log}");
    let message: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    let error = message["error"].as_str().unwrap();
    assert!(error.contains("exited during the scan"), "{error}");
    assert!(message["local_folder"].is_null(), "{message}");
    let stored: Vec<_> = std::fs::read_dir(results.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "termination-log")
        .collect();
    assert!(
        stored.iter().all(|n| n == "store"),
        "results written for a vanished target: {stored:?}"
    );
}

#[test]
#[ignore = "needs root, unshare, proot, ruby, curl and SeaweedFS: eval \"$(scripts/dev-s3 up >/dev/null && scripts/dev-s3 env)\""]
fn a_store_lost_during_the_scan_keeps_the_results_on_the_volume() {
    use object_store::ObjectStoreExt;
    let weed = std::env::var("SIDESCAN_WEED_BIN")
        .expect("SIDESCAN_WEED_BIN unset: run scripts/dev-s3 env");
    // Its own server: this test stops it.
    let mut s3 = support::seaweed::OwnS3::start(Path::new(&weed), "sidescan-kept");
    let _target = start(Kind::Static, "sidescankeptlocally");
    let ws = Workspace::new();
    // A scan of a few seconds: long enough to stop the store once the tool runs in the view.
    let profile = ws.profile("pause", &[("sidescan-double-pause", "2")]);
    let results = tempfile::tempdir().unwrap();
    let term = results.path().join("termination-log");
    let store_url = format!("s3://{}/kept", s3.bucket);
    let mut command = Command::new(ws.path("sidescan-agent"));
    command.env("SIDESCAN_LOG_FORMAT", "json");
    command
        .args(["scan", "--backend", "cinc", "--target-process"])
        .args(["sidescankeptlocally", "--wait-seconds", "10", "--profile"])
        .arg(&profile)
        .args(ws.tools_and_outputs(results.path(), &term))
        .args(["--store", &store_url, "--upload-attempts", "2"])
        .arg("--log-results-on-failure")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("AWS_")) {
        command.env_remove(key);
    }
    let agent = command.envs(s3.env()).spawn().unwrap();
    // The preflight found the store; it goes away while the tool runs in the view.
    let running = format!("exec {}", view::in_view(&profile).display());
    let deadline = Instant::now() + Duration::from_secs(30);
    while support::processes_with(&running).is_empty() {
        assert!(Instant::now() < deadline, "the scan did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    s3.stop_gateway();
    let out = agent.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{log}");
    assert!(!log.contains(&s3.env()[1].1), "the secret is in the log");
    let message: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&term).unwrap()).unwrap();
    assert_eq!(message["outcome"], "kept-locally", "{message}");
    assert_eq!(message["store"], store_url.as_str());
    let folder = PathBuf::from(message["local_folder"].as_str().unwrap());
    let error = message["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!("upload to {store_url} failed"))
            && error.ends_with(&format!("the results stay in {}", folder.display())),
        "{error}"
    );
    // Nothing lost: both files on the volume, whole and valid, and they agree with the message.
    let hdf_bytes = std::fs::read(folder.join("hdf.json")).unwrap();
    let metadata_bytes = std::fs::read(folder.join("metadata.json")).unwrap();
    let counts = sidescan_agent::counts::control_counts(&hdf_bytes).unwrap();
    assert_eq!(counts["failed"], 1, "{counts:?}");
    assert_eq!(serde_json::to_value(&counts).unwrap(), message["counts"]);
    let metadata: serde_json::Value = serde_json::from_slice(&metadata_bytes).unwrap();
    assert_eq!(metadata["run_id"], message["run_id"]);
    assert_eq!(metadata["backend"], "cinc");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["hdf.json", "metadata.json"], "partial files left");
    // The log is the other fallback when asked for: both files are on stdout, matching the
    // volume and the message.
    assert_eq!(message["in_log"], true, "{message}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (i, (name, bytes)) in [("hdf.json", &hdf_bytes), ("metadata.json", &metadata_bytes)]
        .into_iter()
        .enumerate()
    {
        let sha = message["objects"][i]["sha256"].as_str().unwrap();
        assert_eq!(message["objects"][i]["file"], name);
        assert!(message["objects"][i].get("key").is_none(), "{message}");
        let logged = sidescan_core::log_transfer::decode(&stdout, name, Some(sha)).unwrap();
        assert_eq!(&logged.bytes, bytes, "{name}");
    }

    // The store is back: the kept files upload with the agent's own verified put, once.
    s3.start_gateway();
    let relative = folder.strip_prefix(results.path()).unwrap();
    let store = sidescan_store::Store {
        url: store_url.clone(),
        inner: std::sync::Arc::new(s3.client()),
        prefix: "kept".into(),
        attributes: true,
        signer: None,
        pager: None,
    };
    let policy = sidescan_store::RetryPolicy {
        attempts: 1,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (file, bytes) in [("hdf.json", &hdf_bytes), ("metadata.json", &metadata_bytes)] {
        let key = store.full_key(&format!("{}/{file}", relative.display()));
        let put =
            |bytes: &[u8]| rt.block_on(store.put_verified(&key, bytes, "application/json", policy));
        let stored = |key: &str| {
            let path = object_store::path::Path::from(key);
            rt.block_on(async { store.inner.get(&path).await?.bytes().await })
                .unwrap()
                .to_vec()
        };
        assert!(put(bytes).unwrap().created, "{key}");
        assert_eq!(&stored(&key), bytes, "{key}");
        // Again: already there with the same content, nothing written.
        assert!(!put(bytes).unwrap().created, "{key}");
        // Other content under the same key is refused; the object keeps the scan's bytes.
        let err = put(b"{}").unwrap_err();
        assert!(err.to_string().contains("never overwritten"), "{err}");
        assert_eq!(&stored(&key), bytes, "{key}");
    }
}
