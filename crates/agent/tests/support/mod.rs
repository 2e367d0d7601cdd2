//! Test targets started the way container runtimes start them, for the host tests (root only).
//!
//! - [`Start::Runc`]: `runc run` from an OCI bundle (runc `pivot_root`s into the root, new mount,
//!   PID, IPC and UTS namespaces), exactly what containerd does for a pod's container. After
//!   `pivot_root`, `readlink /proc/<pid>/root` is `/`: tools that canonicalize that path end up in
//!   the scanner's own root.
//! - [`Start::Chroot`]: `unshare --pid --fork --mount-proc --root` (a `chroot`, the way older
//!   tests and some runtimes start processes).
//!
//! The target runs as `uid:gid` and is killed (and its runc container deleted) on drop.
#![allow(dead_code)]

pub mod seaweed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How the target process is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Runc,
    Chroot,
}

impl Start {
    pub const ALL: [Start; 2] = [Start::Runc, Start::Chroot];
}

/// A running target process in its own root.
pub struct RunningTarget {
    pub pid: u32,
    pub start: Start,
    runc_id: Option<String>,
    child: Option<Child>,
    bundle: Option<tempfile::TempDir>,
}

impl RunningTarget {
    /// `/proc/<pid>/root` of the target.
    pub fn root_link(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid))
    }

    /// Stops the target now (what a target exiting mid-scan looks like).
    pub fn stop(&mut self) {
        if let Some(id) = self.runc_id.take() {
            let _ = Command::new("runc").args(["kill", &id, "KILL"]).status();
            // `runc delete --force` waits for the container to be gone.
            let _ = Command::new("runc")
                .args(["delete", "--force", &id])
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The target's process is gone once its /proc entry is.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{}", self.pid)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RunningTarget {
    fn drop(&mut self) {
        self.stop();
        drop(self.bundle.take());
    }
}

/// The target's environment when none is given: the PATH containerd sets.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// More about the target: its environment and volumes (runc only).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `KEY=value` entries; empty: [`DEFAULT_PATH`] only.
    pub env: Vec<String>,
    /// (directory on the host, mount point inside the root): bind mounts, read-only.
    pub volumes: Vec<(PathBuf, String)>,
}

/// Starts `argv` (paths inside `root`) in `root` as `uid:gid`, the way `start` says.
/// `root` must hold `proc/` (mount point) and whatever `argv[0]` needs.
pub fn start_target(start: Start, root: &Path, argv: &[&str], uid: u32, gid: u32) -> RunningTarget {
    start_target_with(start, root, argv, uid, gid, &Options::default())
}

/// [`start_target`] with an environment and volumes.
pub fn start_target_with(
    start: Start,
    root: &Path,
    argv: &[&str],
    uid: u32,
    gid: u32,
    options: &Options,
) -> RunningTarget {
    match start {
        Start::Runc => start_runc(root, argv, uid, gid, options),
        Start::Chroot => {
            assert!(options.volumes.is_empty(), "volumes need Start::Runc");
            start_chroot(root, argv, uid, gid, options)
        }
    }
}

fn env_of(options: &Options) -> Vec<String> {
    if options.env.is_empty() {
        vec![DEFAULT_PATH.to_string()]
    } else {
        options.env.clone()
    }
}

fn start_runc(root: &Path, argv: &[&str], uid: u32, gid: u32, options: &Options) -> RunningTarget {
    let bundle = tempfile::tempdir().expect("bundle dir");
    let id = format!(
        "sidescan-test-{}-{:08x}",
        std::process::id(),
        rand_u32(bundle.path())
    );
    let mut mounts =
        vec![serde_json::json!({"destination": "/proc", "type": "proc", "source": "proc"})];
    for (host, dest) in &options.volumes {
        mounts.push(serde_json::json!({
            "destination": dest, "type": "bind", "source": host, "options": ["rbind", "ro"]
        }));
    }
    let config = serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": uid, "gid": gid},
            "args": argv,
            "env": env_of(options),
            "cwd": "/",
            "capabilities": {"bounding": [], "effective": [], "permitted": [], "ambient": []},
            "noNewPrivileges": true
        },
        "root": {"path": root.display().to_string(), "readonly": false},
        "hostname": "target",
        "mounts": mounts,
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [],
            "readonlyPaths": []
        }
    });
    std::fs::write(
        bundle.path().join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let pid_file = bundle.path().join("pid");
    let status = Command::new("runc")
        .args(["run", "--detach", "--pid-file"])
        .arg(&pid_file)
        .arg("--bundle")
        .arg(bundle.path())
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("runc not found (scripts/dev-cluster installs it)");
    assert!(status.success(), "runc run {id} failed");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("runc pid file")
        .trim()
        .parse()
        .expect("runc pid");
    RunningTarget {
        pid,
        start: Start::Runc,
        runc_id: Some(id),
        child: None,
        bundle: Some(bundle),
    }
}

fn start_chroot(
    root: &Path,
    argv: &[&str],
    uid: u32,
    gid: u32,
    options: &Options,
) -> RunningTarget {
    let mut command = Command::new("unshare");
    if !options.env.is_empty() {
        command.env_clear();
        for entry in &options.env {
            if let Some((key, value)) = entry.split_once('=') {
                command.env(key, value);
            }
        }
    }
    command
        .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--root"])
        .arg(root)
        .args(["--setuid", &uid.to_string(), "--setgid", &gid.to_string()])
        .args(argv)
        .stdin(Stdio::null());
    let child = command.spawn().expect("unshare (util-linux) not found");
    // The target is unshare's child: the first process whose root is `root` and whose command
    // is argv[0].
    let launcher = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        if let Some(pid) = child_of(launcher) {
            let exe_ok = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .map(|c| c.split('\0').next() == Some(argv[0]))
                .unwrap_or(false);
            if exe_ok {
                break pid;
            }
        }
        assert!(Instant::now() < deadline, "chroot target did not start");
        std::thread::sleep(Duration::from_millis(10));
    };
    RunningTarget {
        pid,
        start: Start::Chroot,
        runc_id: None,
        child: Some(child),
        bundle: None,
    }
}

/// The first child of `parent`, from `/proc/<parent>/task/<parent>/children`.
fn child_of(parent: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn rand_u32(seed: &Path) -> u32 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    std::time::SystemTime::now().hash(&mut h);
    h.finish() as u32
}

/// A directory for a target's root beneath `/tmp`, on purpose: the view may write only in the
/// scan's scratch directory, not in the scanner's `/tmp`, so a target there shows it.
pub fn target_tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sidescan-target-")
        .tempdir_in(std::env::temp_dir())
        .unwrap()
}

/// The PRoot view-root interposer (`images/scanner/proot-view-root.c`), built once per test run
/// into `/tmp` (world-readable wherever the checkout lives: the same-uid tests run the agent as
/// another user).
pub fn interposer() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            use std::os::unix::fs::PermissionsExt;
            let source = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../images/scanner/proot-view-root.c");
            let out = std::env::temp_dir().join(format!(
                "sidescan-proot-view-root-{}.so",
                std::process::id()
            ));
            let status = Command::new("cc")
                .args(["-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o"])
                .arg(&out)
                .arg(&source)
                .arg("-ldl")
                .status()
                .expect("cc (gcc) not found: apt-get install gcc libc6-dev");
            assert!(status.success(), "building {}", source.display());
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
            out
        })
        .clone()
}

/// Processes whose command line contains `needle` (leftovers of a scan).
pub fn processes_with(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let text = String::from_utf8_lossy(&raw).replace('\0', " ");
            if text.contains(needle) {
                found.push((pid, text));
            }
        }
    }
    found
}

/// How the agent runs, as the generated manifests' security modes run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The target's uid, no capabilities at all.
    SameUid,
    /// Root with CAP_SYS_PTRACE only.
    Ptrace,
}

impl Mode {
    /// What the agent logs as its capabilities in this mode.
    pub fn logged_capabilities(self) -> &'static str {
        match self {
            Mode::SameUid => "\"capabilities\":\"[]\"",
            Mode::Ptrace => "\"capabilities\":\"[\\\"CAP_SYS_PTRACE\\\"]\"",
        }
    }
}

/// `setpriv` running a program with the identity the agent has in `mode` (`uid` is the
/// target's, for same-uid).
pub fn as_scanner(mode: Mode, uid: u32) -> Command {
    let mut command = Command::new("setpriv");
    match mode {
        Mode::SameUid => command.args([
            "--reuid",
            &uid.to_string(),
            "--regid",
            &uid.to_string(),
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ]),
        Mode::Ptrace => command.args(["--inh-caps=-all", "--bounding-set=-all,+sys_ptrace"]),
    };
    command
}

/// A world-writable directory in /tmp holding a copy of the agent binary, so that any uid can
/// run it (the checkout may be under a 0700 home).
pub fn agent_workdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    // A hard link when the filesystem allows it: a copy holds a write descriptor that a
    // concurrent test's fork can inherit, and executing the copy then fails with ETXTBSY.
    let binary = env!("CARGO_BIN_EXE_sidescan-agent");
    let dest = dir.path().join("sidescan-agent");
    if std::fs::hard_link(binary, &dest).is_err() {
        std::fs::copy(binary, &dest).unwrap();
    }
    dir
}
