//! The `cinc` backend: CINC Auditor (InSpec) run in the target view ([`crate::agent::view`]), so its
//! file reads and the commands its resources spawn see the target's root as `/`.
//!
//! `cinc-auditor exec <profile> --reporter json:<file> [--input-file F]... [--waiver-file F]...
//! --no-create-lockfile --no-color`; every path is a scanner-side path made visible in the view
//! under `/.sidescan-scanner`. Exit codes 0, 100 (failed controls) and 101 (skipped controls) all
//! mean the scan ran; anything else is a tool failure.

use crate::agent::view::{self, Launch, ViewConfig, in_view};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CincOptions {
    /// The `cinc-auditor` executable on the scanner's side (a Ruby script or a binstub).
    pub cinc_auditor: PathBuf,
    pub profile: PathBuf,
    pub input_files: Vec<PathBuf>,
    pub waiver_files: Vec<PathBuf>,
    pub proot: PathBuf,
    pub fallback_bin: Option<PathBuf>,
    pub timeout: Duration,
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

/// Runs a scanner program in the target view and returns its exit status, stdout and stderr.
/// Shared by the cinc backend and the tests that prove the view with a plain Ruby program.
pub async fn run_in_view(
    view_config: &ViewConfig,
    launch: &Launch,
    args: &[OsString],
    timeout: Duration,
) -> Result<(Option<i32>, Vec<u8>, Vec<u8>, Vec<String>), String> {
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
        .kill_on_drop(true);
    let child = command.output();
    let output = match tokio::time::timeout(timeout, child).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("{}: {e}", shown[0])),
        Err(_) => return Err(format!("timed out after {timeout:?}")),
    };
    Ok((output.status.code(), output.stdout, output.stderr, shown))
}

/// Runs the profile against the target whose root is `target_root` (`/proc/<pid>/root`).
pub async fn scan(
    options: &CincOptions,
    target_root: &Path,
    target_path: Option<String>,
    scratch: &Path,
) -> Result<CincRun, CincError> {
    let missing = |what, path: &Path, e: std::io::Error| CincError::Missing {
        what,
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::metadata(&options.profile).map_err(|e| missing("profile", &options.profile, e))?;
    for file in &options.input_files {
        std::fs::metadata(file).map_err(|e| missing("input file", file, e))?;
    }
    for file in &options.waiver_files {
        std::fs::metadata(file).map_err(|e| missing("waiver file", file, e))?;
    }
    let launch = view::launch_for(&options.cinc_auditor).map_err(CincError::Tool)?;
    let view_config = ViewConfig {
        proot: options.proot.clone(),
        target_root: target_root.to_path_buf(),
        fallback_bin: options.fallback_bin.clone(),
        scratch: scratch.to_path_buf(),
        target_path,
    };
    let report_path = scratch.join("cinc-report.json");
    let args = exec_args(
        &options.profile,
        &report_path,
        &options.input_files,
        &options.waiver_files,
    );
    let (code, stdout, stderr, command) =
        run_in_view(&view_config, &launch, &args, options.timeout)
            .await
            .map_err(CincError::Tool)?;
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    };
    let exit = interpret_exit(code).map_err(|why| {
        CincError::Tool(format!(
            "{why}; stderr: {}; stdout: {}",
            tail(&stderr),
            tail(&stdout)
        ))
    })?;
    let report = std::fs::read(&report_path).map_err(|e| {
        CincError::Tool(format!(
            "no report at {} ({e}); stderr: {}",
            report_path.display(),
            tail(&stderr)
        ))
    })?;
    let profile_version = std::fs::read_to_string(options.profile.join("inspec.yml"))
        .ok()
        .and_then(|text| profile_identity(&text));
    Ok(CincRun {
        report,
        exit,
        command,
        tool_version: tool_version(&options.cinc_auditor).await,
        profile_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[tokio::test]
    async fn missing_profile_is_bad_input() {
        let scratch = tempfile::tempdir().unwrap();
        let options = CincOptions {
            cinc_auditor: "/nonexistent/cinc-auditor".into(),
            profile: "/nonexistent/profile".into(),
            input_files: vec![],
            waiver_files: vec![],
            proot: "proot".into(),
            fallback_bin: None,
            timeout: Duration::from_secs(5),
        };
        let err = scan(&options, Path::new("/"), None, scratch.path())
            .await
            .unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("/nonexistent/profile"), "{err}");
    }
}
