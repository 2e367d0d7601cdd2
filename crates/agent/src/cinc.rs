//! The `cinc` backend: CINC Auditor (InSpec) run in the target view ([`crate::view`]), so its
//! file reads and the commands its resources spawn see the target's root as `/`.
//!
//! `cinc-auditor exec <profile> --reporter json:<file> [--input-file F]... [--waiver-file F]...
//! --no-create-lockfile --no-color`; every path is a scanner-side path made visible in the view
//! under `/.sidescan-scanner`. Exit codes 0, 100 (failed controls) and 101 (skipped controls) all
//! mean the scan ran; anything else is a tool failure.

use crate::sandbox::{self, ReadOnlyRuleset};
use crate::seccomp::{self, Scope};
use crate::view::{self, Launch, ViewConfig, in_view};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CincOptions {
    /// The `cinc-auditor` executable on the scanner's side (a Ruby script or a binstub).
    pub cinc_auditor: PathBuf,
    /// Where the profile comes from: an absolute path, or a URL fetched before the scan.
    pub profile: ProfileSource,
    /// Expected SHA-256 (hex) of a fetched profile archive (required for `https://`).
    pub profile_sha256: Option<String>,
    /// Largest profile archive fetched from a URL, in bytes.
    pub profile_max_bytes: u64,
    /// Largest report read back from the scratch directory, in bytes.
    pub report_max_bytes: u64,
    pub input_files: Vec<PathBuf>,
    pub waiver_files: Vec<PathBuf>,
    pub proot: PathBuf,
    /// The interposer preloaded into PRoot (`images/scanner/proot-view-root.c`).
    pub proot_preload: Option<PathBuf>,
    pub fallback_bin: Option<PathBuf>,
    pub timeout: Duration,
    /// Run even when Landlock is unavailable (the view is then writable); recorded in metadata.
    pub allow_writable_view: bool,
}

/// A profile: a local path (directory or archive) or a URL (`s3://`, `file://`, `https://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileSource {
    Path(PathBuf),
    Url(String),
}

impl std::fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileSource::Path(p) => write!(f, "{}", p.display()),
            ProfileSource::Url(u) => f.write_str(u),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CincError {
    /// Bad input: the user named something that is not there.
    #[error("{what} {path}: {reason}")]
    Missing {
        what: &'static str,
        path: String,
        reason: String,
    },
    /// The scanner could not run.
    #[error("cinc-auditor could not run: {0}")]
    Tool(String),
}

impl CincError {
    pub fn is_bad_input(&self) -> bool {
        matches!(self, CincError::Missing { .. })
    }
}

/// The largest CINC Auditor report the agent reads back by default: 256 MiB. A report of a few
/// thousand controls with their results is a few MiB; the limit only bounds what a program in
/// the view could make the agent hold (the report lies in the scratch directory, which the view
/// may write).
pub const DEFAULT_REPORT_MAX_BYTES: u64 = 256 << 20;

/// A file of the profile the scanner was given (its own mount or what it unpacked, never the
/// target's): symbolic links are followed, since a ConfigMap volume's files are links into its
/// `..data` folder; at most `max` bytes of a regular file, None otherwise.
fn read_profile_file(path: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Reads a file the view could have written or replaced, without trusting it: opened with
/// `O_NOFOLLOW | O_NONBLOCK` (a symlink, to `/dev/zero` or anywhere, is refused; a FIFO does not
/// block the open), checked to be a regular file with `fstat` (a FIFO, device or directory is
/// refused), and read up to `max` bytes (a larger file, or one still growing past `max`, is
/// refused). The error names the file.
pub fn read_untrusted(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let shown = path.display();
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!("{shown} is a symbolic link, not the report file"),
            _ => format!("{shown}: {e}"),
        })?;
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else if kind.is_dir() {
            "a directory"
        } else {
            "not a regular file"
        };
        return Err(format!("{shown} is {what}, not a regular file"));
    }
    if meta.len() > max {
        return Err(format!(
            "{shown} is {} bytes, more than the {max} allowed (--report-max-bytes)",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "{shown} grew past the {max} bytes allowed while it was read (--report-max-bytes)"
        ));
    }
    Ok(bytes)
}

/// How CINC Auditor ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CincExit {
    AllPassed,
    /// 100: at least one control failed (a result, not a tool failure).
    FailedControls,
    /// 101: controls were skipped, none failed.
    SkippedControls,
}

/// Maps CINC Auditor's exit code; `None` (killed by a signal) and other codes are tool failures.
pub fn interpret_exit(code: Option<i32>) -> Result<CincExit, String> {
    match code {
        Some(0) => Ok(CincExit::AllPassed),
        Some(100) => Ok(CincExit::FailedControls),
        Some(101) => Ok(CincExit::SkippedControls),
        Some(1) => Err("exit code 1 (usage or profile error)".into()),
        Some(other) => Err(format!("exit code {other}")),
        None => Err("killed by a signal".into()),
    }
}

/// The `exec` arguments, every path translated into the view.
pub fn exec_args(
    profile: &Path,
    report: &Path,
    input_files: &[PathBuf],
    waiver_files: &[PathBuf],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["exec".into(), in_view(profile).into()];
    let mut reporter = OsString::from("json:");
    reporter.push(in_view(report));
    args.push("--reporter".into());
    args.push(reporter);
    for file in input_files {
        args.push("--input-file".into());
        args.push(in_view(file).into());
    }
    for file in waiver_files {
        args.push("--waiver-file".into());
        args.push(in_view(file).into());
    }
    args.push("--no-create-lockfile".into());
    args.push("--no-color".into());
    args
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct CincRun {
    pub report: Vec<u8>,
    pub exit: CincExit,
    pub command: Vec<String>,
    /// `cinc-auditor --version`, asked on the scanner's side (the target does not matter).
    pub tool_version: Option<String>,
    /// `name` and `version` from the profile's `inspec.yml`.
    pub profile_version: Option<(String, String)>,
}

/// `name:` and `version:` of a profile's `inspec.yml` (top-level keys only).
pub fn profile_identity(inspec_yml: &str) -> Option<(String, String)> {
    let value = |key: &str| {
        inspec_yml.lines().find_map(|line| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            Some(
                rest.trim()
                    .trim_matches(|c| c == '"' || c == '\'')
                    .to_string(),
            )
        })
    };
    Some((value("name")?, value("version").unwrap_or_default()))
}

async fn tool_version(program: &Path) -> Option<String> {
    let run = tokio::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?.trim();
    (out.status.success() && !line.is_empty()).then(|| line.to_string())
}

/// How a program in the view is bounded.
#[derive(Debug, Clone, Copy)]
pub struct Containment {
    pub timeout: Duration,
    /// After the program ends (or is killed), kill every remaining descendant of this PID: the
    /// agent's own, as it is a child subreaper and so inherits whatever the scan daemonized.
    pub sweep_descendants_of: Option<u32>,
}

/// What a program run in the view left.
#[derive(Debug, Clone)]
pub struct ViewOutput {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub command: Vec<String>,
}

/// Runs a scanner program in the target view: PRoot in its own process group, inheriting the
/// root descriptor, under PRoot's seccomp filter, Landlocked by `ruleset` before `exec` when
/// given (and sealed by `view-exec` when the view config says how). On the deadline the whole
/// group and every remaining descendant are killed; PRoot's temporary files are removed. Shared
/// by the view probe, the cinc backend and the tests that prove the view with a plain Ruby
/// program.
pub async fn run_in_view(
    view_config: &ViewConfig,
    ruleset: Option<&ReadOnlyRuleset>,
    launch: &Launch,
    args: &[OsString],
    limits: Containment,
) -> Result<ViewOutput, String> {
    use tokio::io::AsyncReadExt;
    for dir in ["home", "tmp", "proot"] {
        std::fs::create_dir_all(view_config.scratch.join(dir))
            .map_err(|e| format!("{}: {e}", view_config.scratch.display()))?;
    }
    let (argv, env) = view::command_line(view_config, launch, args);
    let shown: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into()).collect();
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env_clear()
        .envs(env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let root_fd = view_config.root_fd;
    let ruleset_fd = ruleset.map(ReadOnlyRuleset::raw_fd);
    // Built here, before the fork: the child only hands it to the kernel.
    let proot_filter = seccomp::filter(Scope::Proot);
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe system
    // calls (fcntl, prctl, seccomp, landlock_restrict_self, capset); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            sandbox::inherit_fd(root_fd)?;
            seccomp::install(proot_filter)?;
            if let Some(fd) = ruleset_fd {
                sandbox::restrict_self(fd)?;
            }
            // PRoot needs no capability to trace its own children; with no_new_privs set
            // above, nothing it executes can gain one.
            sandbox::clear_capabilities()
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("{} could not start: {e}", shown[0]))?;
    let group = child.id();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf).await;
        buf
    });
    let err_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf).await;
        buf
    });
    let status = tokio::select! {
        status = child.wait() => Some(status),
        _ = tokio::time::sleep(limits.timeout) => None,
    };
    if let Some(pgid) = group {
        // SAFETY: kill with a negative PID signals the process group PRoot leads.
        unsafe {
            libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
        }
    }
    if status.is_none() {
        let _ = child.kill().await;
    }
    if let Some(own) = limits.sweep_descendants_of {
        let proc = PathBuf::from("/proc");
        let killed = tokio::task::spawn_blocking(move || {
            sandbox::kill_descendants(&proc, own, Duration::from_secs(10))
        })
        .await
        .unwrap_or(0);
        if killed > 0 {
            tracing::warn!(killed, "killed processes the scanner left behind");
        }
    }
    if let Some(pid) = group {
        // In the scratch directory (the interposer, or PROOT_TMP_DIR for later PRoots); in /tmp
        // for a PRoot 5.1.0 run without the interposer (only without Landlock).
        for tmp in [Path::new("/tmp"), &view::proot_tmp(view_config)] {
            sandbox::remove_proot_leftovers(tmp, pid);
        }
    }
    // Once every writer is gone the pipes close; a writer that escaped the group and the sweep
    // must not hold the agent forever.
    let collect = |task: tokio::task::JoinHandle<Vec<u8>>| async move {
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    let stdout = collect(out_task).await;
    let mut stderr = collect(err_task).await;
    if let Some(pid) = group {
        stderr = without_proot_cleanup_notice(&stderr, pid);
    }
    let status = match status {
        Some(Ok(status)) => status,
        Some(Err(e)) => return Err(format!("{}: {e}", shown[0])),
        None => {
            return Err(format!(
                "timed out after {}s; every process of the scan was killed; stderr: {}",
                limits.timeout.as_secs(),
                tail(&stderr)
            ));
        }
    };
    Ok(ViewOutput {
        code: status.code(),
        stdout,
        stderr,
        command: shown,
    })
}

/// `stderr` without the one line PRoot prints when its filter refuses the `chmod` of its cleanup
/// (`proot error: can't chmod '/tmp/proot-<pid>-XXXXXX': Operation not permitted`): expected in
/// every view, and the agent removes that directory itself; it would only mislead in error
/// messages. Every other line is kept.
pub fn without_proot_cleanup_notice(stderr: &[u8], pid: u32) -> Vec<u8> {
    let is_notice = |line: &[u8]| {
        let Ok(line) = std::str::from_utf8(line) else {
            return false;
        };
        line.strip_prefix("proot error: can't chmod '")
            .and_then(|rest| rest.strip_suffix("': Operation not permitted"))
            .and_then(|path| Path::new(path).file_name()?.to_str())
            .is_some_and(|name| sandbox::is_proot_leftover(name, pid))
    };
    let mut out = Vec::with_capacity(stderr.len());
    for line in stderr.split_inclusive(|b| *b == b'\n') {
        let bare = line.strip_suffix(b"\n").unwrap_or(line);
        if !is_notice(bare) {
            out.extend_from_slice(line);
        }
    }
    out
}

/// The last lines of a program's output, for error messages.
pub fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Bad input found before anything runs: the profile, input and waiver files must exist.
pub fn check_inputs(
    profile: &Path,
    input_files: &[PathBuf],
    waiver_files: &[PathBuf],
) -> Result<(), CincError> {
    let missing = |what, path: &Path, e: std::io::Error| CincError::Missing {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::metadata(profile).map_err(|e| missing("profile", profile, e))?;
    for file in input_files {
        std::fs::metadata(file).map_err(|e| missing("input file", file, e))?;
    }
    for file in waiver_files {
        std::fs::metadata(file).map_err(|e| missing("waiver file", file, e))?;
    }
    Ok(())
}

/// Runs the profile (a local path: fetched already when it came from a URL) in the view.
pub async fn scan(
    options: &CincOptions,
    profile: &Path,
    view_config: &ViewConfig,
    ruleset: Option<&ReadOnlyRuleset>,
    limits: Containment,
) -> Result<CincRun, CincError> {
    let launch = view::launch_for(&options.cinc_auditor).map_err(CincError::Tool)?;
    let report_path = view_config.scratch.join("cinc-report.json");
    let args = exec_args(
        profile,
        &report_path,
        &options.input_files,
        &options.waiver_files,
    );
    let out = run_in_view(view_config, ruleset, &launch, &args, limits)
        .await
        .map_err(CincError::Tool)?;
    let exit = interpret_exit(out.code).map_err(|why| {
        CincError::Tool(format!(
            "{why}; stderr: {}; stdout: {}",
            tail(&out.stderr),
            tail(&out.stdout)
        ))
    })?;
    let report = read_untrusted(&report_path, options.report_max_bytes).map_err(|why| {
        CincError::Tool(format!(
            "the report was not read: {why}; stderr: {}",
            tail(&out.stderr)
        ))
    })?;
    let profile_version = read_profile_file(&profile.join("inspec.yml"), 1 << 20)
        .and_then(|bytes| profile_identity(&String::from_utf8_lossy(&bytes)));
    Ok(CincRun {
        report,
        exit,
        command: out.command,
        tool_version: tool_version(&options.cinc_auditor).await,
        profile_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_mounted_from_a_config_map_is_read_through_its_links() {
        // A ConfigMap volume: `inspec.yml -> ..data/inspec.yml`, `..data -> ..2026_12_08...`.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("..2026_12_08_03_17_08.1");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join("inspec.yml"), "name: baseline\nversion: 1.2.3\n").unwrap();
        std::os::unix::fs::symlink(&data, dir.path().join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/inspec.yml", dir.path().join("inspec.yml")).unwrap();
        let bytes = read_profile_file(&dir.path().join("inspec.yml"), 1 << 20).unwrap();
        assert_eq!(
            profile_identity(&String::from_utf8_lossy(&bytes)),
            Some(("baseline".to_string(), "1.2.3".to_string()))
        );
        // Bounded, and a directory or a missing file is no profile file.
        assert_eq!(
            read_profile_file(&dir.path().join("inspec.yml"), 4)
                .unwrap()
                .len(),
            4
        );
        assert!(read_profile_file(&data, 1 << 20).is_none());
        assert!(read_profile_file(&dir.path().join("absent.yml"), 1 << 20).is_none());
    }

    #[test]
    fn failed_and_skipped_controls_are_not_tool_failures() {
        assert_eq!(interpret_exit(Some(0)), Ok(CincExit::AllPassed));
        assert_eq!(interpret_exit(Some(100)), Ok(CincExit::FailedControls));
        assert_eq!(interpret_exit(Some(101)), Ok(CincExit::SkippedControls));
        assert!(interpret_exit(Some(1)).is_err());
        assert!(interpret_exit(Some(2)).is_err());
        assert!(interpret_exit(None).is_err());
    }

    #[test]
    fn exec_arguments_are_paths_in_the_view() {
        let args = exec_args(
            Path::new("/profiles/baseline"),
            Path::new("/results/.work/r/cinc-report.json"),
            &["/inputs/a.yml".into()],
            &["/waivers/w.yml".into(), "/waivers/x.yml".into()],
        );
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(
            args,
            [
                "exec",
                "/.sidescan-scanner/profiles/baseline",
                "--reporter",
                "json:/.sidescan-scanner/results/.work/r/cinc-report.json",
                "--input-file",
                "/.sidescan-scanner/inputs/a.yml",
                "--waiver-file",
                "/.sidescan-scanner/waivers/w.yml",
                "--waiver-file",
                "/.sidescan-scanner/waivers/x.yml",
                "--no-create-lockfile",
                "--no-color"
            ]
        );
    }

    #[test]
    fn profile_identity_from_inspec_yml() {
        let yml =
            "name: linux-baseline\ntitle: x\nversion: \"2.9.0\"\nsupports:\n  - platform: linux\n";
        assert_eq!(
            profile_identity(yml),
            Some(("linux-baseline".into(), "2.9.0".into()))
        );
        assert_eq!(profile_identity("title: x\n"), None);
    }

    #[test]
    fn only_proots_own_cleanup_notice_is_dropped() {
        let stderr = b"double: profile x not found\n\
            proot error: can't chmod '/tmp/proot-42-AbC123': Operation not permitted\n\
            proot error: can't chmod '/tmp/proot-43-AbC123': Operation not permitted\n\
            proot error: can't chmod '/etc/passwd': Operation not permitted\n";
        let kept = String::from_utf8(without_proot_cleanup_notice(stderr, 42)).unwrap();
        assert_eq!(
            kept,
            "double: profile x not found\n\
             proot error: can't chmod '/tmp/proot-43-AbC123': Operation not permitted\n\
             proot error: can't chmod '/etc/passwd': Operation not permitted\n"
        );
        assert_eq!(
            without_proot_cleanup_notice(b"no newline", 42),
            b"no newline"
        );
    }

    /// `read_untrusted` on another thread, so that a read that blocks fails the test instead of
    /// hanging it.
    fn read_within(path: &Path, max: u64) -> Result<Vec<u8>, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read_untrusted(&path, max));
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the read blocked (a FIFO opened without O_NONBLOCK?)")
    }

    #[test]
    fn the_report_is_read_only_as_a_bounded_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("cinc-report.json");
        std::fs::write(&report, b"{\"profiles\":[]}").unwrap();
        assert_eq!(read_within(&report, 1024).unwrap(), b"{\"profiles\":[]}");
        // Exactly at the limit is fine; one byte over is not.
        assert_eq!(read_within(&report, 15).unwrap().len(), 15);
        let err = read_within(&report, 14).unwrap_err();
        assert!(
            err.contains("cinc-report.json is 15 bytes, more than the 14 allowed"),
            "{err}"
        );

        // A link to /dev/zero (endless) or to anything else: never followed.
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let err = read_within(&link, DEFAULT_REPORT_MAX_BYTES).unwrap_err();
        assert!(err.contains("link.json is a symbolic link"), "{err}");

        // A FIFO no one writes: refused without blocking.
        let fifo = dir.path().join("fifo.json");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_within(&fifo, DEFAULT_REPORT_MAX_BYTES).unwrap_err();
        assert!(
            err.contains("fifo.json is a FIFO, not a regular file"),
            "{err}"
        );

        // A device itself, a directory, a file that is not there.
        let err = read_within(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(err.contains("/dev/zero is a device"), "{err}");
        assert!(
            read_within(dir.path(), 1 << 20)
                .unwrap_err()
                .contains("a directory")
        );
        assert!(read_within(&dir.path().join("none"), 1).is_err());

        // An oversized sparse file is refused from its size, nothing read.
        let big = dir.path().join("big.json");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(DEFAULT_REPORT_MAX_BYTES + 1)
            .unwrap();
        let err = read_within(&big, DEFAULT_REPORT_MAX_BYTES).unwrap_err();
        assert!(
            err.contains("more than the 268435456 allowed (--report-max-bytes)"),
            "{err}"
        );
    }

    #[test]
    fn missing_profile_is_bad_input() {
        let err = check_inputs(Path::new("/nonexistent/profile"), &[], &[]).unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("/nonexistent/profile"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let err = check_inputs(dir.path(), &[], &["/nonexistent/waiver.yml".into()]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("waiver file /nonexistent/waiver.yml"),
            "{err}"
        );
    }
}
