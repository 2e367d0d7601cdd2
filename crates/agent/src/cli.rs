//! `sidescan-agent scan`: the scanner sidecar's command line.

use crate::cinc::{CincOptions, ProfileSource};
use crate::identify::Selector;
use crate::profile;
use crate::{AgentConfig, Backend, Targeting};
use clap::ValueEnum;
use sidescan_core::RunId;
use sidescan_core::scanner::{AgentInvocation, Identify};
use sidescan_core::spec::ScanBackend;
use sidescan_store::RetryPolicy;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Builtin,
    Cinc,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum IdentifyArg {
    /// The Kubernetes API when POD_NAME is set and a ServiceAccount token is mounted, else
    /// --target-process, else the heuristic.
    Auto,
    /// The target container's ID from the pod's status, matched against /proc/<pid>/cgroup.
    Api,
    /// The one process whose root differs from the scanner's and is not the pause process.
    Heuristic,
}

const DEFAULT_SCANNER_CONTAINER: &str = "sidescan-scanner";
const DEFAULT_RESULTS_DIR: &str = "/results";
const DEFAULT_WAIT_SECONDS: u64 = 120;

/// `sidescan-agent scan`'s arguments: what [`AgentInvocation::args`] renders, plus what only a
/// person running the agent by hand sets.
#[derive(clap::Args)]
pub struct ScanArgs {
    /// Scanner backend.
    #[arg(long, value_enum, default_value = "builtin", env = "SIDESCAN_BACKEND")]
    backend: BackendArg,
    /// How to find the target (default: auto).
    #[arg(long, value_enum, env = "SIDESCAN_IDENTIFY")]
    identify: Option<IdentifyArg>,
    /// The directory of the ServiceAccount token and CA the API identification reads (`token`,
    /// `ca.crt`); the API is used only when a token is there.
    #[arg(
        long,
        default_value = "/var/run/secrets/kubernetes.io/serviceaccount",
        env = "SIDESCAN_API_TOKEN_DIR"
    )]
    api_token_dir: PathBuf,
    /// The agent's pod (downward API: metadata.name).
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// The agent's namespace (downward API: metadata.namespace); also the results' namespace.
    #[arg(long, env = "POD_NAMESPACE")]
    pod_namespace: Option<String>,
    /// The node (downward API: spec.nodeName), recorded in metadata.json.
    #[arg(long, env = "NODE_NAME")]
    node_name: Option<String>,
    /// The target container's name in the pod (default: the only other container).
    #[arg(long, env = "SIDESCAN_TARGET_CONTAINER")]
    target_container: Option<String>,
    /// The scanner's own container name, excluded when guessing the target container (default:
    /// sidescan-scanner).
    #[arg(long, env = "SIDESCAN_SCANNER_CONTAINER")]
    scanner_container: Option<String>,
    /// Container ID to match (containerd://..., cri-o://..., docker://... or bare hex),
    /// instead of asking the API.
    #[arg(long, env = "SIDESCAN_CONTAINER_ID")]
    container_id: Option<String>,
    /// Substring of the target's command line (processes outside the scanner's root only).
    #[arg(long, env = "SIDESCAN_TARGET_PROCESS")]
    target_process: Option<String>,
    /// Explicit target PID.
    #[arg(long, env = "SIDESCAN_TARGET_PID")]
    target_pid: Option<u32>,
    /// Seconds to wait for the target to appear (default: 120).
    #[arg(long, env = "SIDESCAN_WAIT_SECONDS")]
    wait_seconds: Option<u64>,
    /// Name of the target in result keys (default: the target container's name, else "target").
    #[arg(long, env = "SIDESCAN_TARGET")]
    target_name: Option<String>,
    /// Run id (6-32 lower-case letters and digits; default: random).
    #[arg(long, env = "SIDESCAN_RUN_ID")]
    run_id: Option<String>,
    /// The run's folder name in the store, `<UTC timestamp>-<run id>`, when the workflow that
    /// created the pod fixed it (its presigned upload URLs name it); default: the agent's start
    /// time and the run id.
    #[arg(long, env = "SIDESCAN_RUN_FOLDER")]
    run_folder: Option<String>,
    /// The shared results volume (default: /results).
    #[arg(long, env = "SIDESCAN_RESULTS_DIR")]
    results_dir: Option<PathBuf>,
    /// Object store URL: s3://bucket/prefix or file:///dir (default: <results-dir>/store).
    #[arg(long, env = "SIDESCAN_STORE")]
    store: Option<String>,
    /// A directory holding the files AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a Secret
    /// mounted into the scanner only): static store credentials for an agent run by hand, read
    /// once. Scan pods created by the orchestrator or an audit get presigned uploads instead.
    #[arg(long, env = "SIDESCAN_STORE_CREDENTIALS")]
    store_credentials: Option<PathBuf>,
    /// Upload attempts per object (exponential backoff between them).
    #[arg(long, default_value_t = 5, env = "SIDESCAN_UPLOAD_ATTEMPTS")]
    upload_attempts: u32,
    /// Where the termination message goes.
    #[arg(
        long,
        default_value = "/dev/termination-log",
        env = "SIDESCAN_TERMINATION_LOG"
    )]
    termination_log: PathBuf,
    /// The /proc to read (the pod's shared PID namespace).
    #[arg(long, default_value = "/proc", hide = true)]
    proc: PathBuf,
    /// cinc: the profile: a directory or archive path, or an s3://, file:// or https:// URL of
    /// an archive (fetched before the scan).
    #[arg(long, env = "SIDESCAN_PROFILE")]
    profile: Option<String>,
    /// cinc: SHA-256 (hex) the fetched profile archive must have (required for https://).
    #[arg(long, env = "SIDESCAN_PROFILE_SHA256")]
    profile_sha256: Option<String>,
    /// cinc: largest profile archive fetched from a URL, in bytes.
    #[arg(long, default_value_t = profile::DEFAULT_MAX_BYTES, env = "SIDESCAN_PROFILE_MAX_BYTES")]
    profile_max_bytes: u64,
    /// cinc: largest CINC Auditor JSON report read back, in bytes (larger is exit 3).
    #[arg(long, default_value_t = crate::cinc::DEFAULT_REPORT_MAX_BYTES, env = "SIDESCAN_REPORT_MAX_BYTES")]
    report_max_bytes: u64,
    /// InSpec input files (repeatable): cinc passes them on, builtin reads its allow lists.
    #[arg(
        long = "input-file",
        env = "SIDESCAN_INPUT_FILES",
        value_delimiter = ','
    )]
    input_files: Vec<PathBuf>,
    /// InSpec waiver files (repeatable): cinc passes them on, builtin applies them.
    #[arg(
        long = "waiver-file",
        env = "SIDESCAN_WAIVER_FILES",
        value_delimiter = ','
    )]
    waiver_files: Vec<PathBuf>,
    /// cinc: the cinc-auditor executable on the scanner's side.
    #[arg(
        long,
        default_value = "/opt/cinc-auditor/bin/cinc-auditor",
        env = "SIDESCAN_CINC_AUDITOR"
    )]
    cinc_auditor: PathBuf,
    /// cinc: the PRoot executable.
    #[arg(long, default_value = "proot", env = "SIDESCAN_PROOT")]
    proot: PathBuf,
    /// cinc: the interposer preloaded into PRoot so it keeps the target's root descriptor as
    /// given (empty: none, for a PRoot that does not canonicalize its -r argument).
    #[arg(
        long,
        default_value = "/usr/local/lib/sidescan/proot-view-root.so",
        env = "SIDESCAN_PROOT_PRELOAD"
    )]
    proot_preload: PathBuf,
    /// cinc: scan even when Landlock is unavailable, with a target view that is NOT read-only
    /// (recorded in metadata.json). Without it such a scan fails with exit 3.
    #[arg(long, env = "SIDESCAN_ALLOW_WRITABLE_VIEW")]
    allow_writable_view: bool,
    /// cinc: the scanner's directory of static helper programs appended to PATH in the view.
    #[arg(
        long,
        default_value = "/opt/sidescan/bin",
        env = "SIDESCAN_FALLBACK_BIN"
    )]
    fallback_bin: PathBuf,
    /// Also print the result files to the log between markers (for an orchestrator without a
    /// store: it reads them from the pod's log). Printed anyway when the upload fails.
    #[arg(long, env = "SIDESCAN_LOG_RESULTS")]
    log_results: bool,
    /// Print the result files to the log only when the upload fails.
    #[arg(long, env = "SIDESCAN_LOG_RESULTS_ON_FAILURE")]
    log_results_on_failure: bool,
    /// cinc: seconds before the scan is abandoned.
    #[arg(long, default_value_t = 1800, env = "SIDESCAN_SCAN_TIMEOUT")]
    scan_timeout: u64,
    /// Audit clones: the audit context (JSON) recorded in metadata.json.
    #[arg(long, env = "SIDESCAN_AUDIT_CONTEXT", hide = true)]
    audit_context: Option<String>,
}

/// Parses `sidescan-agent scan`'s arguments (`args` starts with the subcommand), as the binary
/// does; for the round-trip tests against the generator's output.
pub fn parse_scan_args(args: &[String]) -> Result<ScanArgs, clap::Error> {
    use clap::{FromArgMatches, Subcommand};
    #[derive(clap::Subcommand)]
    enum Sub {
        #[command(alias = "agent")]
        Scan(ScanArgs),
    }
    let command = Sub::augment_subcommands(
        clap::Command::new("sidescan-agent")
            .subcommand_required(true)
            .no_binary_name(true),
    );
    let matches = command.try_get_matches_from(args)?;
    Sub::from_arg_matches(&matches).map(|Sub::Scan(args)| args)
}

impl ScanArgs {
    /// The part of these arguments a scan pod's [`AgentInvocation`] sets: the other half of the
    /// round trip that keeps the generator's and the audit's scanner containers and this parser
    /// in step.
    pub fn invocation(&self) -> AgentInvocation {
        let text = |p: &PathBuf| p.display().to_string();
        AgentInvocation {
            backend: match self.backend {
                BackendArg::Builtin => ScanBackend::Builtin,
                BackendArg::Cinc => ScanBackend::Cinc,
            },
            identify: self.identify.map(|i| match i {
                IdentifyArg::Auto => Identify::Auto,
                IdentifyArg::Api => Identify::Api,
                IdentifyArg::Heuristic => Identify::Heuristic,
            }),
            target_container: self.target_container.clone(),
            scanner_container: self.scanner_container.clone(),
            target_name: self.target_name.clone(),
            run_id: self.run_id.clone(),
            run_folder: self.run_folder.clone(),
            results_dir: self.results_dir.as_ref().map(text),
            store: self.store.clone(),
            store_credentials: self.store_credentials.as_ref().map(text),
            log_results: self.log_results,
            log_results_on_failure: self.log_results_on_failure,
            wait_seconds: self.wait_seconds,
            profile: self.profile.clone(),
            profile_sha256: self.profile_sha256.clone(),
            input_files: self.input_files.iter().map(text).collect(),
            waiver_files: self.waiver_files.iter().map(text).collect(),
        }
    }
}

fn which(name: &std::path::Path) -> PathBuf {
    if name.components().count() > 1 {
        return name.to_path_buf();
    }
    crate::view::which(&name.to_string_lossy()).unwrap_or_else(|| name.to_path_buf())
}

/// Relative paths would change meaning inside the target view (its working directory is the
/// target's `/`): every path flag is made absolute against the agent's working directory.
fn absolute(flag: &str, path: &std::path::Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
}

/// The configuration from the arguments alone (nothing taken from the environment).
pub fn config(args: ScanArgs) -> Result<AgentConfig, String> {
    config_with(args, crate::secrets::Taken::default())
}

/// The configuration from the arguments and what `main` took out of the environment (the
/// upload grant, static credentials). Each step checks its own flags; the first error wins.
pub fn config_with(args: ScanArgs, taken: crate::secrets::Taken) -> Result<AgentConfig, String> {
    let upload = upload(taken, &args.store_credentials)?;
    let targeting = targeting(&args)?;
    let (run_id, folder_started) =
        run_identity(args.run_id.as_deref(), args.run_folder.as_deref())?;
    let backend = match args.backend {
        BackendArg::Builtin => Backend::Builtin,
        BackendArg::Cinc => Backend::Cinc,
    };
    let input_files = absolute_all("--input-file", &args.input_files)?;
    let waiver_files = absolute_all("--waiver-file", &args.waiver_files)?;
    let results_dir = absolute(
        "--results-dir",
        args.results_dir
            .as_deref()
            .unwrap_or(std::path::Path::new(DEFAULT_RESULTS_DIR)),
    )?;
    let profile_source = profile_source(&args)?;
    let cinc = match (backend, profile_source) {
        (Backend::Cinc, None) => return Err("--backend cinc needs --profile".into()),
        (_, Some(profile)) => Some(cinc_options(&args, profile, &input_files, &waiver_files)),
        _ => None,
    };
    let namespace = args.pod_namespace.clone().unwrap_or_else(|| "local".into());
    check_names(&namespace, args.target_name.as_deref())?;
    let audit_context = audit_context(args.audit_context.as_deref())?;
    Ok(AgentConfig {
        backend,
        targeting,
        wait: Duration::from_secs(args.wait_seconds.unwrap_or(DEFAULT_WAIT_SECONDS)),
        proc: args.proc,
        results_dir,
        store_url: args.store,
        namespace,
        target_name: args.target_name,
        run_id,
        folder_started,
        termination_log: args.termination_log,
        retry: RetryPolicy {
            attempts: args.upload_attempts.max(1),
            ..RetryPolicy::default()
        },
        cinc,
        input_files,
        waiver_files,
        pod_name: args.pod_name,
        node: args.node_name,
        audit_context,
        log_results: args.log_results,
        log_results_on_failure: args.log_results_on_failure,
        upload,
    })
}

/// How results reach the store: the workflow's grant (presigned uploads) when there is one,
/// else the store's own credentials.
fn upload(
    taken: crate::secrets::Taken,
    store_credentials: &Option<PathBuf>,
) -> Result<crate::Upload, String> {
    Ok(match (&taken.grant, store_credentials) {
        (Some(text), _) => crate::Upload::Grant(crate::secrets::parse_grant(text)?),
        (None, dir) => crate::Upload::Store {
            settings: sidescan_store::S3Settings {
                credentials: taken.credentials,
                ..sidescan_store::S3Settings::default()
            },
            credentials_dir: dir.clone(),
        },
    })
}

/// A PID or container ID given is used as is; otherwise the API access is looked up (the
/// environment and the token directory) and [`identify_target`] decides.
fn targeting(args: &ScanArgs) -> Result<Targeting, String> {
    if let Some(pid) = args.target_pid {
        return Ok(Targeting::Fixed(Selector::Pid(pid)));
    }
    if let Some(id) = args.container_id.clone() {
        return Ok(Targeting::Fixed(Selector::ContainerId(id)));
    }
    let access = crate::pod::ApiAccess::in_cluster(&args.api_token_dir);
    identify_target(args, access)
}

/// How `--identify` finds the target, given whether the API can be reached: `auto` asks the
/// API when it can and no `--target-process` is given, else matches the pattern, else guesses.
fn identify_target(
    args: &ScanArgs,
    access: Option<crate::pod::ApiAccess>,
) -> Result<Targeting, String> {
    let pod = |access: crate::pod::ApiAccess, pod: &String| Targeting::Pod {
        access,
        namespace: args
            .pod_namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        pod_name: pod.clone(),
        container: args.target_container.clone(),
        own_container: Some(
            args.scanner_container
                .clone()
                .unwrap_or_else(|| DEFAULT_SCANNER_CONTAINER.into()),
        ),
    };
    Ok(
        match (
            args.identify.unwrap_or(IdentifyArg::Auto),
            &args.pod_name,
            access,
        ) {
            (IdentifyArg::Heuristic, _, _) => Targeting::Fixed(Selector::Heuristic),
            (IdentifyArg::Api, None, _) => {
                return Err(
                    "--identify api needs the pod name (POD_NAME from the downward API)".into(),
                );
            }
            (IdentifyArg::Api, Some(_), None) => {
                return Err(format!(
                    "--identify api needs the Kubernetes API: KUBERNETES_SERVICE_HOST and a token \
                     in --api-token-dir {}",
                    args.api_token_dir.display()
                ));
            }
            (IdentifyArg::Api, Some(name), Some(access)) => pod(access, name),
            (IdentifyArg::Auto, Some(name), Some(access)) if args.target_process.is_none() => {
                pod(access, name)
            }
            (IdentifyArg::Auto, _, _) => match &args.target_process {
                Some(pattern) => Targeting::Fixed(Selector::Pattern(pattern.clone())),
                None => Targeting::Fixed(Selector::Heuristic),
            },
        },
    )
}

/// The run id and, when the workflow fixed the run's folder, the start time it names. A folder
/// and a run id given together must agree; with neither the id is random.
fn run_identity(
    run_id: Option<&str>,
    run_folder: Option<&str>,
) -> Result<(RunId, Option<jiff::Timestamp>), String> {
    let run_id = match run_id {
        Some(id) => Some(RunId::parse(id).map_err(|e| format!("--run-id: {e}"))?),
        None => None,
    };
    match run_folder {
        Some(folder) => {
            let (started, folder_id) = sidescan_core::RunLocation::parse_folder_name(folder)
                .map_err(|e| format!("--run-folder: {e}"))?;
            if run_id.as_ref().is_some_and(|id| *id != folder_id) {
                return Err(format!(
                    "--run-folder {folder} names run {folder_id}, --run-id another"
                ));
            }
            Ok((folder_id, Some(started)))
        }
        None => Ok((run_id.unwrap_or_else(crate::random_run_id), None)),
    }
}

fn absolute_all(flag: &str, paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    paths.iter().map(|p| absolute(flag, p)).collect()
}

/// `--profile`: a local path made absolute, or a URL checked now (before anything runs);
/// `--profile-sha256` only with a URL.
fn profile_source(args: &ScanArgs) -> Result<Option<ProfileSource>, String> {
    let source = match &args.profile {
        Some(value) => Some(match profile::source(value) {
            ProfileSource::Path(path) => ProfileSource::Path(absolute("--profile", &path)?),
            url => {
                profile::locate(value, args.profile_sha256.as_deref())
                    .map_err(|e| e.to_string())?;
                url
            }
        }),
        None => None,
    };
    if args.profile_sha256.is_some() && !matches!(source, Some(ProfileSource::Url(_))) {
        return Err("--profile-sha256 applies to a profile fetched from a URL".into());
    }
    Ok(source)
}

/// The cinc backend's settings (looks up PRoot on PATH and the fallback directory).
fn cinc_options(
    args: &ScanArgs,
    profile: ProfileSource,
    input_files: &[PathBuf],
    waiver_files: &[PathBuf],
) -> CincOptions {
    CincOptions {
        cinc_auditor: args.cinc_auditor.clone(),
        profile,
        profile_sha256: args.profile_sha256.clone(),
        profile_max_bytes: args.profile_max_bytes,
        report_max_bytes: args.report_max_bytes,
        input_files: input_files.to_vec(),
        waiver_files: waiver_files.to_vec(),
        proot: which(&args.proot),
        proot_preload: (!args.proot_preload.as_os_str().is_empty())
            .then(|| args.proot_preload.clone()),
        allow_writable_view: args.allow_writable_view,
        fallback_bin: args
            .fallback_bin
            .is_dir()
            .then(|| args.fallback_bin.clone()),
        timeout: Duration::from_secs(args.scan_timeout),
    }
}

/// The names that end up in result keys must be valid Kubernetes names.
fn check_names(namespace: &str, target_name: Option<&str>) -> Result<(), String> {
    sidescan_core::names::check_dns_label("namespace", namespace).map_err(|e| e.to_string())?;
    if let Some(name) = target_name {
        sidescan_core::names::check_dns_subdomain("--target-name", name)
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn audit_context(text: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    text.map(|text| {
        serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| format!("SIDESCAN_AUDIT_CONTEXT: not JSON: {e}"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[String]) -> Result<ScanArgs, clap::Error> {
        parse_scan_args(args)
    }

    fn full() -> AgentInvocation {
        AgentInvocation {
            backend: ScanBackend::Cinc,
            identify: Some(Identify::Heuristic),
            target_container: Some("app".into()),
            scanner_container: Some("scanner".into()),
            target_name: Some("web".into()),
            run_id: Some("abc123def456".into()),
            run_folder: Some("20261207T120000Z-abc123def456".into()),
            results_dir: Some("/var/run/sidescan/results".into()),
            store: Some("s3://bucket/scans".into()),
            store_credentials: Some("/var/run/sidescan/store-credentials".into()),
            log_results: true,
            log_results_on_failure: true,
            wait_seconds: Some(90),
            profile: Some("https://example.test/p.tar.gz".into()),
            profile_sha256: Some("ab".repeat(32)),
            input_files: vec!["/etc/sidescan/inputs/a.yml".into(), "/x/b.yml".into()],
            waiver_files: vec!["/etc/sidescan/inputs/w.yml".into()],
        }
    }

    #[test]
    fn every_field_the_invocation_renders_is_parsed_back() {
        let mut cases = vec![full(), AgentInvocation::new(ScanBackend::Builtin)];
        for identify in [Identify::Auto, Identify::Api, Identify::Heuristic] {
            let mut inv = AgentInvocation::new(ScanBackend::Builtin);
            inv.identify = Some(identify);
            inv.store = Some("file:///tmp/store".into());
            cases.push(inv);
        }
        for inv in cases {
            let parsed = parse(&inv.args()).unwrap_or_else(|e| panic!("{inv:?}: {e}"));
            assert_eq!(parsed.invocation(), inv);
            // And the parsed arguments make a configuration (the API needs a pod and a token).
            match config(parsed) {
                Ok(_) => assert_ne!(inv.identify, Some(Identify::Api)),
                Err(e) => assert!(e.contains("--identify api needs"), "{inv:?}: {e}"),
            }
        }
    }

    fn scan_args(extra: &[&str]) -> ScanArgs {
        let args: Vec<String> = ["scan"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        parse(&args).unwrap()
    }

    fn access() -> crate::pod::ApiAccess {
        crate::pod::ApiAccess {
            base: "https://10.0.0.1:443".into(),
            token_file: "/var/run/secrets/token".into(),
            ca_file: "/var/run/secrets/ca.crt".into(),
        }
    }

    #[test]
    fn auto_asks_the_api_only_when_it_can_and_no_process_pattern_is_given() {
        let args = scan_args(&["--pod-name", "scan-pod"]);
        match identify_target(&args, Some(access())).unwrap() {
            Targeting::Pod {
                namespace,
                pod_name,
                own_container,
                ..
            } => {
                assert_eq!(namespace, "default");
                assert_eq!(pod_name, "scan-pod");
                assert_eq!(own_container.as_deref(), Some(DEFAULT_SCANNER_CONTAINER));
            }
            other => panic!("{other:?}"),
        }
        let args = scan_args(&["--pod-name", "scan-pod", "--target-process", "nginx"]);
        assert!(matches!(
            identify_target(&args, Some(access())).unwrap(),
            Targeting::Fixed(Selector::Pattern(p)) if p == "nginx"
        ));
        let args = scan_args(&["--pod-name", "scan-pod"]);
        assert!(matches!(
            identify_target(&args, None).unwrap(),
            Targeting::Fixed(Selector::Heuristic)
        ));
        // Asked for explicitly, the API must be there.
        let args = scan_args(&[
            "--identify",
            "api",
            "--pod-name",
            "p",
            "--api-token-dir",
            "/t",
        ]);
        let err = identify_target(&args, None).unwrap_err();
        assert!(err.contains("--api-token-dir /t"), "{err}");
        assert!(matches!(
            identify_target(&args, Some(access())).unwrap(),
            Targeting::Pod { .. }
        ));
    }

    #[test]
    fn a_fixed_run_folder_gives_the_run_id_and_start() {
        let (id, started) = run_identity(None, Some("20261207T120000Z-abc123def456")).unwrap();
        assert_eq!(id.as_str(), "abc123def456");
        assert_eq!(started.unwrap().to_string(), "2026-12-07T12:00:00Z");
        let (id, started) = run_identity(Some("abc123def456"), None).unwrap();
        assert_eq!((id.as_str(), started), ("abc123def456", None));
        let err = run_identity(Some("abc123def456"), Some("nope")).unwrap_err();
        assert!(err.starts_with("--run-folder: "), "{err}");
    }

    #[test]
    fn the_old_subcommand_name_and_bad_values_are_told() {
        let mut args = full().args();
        args[0] = "agent".into();
        assert_eq!(parse(&args).unwrap().invocation(), full());
        args[0] = "scanner".into();
        assert!(parse(&args).is_err());
        let mut inv = full();
        inv.run_folder = Some("20261207T120000Z-other1".into());
        let err = config(parse(&inv.args()).unwrap()).err().unwrap();
        assert!(err.contains("--run-folder"), "{err}");
    }
}
