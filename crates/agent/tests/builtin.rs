//! Host tests of the builtin baseline on the planted root (tests/fixtures/planted-root/build.sh):
//! a target started by runc (pivot_root, as container runtimes do), scanned by the real agent
//! binary in both security modes:
//! - same-uid: the agent runs as the target's uid with no capabilities at all;
//! - ptrace: the agent runs as root with CAP_SYS_PTRACE as its only capability (no
//!   CAP_DAC_OVERRIDE: root reads only what root owns or what is open to all).
//!
//! They need root, runc (scripts/dev-cluster installs it), openssl and busybox-static.

mod support;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{Mode, Options, RunningTarget, Start, as_scanner, start_target_with};

const TARGET_UID: u32 = 1000;
const OTHER_UID: u32 = 2000;
/// Every secret the build script plants holds this marker.
const SECRET_MARKER: &str = "SIDESCANSECRET";
/// The key that exists only on the scanner's side holds this marker.
const ESCAPE_MARKER: &str = "SIDESCANESCAPE";

/// A directory on the scanner's side (the host), removed on drop.
struct HostDir(PathBuf);

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Planted {
    _dir: tempfile::TempDir,
    root: PathBuf,
    _escape: HostDir,
    escape_name: String,
    volume: tempfile::TempDir,
}

fn planted() -> Planted {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    // The escape target: a directory at an absolute path that exists on the host only.
    let escape_name = format!("sidescan-escape-{}", std::process::id());
    let escape = HostDir(PathBuf::from("/var/lib").join(&escape_name));
    std::fs::create_dir_all(&escape.0).unwrap();
    std::fs::write(
        escape.0.join("scanner-side.key"),
        format!("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI{ESCAPE_MARKER}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/planted-root/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&root)
        .args([TARGET_UID.to_string(), OTHER_UID.to_string()])
        .arg(&escape.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A volume: another filesystem mounted in the target, with findings the walk must not reach.
    let volume = tempfile::tempdir().unwrap();
    std::fs::write(volume.path().join("volume-suid"), "x").unwrap();
    std::fs::set_permissions(
        volume.path().join("volume-suid"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4755),
    )
    .unwrap();
    Planted {
        _dir: dir,
        root,
        _escape: escape,
        escape_name,
        volume,
    }
}

fn start(planted: &Planted) -> RunningTarget {
    start_target_with(
        Start::Runc,
        &planted.root,
        &["/app/busybox", "sleep", "600"],
        TARGET_UID,
        TARGET_UID,
        &Options {
            env: vec![
                "PATH=/opt/tools/bin:/usr/local/bin:/usr/bin:/bin".into(),
                "HOME=/home/app".into(),
            ],
            volumes: vec![(planted.volume.path().to_path_buf(), "/data".into())],
        },
    )
}

/// A results directory and a copy of the agent any uid can run.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        use std::os::unix::fs::PermissionsExt;
        let dir = support::agent_workdir();
        for sub in ["results", "store"] {
            let path = dir.path().join(sub);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        Work { dir }
    }

    fn results(&self) -> PathBuf {
        self.dir.path().join("results")
    }

    /// The agent as the mode says, against `pid`.
    fn command(&self, mode: Mode, pid: u32, extra: &[&str]) -> Command {
        let mut command = as_scanner(mode, TARGET_UID);
        command
            .arg(self.dir.path().join("sidescan-agent"))
            .env("SIDESCAN_LOG_FORMAT", "json")
            .args(["scan", "--backend", "builtin", "--target-pid"])
            .arg(pid.to_string())
            .args(["--wait-seconds", "10", "--target-name", "planted"])
            .arg("--results-dir")
            .arg(self.results())
            .arg("--store")
            .arg(format!(
                "file://{}/",
                self.dir.path().join("store").display()
            ))
            .arg("--termination-log")
            .arg(self.dir.path().join("termination-log"))
            .args(extra);
        command
    }

    fn message(&self) -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(self.dir.path().join("termination-log")).unwrap(),
        )
        .unwrap()
    }
}

struct Scan {
    log: String,
    message: serde_json::Value,
    hdf: serde_json::Value,
    hdf_text: String,
}

fn scan(mode: Mode, pid: u32, extra: &[&str]) -> Scan {
    let work = Work::new();
    let out = work.command(mode, pid, extra).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{mode:?}: {log}");
    let caps = mode.logged_capabilities();
    assert!(log.contains(caps), "{mode:?}: expected {caps} in {log}");
    let message = work.message();
    let folder = PathBuf::from(message["local_folder"].as_str().unwrap());
    let hdf_text = std::fs::read_to_string(folder.join("hdf.json")).unwrap();
    let hdf = serde_json::from_str(&hdf_text).unwrap();
    Scan {
        log,
        message,
        hdf,
        hdf_text,
    }
}

/// (status, code_desc, message) of a control's results.
fn results(hdf: &serde_json::Value, id: &str) -> Vec<(String, String, String)> {
    let control = hdf["profiles"][0]["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no control {id}"));
    control["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (
                text("status"),
                text("code_desc"),
                format!("{}{}", text("message"), text("skip_message")),
            )
        })
        .collect()
}

/// The code_desc of a control's results with `status`, as a set.
fn with_status(hdf: &serde_json::Value, id: &str, status: &str) -> BTreeSet<String> {
    results(hdf, id)
        .into_iter()
        .filter(|(s, _, _)| s == status)
        .map(|(_, d, _)| d)
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn key(path: &str) -> String {
    format!("{path} holds no private key")
}

#[test]
#[ignore = "needs root, runc (scripts/dev-cluster installs it), openssl, busybox-static"]
fn the_planted_root_is_reported_truthfully_in_both_security_modes() {
    let planted = planted();
    let target = start(&planted);
    for mode in [Mode::SameUid, Mode::Ptrace] {
        let s = scan(mode, target.pid, &[]);
        let hdf = &s.hdf;
        let ctx = format!("{mode:?}");
        // Nothing secret, and nothing from the scanner's side, reaches the report.
        assert!(
            !s.hdf_text.contains(SECRET_MARKER),
            "{ctx}: a secret leaked"
        );
        assert!(
            !s.log.contains(SECRET_MARKER),
            "{ctx}: a secret leaked into the log"
        );
        assert!(
            !s.hdf_text.contains(ESCAPE_MARKER),
            "{ctx}: followed the escape link"
        );
        assert!(
            !s.hdf_text.contains(&planted.escape_name),
            "{ctx}: followed the escape link"
        );
        assert!(
            !results(hdf, "SIDESCAN-KEY-001")
                .iter()
                .any(|(_, d, m)| d.contains("/etc/pki/tls/private") || m.contains("scanner-side")),
            "{ctx}: followed the escape link"
        );
        // The volume is listed, not walked.
        assert!(
            !s.hdf_text.contains("volume-suid"),
            "{ctx}: walked the volume"
        );
        assert!(
            with_status(hdf, "SIDESCAN-FS-003", "skipped").contains("/data was walked"),
            "{ctx}: {:?}",
            results(hdf, "SIDESCAN-FS-003")
        );
        assert_eq!(hdf["platform"]["target_id"], "local/planted", "{ctx}");
        assert!(
            hdf["statistics"]["controls"]["failed"]["total"]
                .as_u64()
                .unwrap()
                > 0
        );

        assert_eq!(
            with_status(hdf, "SIDESCAN-FS-002", "failed"),
            set(&[
                "directory /srv/shared is not world-writable",
                "file /etc/app.conf is not world-writable"
            ]),
            "{ctx}"
        );
        assert_eq!(
            with_status(hdf, "SIDESCAN-FS-003", "failed"),
            set(&[
                "/tmp/.cache/rootshell has neither setuid nor setgid",
                "/usr/bin/passwd has neither setuid nor setgid",
                "/usr/bin/wall has neither setuid nor setgid"
            ]),
            "{ctx}"
        );
        assert_eq!(
            with_status(hdf, "SIDESCAN-SW-001", "failed"),
            set(&[
                "shell /usr/local/sbin/sh is not present",
                "shell /opt/tools/bin/bash is not present"
            ]),
            "{ctx}: {:?}",
            results(hdf, "SIDESCAN-SW-001")
        );
        assert_eq!(
            with_status(hdf, "SIDESCAN-SW-002", "failed"),
            set(&["package manager /usr/bin/apt-get is not present"]),
            "{ctx}"
        );
        let mut keys = set(&[
            &key("/srv/tls/tls.crt"),
            &key("/opt/app/bundle.pem"),
            &key("/opt/app/key.der"),
            &key("/opt/deploy/deploy_key"),
            &key("/srv/caf\\xe9/id_ecdsa"),
            &key("/tmp/.cache/stolen.pem"),
            &key("/var/backups/backup.enc"),
            &key("/var/backups/legacy-rsa"),
        ]);
        let mut key_errors = set(&[
            "directory /home/u/.ssh was walked",
            "file /etc/ssh/ssh_host_huge_key was checked",
        ]);
        let mut credentials = set(&[
            "/opt/ci/.aws/credentials holds no credentials",
            "/opt/ci/.docker/config.json holds no credentials",
            "/opt/ci/.git-credentials holds no credentials",
            "/opt/ci/.kube/config holds no credentials",
            "/opt/ci/.netrc holds no credentials",
        ]);
        match mode {
            Mode::SameUid => {
                key_errors.extend(set(&[
                    "directory /etc/ssl/private was walked",
                    "directory /root was walked",
                    "file /var/log/secret.log was read",
                    "file /etc/shadow was read",
                ]));
                credentials.insert("/home/app/.git-credentials holds no credentials".into());
                assert_eq!(
                    with_status(hdf, "SIDESCAN-ACCT-002", "error"),
                    set(&["/etc/shadow was read"]),
                    "{ctx}"
                );
            }
            Mode::Ptrace => {
                key_errors.insert("file /home/app/.git-credentials was read".into());
                keys.insert(key("/etc/ssl/private/server.key"));
                keys.insert(key("/root/.ssh/id_ed25519"));
                assert_eq!(
                    with_status(hdf, "SIDESCAN-KEY-002", "error"),
                    set(&[
                        "directory /home/u/.ssh was walked",
                        "file /home/app/.git-credentials was read"
                    ]),
                    "{ctx}"
                );
                assert_eq!(
                    with_status(hdf, "SIDESCAN-ACCT-002", "failed"),
                    set(&["account nopw has a password or is locked"]),
                    "{ctx}"
                );
            }
        }
        assert_eq!(
            with_status(hdf, "SIDESCAN-KEY-001", "failed"),
            keys,
            "{ctx}"
        );
        assert_eq!(
            with_status(hdf, "SIDESCAN-KEY-001", "error"),
            key_errors,
            "{ctx}"
        );
        assert_eq!(
            with_status(hdf, "SIDESCAN-KEY-002", "failed"),
            credentials,
            "{ctx}"
        );
        // Unreadable directories are errors naming the reason, in every walk-based control.
        for id in [
            "SIDESCAN-FS-002",
            "SIDESCAN-FS-003",
            "SIDESCAN-KEY-001",
            "SIDESCAN-KEY-002",
        ] {
            let errors = results(hdf, id);
            assert!(
                errors.iter().any(|(s, d, m)| s == "error"
                    && d == "directory /home/u/.ssh was walked"
                    && m.contains("EACCES")),
                "{ctx} {id}: {errors:?}"
            );
        }
        assert!(s.message["counts"]["error"].as_u64().unwrap() >= 4, "{ctx}");
        assert_eq!(
            with_status(hdf, "SIDESCAN-ACCT-001", "failed"),
            set(&["account toor does not have UID 0"])
        );
        assert_eq!(
            with_status(hdf, "SIDESCAN-ACCT-003", "failed"),
            set(&["system account backup has no login shell"])
        );
        // The process as runc started it: uid 1000, no capabilities, no_new_privs, no seccomp
        // filter (the bundle sets none), a writable root.
        for (id, status) in [
            ("SIDESCAN-PROC-001", "passed"),
            ("SIDESCAN-PROC-002", "passed"),
            ("SIDESCAN-PROC-003", "passed"),
            ("SIDESCAN-PROC-004", "failed"),
            ("SIDESCAN-PROC-005", "failed"),
        ] {
            let r = results(hdf, id);
            assert_eq!(r.len(), 1, "{ctx} {id}");
            assert_eq!(r[0].0, status, "{ctx} {id}: {r:?}");
        }
        // No LSM on the node: skipped and said so; with AppArmor, runc's default is unconfined.
        let lsm = results(hdf, "SIDESCAN-PROC-006");
        assert!(
            lsm[0].0 == "skipped" && lsm[0].2.contains("no AppArmor or SELinux")
                || lsm[0].0 == "failed",
            "{ctx}: {lsm:?}"
        );
    }
}

/// `find` output (NUL-separated paths under `root`) as target paths, escaped as the report
/// escapes names.
fn target_paths(root: &Path, raw: &[u8]) -> BTreeSet<String> {
    raw.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let rel = &p[root.as_os_str().as_bytes().len()..];
            escape(rel)
        })
        .collect()
}

/// The report's escaping, written again: printable ASCII but `\` kept, everything else `\xNN`
/// (UTF-8 is kept too; the planted names are ASCII or Latin-1).
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for b in bytes {
        match *b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(*b as char),
            other => out.push_str(&format!("\\x{other:02x}")),
        }
    }
    out
}

fn find(root: &Path, predicate: &[&str]) -> BTreeSet<String> {
    let r = root.display().to_string();
    let out = Command::new("find")
        .arg(root)
        .args(["-xdev", "(", "-path"])
        .arg(format!("{r}/proc"))
        .arg("-o")
        .arg("-path")
        .arg(format!("{r}/sys"))
        .arg("-o")
        .arg("-path")
        .arg(format!("{r}/dev"))
        .args([")", "-prune", "-o"])
        .args(predicate)
        .arg("-print0")
        .output()
        .unwrap();
    assert!(out.status.success(), "find {predicate:?}");
    target_paths(root, &out.stdout)
}

#[test]
#[ignore = "needs root, runc (scripts/dev-cluster installs it), openssl, busybox-static"]
fn the_agents_findings_match_an_independent_walk() {
    let planted = planted();
    let target = start(&planted);
    let s = scan(Mode::Ptrace, target.pid, &[]);
    let hdf = &s.hdf;
    // Directories the agent could not read, and what lies beneath them.
    let gaps: Vec<String> = with_status(hdf, "SIDESCAN-FS-003", "error")
        .into_iter()
        .filter_map(|d| {
            d.strip_prefix("directory ")
                .and_then(|d| d.strip_suffix(" was walked"))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(gaps, ["/home/u/.ssh"]);
    let visible = |path: &String| {
        !gaps.iter().any(|g| {
            path.strip_prefix(g.as_str())
                .is_some_and(|r| r.starts_with('/'))
        })
    };
    let strip = |set: BTreeSet<String>, suffix: &str| -> BTreeSet<String> {
        set.into_iter()
            .filter_map(|d| d.strip_suffix(suffix).map(str::to_string))
            .collect()
    };
    // setuid/setgid regular files, as root sees them with find.
    let found: BTreeSet<String> = find(&planted.root, &["-type", "f", "-perm", "/6000"])
        .into_iter()
        .filter(visible)
        .collect();
    let reported = strip(
        with_status(hdf, "SIDESCAN-FS-003", "failed"),
        " has neither setuid nor setgid",
    );
    assert_eq!(reported, found);
    // World-writable entries outside the temporary directories.
    let temp = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];
    let found: BTreeSet<String> = find(&planted.root, &["!", "-type", "l", "-perm", "-0002"])
        .into_iter()
        .filter(visible)
        .filter(|p| {
            !temp
                .iter()
                .any(|t| p == t || p.strip_prefix(t).is_some_and(|r| r.starts_with('/')))
        })
        .collect();
    let reported: BTreeSet<String> = with_status(hdf, "SIDESCAN-FS-002", "failed")
        .into_iter()
        .filter_map(|d| {
            d.strip_suffix(" is not world-writable")
                .and_then(|d| d.split_once(' '))
                .map(|(_, p)| p.to_string())
        })
        .collect();
    assert_eq!(reported, found);
    // PEM private keys: grep's view of text files up to 1 MiB.
    let out = Command::new("grep")
        .args(["-rlZI", "-E", "^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?$"])
        .arg(&planted.root)
        .output()
        .unwrap();
    let grep: BTreeSet<String> = target_paths(&planted.root, &out.stdout)
        .into_iter()
        .filter(visible)
        .filter(|p| {
            std::fs::metadata(planted.root.join(p.trim_start_matches('/')))
                .map(|m| m.len() <= 1024 * 1024)
                .unwrap_or(true)
        })
        .collect();
    let pem: BTreeSet<String> = results(hdf, "SIDESCAN-KEY-001")
        .into_iter()
        .filter(|(s, _, m)| s == "failed" && !m.contains("DER"))
        .filter_map(|(_, d, _)| d.strip_suffix(" holds no private key").map(str::to_string))
        .collect();
    // grep cannot name non-UTF-8 paths the same way; compare everything it found.
    assert_eq!(pem, grep);
    assert!(pem.len() >= 8, "{pem:?}");
}

#[test]
#[ignore = "needs root, runc (scripts/dev-cluster installs it), openssl, busybox-static"]
fn a_target_that_exits_during_the_walk_stores_nothing() {
    let planted = planted();
    // Enough entries for the walk to outlast stopping the target: the host's /usr mounted at a
    // temporary directory, which the walk follows onto any filesystem.
    let mut target = start_target_with(
        Start::Runc,
        &planted.root,
        &["/app/busybox", "sleep", "600"],
        TARGET_UID,
        TARGET_UID,
        &Options {
            env: vec![],
            volumes: vec![(PathBuf::from("/usr"), "/var/tmp".into())],
        },
    );
    let work = Work::new();
    let mut child = work
        .command(Mode::Ptrace, target.pid, &[])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the target as soon as the agent has verified its root, i.e. as the walk begins.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut log = String::new();
    let mut stopped = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if !stopped && line.contains("target root readable") {
            target.stop();
            stopped = true;
        }
        log.push_str(&line);
        log.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(stopped, "{log}");
    assert_eq!(status.code(), Some(3), "{log}");
    let message = work.message();
    let error = message["error"].as_str().unwrap();
    assert!(error.contains("exited during the builtin scan"), "{error}");
    assert_eq!(message["outcome"], "failed");
    // Nothing was written as a result, on the volume or in the store.
    let written = Command::new("find")
        .arg(work.dir.path())
        .args(["-name", "hdf.json"])
        .output()
        .unwrap();
    assert!(
        written.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&written.stdout)
    );
}

#[test]
#[ignore = "needs root, runc (scripts/dev-cluster installs it), openssl, busybox-static"]
fn inputs_and_waivers_reach_the_builtin_backend() {
    let planted = planted();
    let target = start(&planted);
    let work = Work::new();
    let inputs = work.dir.path().join("inputs.yml");
    std::fs::write(
        &inputs,
        "allowed_setid_binaries: [/usr/bin/passwd, /usr/bin/wall]\n\
         allowed_unreadable_paths: [/home/u/.ssh]\nother_profile_input: 1\n",
    )
    .unwrap();
    let waivers = work.dir.path().join("waivers.yml");
    std::fs::write(
        &waivers,
        "SIDESCAN-SW-002:\n  justification: apt-get is needed by the entrypoint\n  run: false\n  \
         expiration_date: 2099-12-31\n\
         SIDESCAN-SW-001:\n  justification: expired\n  run: false\n  expiration_date: 2001-01-01\n",
    )
    .unwrap();
    let inputs_arg = inputs.display().to_string();
    let waivers_arg = waivers.display().to_string();
    let s = scan(
        Mode::Ptrace,
        target.pid,
        &["--input-file", &inputs_arg, "--waiver-file", &waivers_arg],
    );
    let hdf = &s.hdf;
    assert_eq!(
        with_status(hdf, "SIDESCAN-FS-003", "failed"),
        set(&["/tmp/.cache/rootshell has neither setuid nor setgid"])
    );
    assert_eq!(with_status(hdf, "SIDESCAN-FS-003", "passed").len(), 2);
    // The accepted unreadable directory is listed as skipped, not as an error.
    assert!(with_status(hdf, "SIDESCAN-FS-003", "error").is_empty());
    assert!(
        with_status(hdf, "SIDESCAN-FS-003", "skipped")
            .contains("directory /home/u/.ssh was walked")
    );
    let sw2 = hdf["profiles"][0]["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "SIDESCAN-SW-002")
        .unwrap();
    assert_eq!(sw2["waiver_data"]["skipped_due_to_waiver"], true, "{sw2}");
    assert_eq!(sw2["results"][0]["status"], "skipped");
    // The expired waiver leaves the shells failing.
    assert!(!with_status(hdf, "SIDESCAN-SW-001", "failed").is_empty());
    assert!(s.log.contains("other_profile_input"), "{}", s.log);

    // A bad waiver file is bad input: exit 2 naming the file, before any scan.
    std::fs::write(&waivers, "SIDESCAN-SW-002:\n  run: sometimes\n").unwrap();
    let work2 = Work::new();
    let out = work2
        .command(Mode::Ptrace, target.pid, &["--waiver-file", &waivers_arg])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let error = work2.message()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("waivers.yml") && error.contains("run"),
        "{error}"
    );
}
