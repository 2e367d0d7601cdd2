//! The agent's run: preflight (fail fast on bad values and an unusable store), identify,
//! verify (open the target's root), prove the view, scan, check the target is still the same
//! process, retrieve (write to the volume), upload, and the termination message. One log line per
//! phase with its duration. The agent is a child subreaper: on every way out (end, timeout,
//! SIGTERM, SIGINT) it kills whatever the scan left behind.

use crate::access::{self, AccessProblem};
use crate::cinc::{self, CincOptions, Containment, ProfileSource};
use crate::identify::{self, Selector};
use crate::pod::{self, TargetStatus};
use crate::proof::{self, Evidence, ProbeReport};
use crate::results::{self, Metadata, ViewRecord};
use crate::root::{self, FileId, Liveness, TargetRoot};
use crate::sandbox::{self, ReadOnlyRuleset};
use crate::view::{self, ViewConfig, in_view};
use crate::{builtin, counts, preflight, procfs, profile};
use sidescan_core::termination::{self, ResultObject, TerminationSummary};
use sidescan_core::{ExitStatus, Phase, ResultFile, RunId, RunLocation};
use sidescan_store::{self, Receipt, RetryPolicy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Builtin,
    Cinc,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Builtin => "builtin",
            Backend::Cinc => "cinc",
        }
    }
}

/// How the target is found.
#[derive(Debug, Clone)]
pub enum Targeting {
    /// Through the Kubernetes API: the agent's own pod.
    Pod {
        access: pod::ApiAccess,
        namespace: String,
        pod_name: String,
        container: Option<String>,
        own_container: Option<String>,
    },
    Fixed(Selector),
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub backend: Backend,
    pub targeting: Targeting,
    pub wait: Duration,
    pub proc: PathBuf,
    pub results_dir: PathBuf,
    /// `None`: the local-directory default `<results dir>/store`.
    pub store_url: Option<String>,
    pub namespace: String,
    pub target_name: Option<String>,
    pub run_id: RunId,
    /// The start time in the run's folder name when the workflow fixed the folder
    /// (`--run-folder`); else the agent's own start.
    pub folder_started: Option<jiff::Timestamp>,
    pub termination_log: PathBuf,
    pub retry: RetryPolicy,
    pub cinc: Option<CincOptions>,
    /// builtin: InSpec input and waiver files (allow lists, waivers).
    pub input_files: Vec<PathBuf>,
    pub waiver_files: Vec<PathBuf>,
    pub pod_name: Option<String>,
    pub node: Option<String>,
    /// The audit context of an audit clone, recorded in `metadata.json`.
    pub audit_context: Option<serde_json::Value>,
    /// Print the result files to stdout between markers (`sidescan_core::log_transfer`), for an
    /// orchestrator without a store. They are printed anyway when the upload fails.
    pub log_results: bool,
}

/// How the run ended, for the exit code and the termination message.
#[derive(Debug)]
struct Failure {
    status: ExitStatus,
    message: String,
}

fn fail(status: ExitStatus, message: impl Into<String>) -> Failure {
    Failure {
        status,
        message: message.into(),
    }
}

/// A failure that is the user's input (exit 2) or the infrastructure's (exit 3), as the error
/// says.
fn fail_bad_input_or_infrastructure(bad_input: bool, message: String) -> Failure {
    let status = if bad_input {
        ExitStatus::BadInput
    } else {
        ExitStatus::Infrastructure
    };
    fail(status, message)
}

/// Runs the agent and returns the process exit status. Never deletes a result file.
pub async fn run(config: AgentConfig) -> ExitStatus {
    let started = jiff::Timestamp::now();
    let mut timings: BTreeMap<String, u64> = BTreeMap::new();
    let mut summary = TerminationSummary {
        outcome: "failed".into(),
        run_id: config.run_id.to_string(),
        backend: config.backend.as_str().into(),
        counts: BTreeMap::new(),
        store: None,
        ..TerminationSummary::default()
    };
    tracing::info!(
        run_id = %config.run_id,
        backend = config.backend.as_str(),
        capabilities = ?own_capabilities(&config.proc).unwrap_or_default(),
        "agent starting"
    );
    if let Err(e) = sandbox::become_subreaper() {
        tracing::warn!(error = %e, "cannot become a child subreaper; daemonized scan processes would escape to PID 1");
    }
    let outcome = {
        let phases = run_phases(&config, started, &mut timings, &mut summary);
        tokio::pin!(phases);
        tokio::select! {
            result = &mut phases => result,
            signal = termination_signal() => Err(fail(
                ExitStatus::Infrastructure,
                format!("terminated by {signal} before the run finished; every process of the scan was killed and no result is stored as complete"),
            )),
        }
    };
    // Whatever the way out, nothing the scan started outlives the agent.
    let proc = config.proc.clone();
    let killed = tokio::task::spawn_blocking(move || {
        sandbox::kill_descendants(&proc, std::process::id(), Duration::from_secs(10))
    })
    .await
    .unwrap_or(0);
    if killed > 0 {
        tracing::warn!(killed, "killed processes left by the scan");
    }
    let status = match outcome {
        Ok(()) => ExitStatus::Passed,
        Err(failure) => {
            tracing::error!(exit_code = failure.status.code(), "{}", failure.message);
            summary.error = Some(failure.message);
            failure.status
        }
    };
    summary.timings_ms = timings;
    write_termination_message(&config.termination_log, &summary);
    tracing::info!(
        exit_code = status.code(),
        peak_rss_kib = peak_rss_kib(&config.proc),
        "agent finished"
    );
    status
}

/// Resolves on SIGTERM (the pod is deleted) or SIGINT, with the signal's name.
async fn termination_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot handle SIGTERM/SIGINT");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// The agent's peak resident memory (`VmHWM` of `/proc/self/status`), for logs and benchmarks.
fn peak_rss_kib(proc: &Path) -> Option<u64> {
    let status = std::fs::read_to_string(proc.join("self/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn write_termination_message(path: &Path, summary: &TerminationSummary) {
    let text = termination::render(summary, termination::MAX_BYTES);
    match std::fs::write(path, &text) {
        Ok(()) => {
            tracing::debug!(path = %path.display(), bytes = text.len(), "termination message written")
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "termination message not written")
        }
    }
}

/// Logs one phase's end with its duration and records it.
fn phase_done(timings: &mut BTreeMap<String, u64>, phase: Phase, since: Instant, detail: &str) {
    step_done(timings, &phase.to_string(), since, detail);
}

/// Same for the steps that are not workflow phases (`preflight`, `prove`).
fn step_done(timings: &mut BTreeMap<String, u64>, step: &str, since: Instant, detail: &str) {
    let ms = since.elapsed().as_millis() as u64;
    timings.insert(step.to_string(), ms);
    tracing::info!(phase = step, duration_ms = ms, "{detail}");
}

/// What preflight prepared for the scan.
struct Prepared {
    store: sidescan_store::Store,
    store_url: String,
    scratch: PathBuf,
    /// cinc: the local profile (fetched when it was a URL).
    profile: Option<PathBuf>,
    /// cinc: the Landlock ABI, or why there is none (then only with --allow-writable-view).
    landlock: Result<u32, String>,
}

async fn prepare(config: &AgentConfig) -> Result<Prepared, Failure> {
    let refused = |r: preflight::Refusal| fail(r.status, r.message);
    preflight::results_dir_writable(&config.results_dir, config.run_id.as_str())
        .map_err(refused)?;
    let store_url = config.store_url.clone().unwrap_or_else(|| {
        let dir = config.results_dir.join("store");
        url::Url::from_directory_path(std::path::absolute(&dir).unwrap_or(dir))
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    let store = preflight::store_usable(&store_url).await.map_err(refused)?;
    let scratch = config
        .results_dir
        .join(".work")
        .join(config.run_id.as_str());
    std::fs::create_dir_all(&scratch).map_err(|e| {
        fail(
            ExitStatus::BadInput,
            format!(
                "--results-dir: scratch directory {}: {e}",
                scratch.display()
            ),
        )
    })?;
    let mut prepared = Prepared {
        store,
        store_url,
        scratch,
        profile: None,
        landlock: Err("not needed".into()),
    };
    if let (Backend::Cinc, Some(options)) = (config.backend, &config.cinc) {
        let local = match &options.profile {
            ProfileSource::Path(path) => path.clone(),
            ProfileSource::Url(url) => profile::fetch(
                url,
                options.profile_sha256.as_deref(),
                options.profile_max_bytes,
                &prepared.scratch.join("profile"),
            )
            .await
            .map_err(|e| fail_bad_input_or_infrastructure(e.is_bad_input(), e.to_string()))?,
        };
        cinc::check_inputs(&local, &options.input_files, &options.waiver_files)
            .map_err(|e| fail(ExitStatus::BadInput, e.to_string()))?;
        view::launch_for(&options.cinc_auditor).map_err(|e| {
            fail(
                ExitStatus::Infrastructure,
                format!("--cinc-auditor cannot run: {e}"),
            )
        })?;
        if let Some(preload) = &options.proot_preload
            && !preload.is_file()
        {
            return Err(fail(
                ExitStatus::Infrastructure,
                format!(
                    "--proot-preload {}: missing; without it PRoot would canonicalize the target's root to the scanner's own",
                    preload.display()
                ),
            ));
        }
        prepared.landlock = sandbox::landlock_abi();
        if let Err(why) = &prepared.landlock
            && !options.allow_writable_view
        {
            return Err(fail(
                ExitStatus::Infrastructure,
                format!(
                    "Landlock is unavailable ({why}), so the target view cannot be made read-only; \
                     refusing to scan (--allow-writable-view accepts a writable view)"
                ),
            ));
        }
        prepared.profile = Some(local);
    }
    Ok(prepared)
}

/// A file only the scanner has, to show the view does not expose the scanner's files. Its mode is
/// the one PRoot's own filter lets `fchmod` set (its loader's), so the probe's `fchmod` to the
/// current mode is refused only when `view-exec` sealed the view.
fn write_marker(scratch: &Path) -> Result<(String, FileId), Failure> {
    let path = scratch.join("view-marker");
    let io = |e: std::io::Error| {
        fail(
            ExitStatus::Infrastructure,
            format!("view marker {}: {e}", path.display()),
        )
    };
    std::fs::write(&path, format!("{}\n", rand::random::<u64>())).map_err(io)?;
    std::fs::set_permissions(
        &path,
        std::os::unix::fs::PermissionsExt::from_mode(crate::seccomp::LOADER_MODE),
    )
    .map_err(io)?;
    let id = root::file_id(&std::fs::metadata(&path).map_err(io)?);
    Ok((path.display().to_string(), id))
}

/// What the agent itself sees: its own root, the target's root and executable, the marker.
fn scanner_side(
    proc: &Path,
    target: &TargetRoot,
    marker: (String, FileId),
) -> Result<Evidence, Failure> {
    let infra =
        |what: &str, e: std::io::Error| fail(ExitStatus::Infrastructure, format!("{what}: {e}"));
    let scanner_root = root::file_id(&std::fs::metadata("/").map_err(|e| infra("/", e))?);
    let target_entries = target
        .entries()
        .map_err(|e| infra("listing the target's root", e))?;
    let pid_dir = proc.join(target.pid.to_string());
    let exe = pid_dir.join("exe");
    let target_exe = match (
        std::fs::read_link(&exe),
        std::fs::read_link(pid_dir.join("root")),
        std::fs::metadata(&exe),
    ) {
        (Ok(exe_link), Ok(root_link), Ok(meta)) => {
            proof::exe_in_target(&exe_link.to_string_lossy(), &root_link.to_string_lossy())
                .map(|path| (path, root::file_id(&meta)))
        }
        _ => None,
    };
    Ok(Evidence {
        scanner_root,
        target_root: target.identity,
        target_entries,
        target_exe,
        marker,
        ..Evidence::default()
    })
}

async fn run_phases(
    config: &AgentConfig,
    started: jiff::Timestamp,
    timings: &mut BTreeMap<String, u64>,
    summary: &mut TerminationSummary,
) -> Result<(), Failure> {
    // Preflight: bad values and an unusable store end the run before anything else.
    let p = Instant::now();
    let prepared = prepare(config).await?;
    step_done(
        timings,
        "preflight",
        p,
        "results directory, store and inputs usable",
    );

    // The builtin backend's inputs and waivers: bad files are bad input, before any waiting.
    let policy = match config.backend {
        Backend::Builtin => builtin::Policy::load(&config.input_files, &config.waiver_files)
            .map_err(|e| fail(e.exit_status(), e.to_string()))?,
        Backend::Cinc => builtin::Policy::default(),
    };

    // Identify and verify, re-identifying when the target exits (restarts) before the deadline.
    let deadline = Instant::now() + config.wait;
    let t = Instant::now();
    let mut pod_watch = match &config.targeting {
        Targeting::Pod {
            access,
            namespace,
            pod_name,
            container,
            own_container,
        } => Some(
            pod::watch_target(
                access.clone(),
                namespace.clone(),
                pod_name.clone(),
                container.clone(),
                own_container.clone(),
            )
            .await
            .map_err(|e| {
                fail(
                    ExitStatus::Infrastructure,
                    format!("{e}; without the API, use --target-process <pattern> or the heuristic (--identify heuristic)"),
                )
            })?,
        ),
        Targeting::Fixed(_) => None,
    };
    let (target, target_root, pod_status) = loop {
        let pod_status = std::cell::RefCell::new(None::<TargetStatus>);
        let found = identify::wait_for_target(
            &config.proc,
            || match (&config.targeting, &mut pod_watch) {
                (Targeting::Fixed(selector), _) => selector.clone(),
                (Targeting::Pod { .. }, Some(rx)) => {
                    let latest = rx.borrow_and_update().clone();
                    match latest {
                        Ok(status) => {
                            let id = status.container_id.clone().unwrap_or_default();
                            *pod_status.borrow_mut() = Some(status);
                            Selector::ContainerId(id)
                        }
                        Err(_) => Selector::ContainerId(String::new()),
                    }
                }
                (Targeting::Pod { .. }, None) => Selector::ContainerId(String::new()),
            },
            deadline,
        )
        .await;
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                let api_note = pod_watch
                    .as_ref()
                    .and_then(|rx| rx.borrow().clone().err())
                    .map(|e| format!(" (Kubernetes API: {e})"))
                    .unwrap_or_default();
                return Err(fail(ExitStatus::Infrastructure, format!("{e}{api_note}")));
            }
        };
        phase_done(timings, Phase::Identify, t, "target identified");
        tracing::info!(pid = found.pid, method = found.method, polls = found.polls, cmdline = %found.cmdline, "target process");
        let v = Instant::now();
        let opened = access::verify(&config.proc, found.pid).and_then(|access| {
            let root = TargetRoot::open(&config.proc, found.pid)
                .map_err(|e| access::explain(&config.proc, found.pid, &e))?;
            // The process identified is the one whose root was opened (not a successor).
            if found.start_time.is_some_and(|t| t != root.start_time) {
                return Err(AccessProblem::Exited { pid: found.pid });
            }
            Ok((access, root))
        });
        match opened {
            Ok((access, root)) => {
                phase_done(
                    timings,
                    Phase::Verify,
                    v,
                    &format!(
                        "target root readable and held open ({} entries in /)",
                        access.root_entries
                    ),
                );
                break (found, root, pod_status.into_inner());
            }
            Err(AccessProblem::Exited { pid }) if Instant::now() < deadline => {
                tracing::warn!(pid, "target exited before verification; identifying again");
                // Its /proc entry may linger (a zombie): do not spin on it.
                tokio::time::sleep(identify::MAX_INTERVAL).await;
                continue;
            }
            Err(problem) => return Err(fail(ExitStatus::Infrastructure, problem.to_string())),
        }
    };

    // Prove the view: the scan will see the target's root and nothing of the scanner's.
    let pv = Instant::now();
    let scratch = prepared.scratch.clone();
    let marker = write_marker(&scratch)?;
    let mut evidence = scanner_side(&config.proc, &target_root, marker)?;
    let target_path = view::target_path(&config.proc, target.pid);
    let mut view_setup: Option<(ViewConfig, Option<ReadOnlyRuleset>)> = None;
    let view_record = match config.backend {
        Backend::Builtin => {
            evidence_beneath_descriptor(&target_root, &mut evidence)?;
            proof::check(&evidence).map_err(view_refused)?;
            ViewRecord {
                mechanism: "descriptor".into(),
                read_only: true,
                landlock_abi: None,
                allow_writable_view: false,
                proof: PROOF_TEXT.into(),
            }
        }
        Backend::Cinc => {
            let options = config
                .cinc
                .as_ref()
                .ok_or_else(|| fail(ExitStatus::BadInput, "--backend cinc needs --profile"))?;
            let ruleset = match &prepared.landlock {
                Ok(_) => Some(
                    ReadOnlyRuleset::new(&[&scratch, Path::new("/tmp"), Path::new("/dev")])
                        .map_err(|e| fail(ExitStatus::Infrastructure, format!("Landlock: {e}")))?,
                ),
                Err(why) => {
                    tracing::warn!(reason = %why, "Landlock unavailable: the target view is writable (--allow-writable-view)");
                    None
                }
            };
            let view_config = ViewConfig {
                proot: options.proot.clone(),
                root_fd: target_root.raw_fd(),
                preload: options.proot_preload.clone(),
                fallback_bin: options.fallback_bin.clone(),
                scratch: scratch.clone(),
                target_path: target_path.clone(),
                seal: Some(own_launch()?),
            };
            let report =
                probe_view(&view_config, ruleset.as_ref(), &evidence, options.timeout).await?;
            evidence_from_probe(&report, &mut evidence);
            proof::check(&evidence).map_err(view_refused)?;
            let record = ViewRecord {
                mechanism: "proot".into(),
                read_only: ruleset.is_some(),
                landlock_abi: ruleset.as_ref().map(|r| r.abi),
                allow_writable_view: options.allow_writable_view,
                proof: format!("{PROOF_TEXT}; {METADATA_PROOF_TEXT}"),
            };
            view_setup = Some((view_config, ruleset));
            record
        }
    };
    step_done(
        timings,
        "prove",
        pv,
        "the view shows the target's root and not the scanner's",
    );

    // Scan.
    let s = Instant::now();
    let target_status = procfs::read_status(&config.proc, &target.pid.to_string()).ok();
    let target_name = config
        .target_name
        .clone()
        .or_else(|| pod_status.as_ref().map(|p| p.container.clone()))
        .unwrap_or_else(|| "target".into());
    let location = RunLocation::new(
        "",
        &config.namespace,
        &target_name,
        config.folder_started.unwrap_or(started),
        config.run_id.clone(),
    )
    .map_err(|e| fail(ExitStatus::BadInput, e.to_string()))?;
    let run_dir = results::run_dir(&config.results_dir, &location);
    let mut versions = BTreeMap::from([(
        "sidescan-agent".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )]);
    let (hdf_bytes, os_release, profile) = match config.backend {
        Backend::Builtin => {
            let gone = |e: rustix::io::Errno| {
                let what = if builtin::root::means_gone(e) {
                    "exited before the scan".to_string()
                } else {
                    format!("cannot be scanned: {}", builtin::root::errno_text(e))
                };
                fail(
                    ExitStatus::Infrastructure,
                    format!("target process {} {what}", target.pid),
                )
            };
            // The descriptor held since verification: the same root the view was proven on.
            let process = builtin::TargetProcess::read(&config.proc, target.pid).map_err(gone)?;
            let target_id = pod_status
                .as_ref()
                .and_then(|p| p.container_id.clone())
                .unwrap_or_else(|| format!("{}/{target_name}", config.namespace));
            let scan = builtin::scan(
                builtin::Target {
                    root: target_root.fd(),
                    process: Some(&process),
                    target_id: Some(&target_id),
                    policy: &policy,
                },
                started,
            )
            .map_err(|e| fail(e.exit_status(), e.to_string()))?;
            versions.insert(
                builtin::PROFILE_NAME.into(),
                builtin::PROFILE_VERSION.into(),
            );
            tracing::info!(
                entries = scan.entries_walked,
                files_read = scan.files_read,
                "builtin baseline walked the target"
            );
            let bytes = serde_json::to_vec_pretty(&scan.report)
                .map_err(|e| fail(ExitStatus::Infrastructure, e.to_string()))?;
            (
                bytes,
                scan.os_release,
                Some(builtin::PROFILE_NAME.to_string()),
            )
        }
        Backend::Cinc => {
            let (view_config, ruleset) = view_setup.ok_or_else(|| {
                fail(
                    ExitStatus::Infrastructure,
                    "the cinc view was not set up before the scan",
                )
            })?;
            let options = config
                .cinc
                .as_ref()
                .ok_or_else(|| fail(ExitStatus::BadInput, "--backend cinc needs --profile"))?;
            let local_profile = prepared
                .profile
                .clone()
                .ok_or_else(|| fail(ExitStatus::BadInput, "--backend cinc needs --profile"))?;
            let limits = Containment {
                timeout: options.timeout,
                sweep_descendants_of: Some(std::process::id()),
            };
            let run = cinc::scan(
                options,
                &local_profile,
                &view_config,
                ruleset.as_ref(),
                limits,
            )
            .await
            .map_err(|e| fail_bad_input_or_infrastructure(e.is_bad_input(), e.to_string()))?;
            tracing::info!(exit = ?run.exit, "cinc-auditor finished");
            if let Some(version) = &run.tool_version {
                versions.insert("cinc-auditor".into(), version.clone());
            }
            if let Some((name, version)) = &run.profile_version {
                versions.insert(format!("profile {name}"), version.clone());
            }
            let os = builtin::checks::os_release(target_root.fd());
            (run.report, os, Some(options.profile.to_string()))
        }
    };
    // No result from a vanished target: what was scanned may be a root nobody runs any more.
    match target_root.liveness(&config.proc) {
        Liveness::Running => {}
        gone => {
            let what = if gone == Liveness::Exited {
                "exited"
            } else {
                "was replaced by another process with the same PID"
            };
            return Err(fail(
                ExitStatus::Infrastructure,
                format!(
                    "target process {} {what} during the scan; no result is stored",
                    target.pid
                ),
            ));
        }
    }
    summary.counts = counts::control_counts(&hdf_bytes).map_err(|e| {
        fail(
            ExitStatus::Infrastructure,
            format!("the scanner's report is not valid HDF: {e}"),
        )
    })?;
    phase_done(timings, Phase::Scan, s, "scan finished");

    // Retrieve: the files on the shared volume.
    let r = Instant::now();
    let finished = jiff::Timestamp::now();
    let metadata = Metadata {
        run_id: config.run_id.to_string(),
        namespace: config.namespace.clone(),
        target: target_name.clone(),
        pod: config.pod_name.clone(),
        node: pod_status
            .as_ref()
            .and_then(|p| p.node.clone())
            .or_else(|| config.node.clone()),
        container: pod_status.as_ref().map(|p| p.container.clone()),
        image: pod_status.as_ref().and_then(|p| p.image.clone()),
        image_digest: pod_status.as_ref().and_then(|p| p.image_digest.clone()),
        container_id: pod_status.as_ref().and_then(|p| p.container_id.clone()),
        pid: target.pid,
        identified_by: target.method.to_string(),
        target_uid: target_status.as_ref().map(|s| s.effective_uid()),
        backend: config.backend.as_str().into(),
        profile,
        versions,
        started: started.to_string(),
        finished: finished.to_string(),
        timings_ms: timings.clone(),
        os_release,
        audit: config.audit_context.clone(),
        view: Some(view_record),
    };
    let metadata_bytes = serde_json::to_vec_pretty(&metadata)
        .map_err(|e| fail(ExitStatus::Infrastructure, e.to_string()))?;
    let files = [
        (ResultFile::Hdf, hdf_bytes),
        (ResultFile::Metadata, metadata_bytes),
    ];
    for (file, bytes) in &files {
        results::write_new(&run_dir, *file, bytes).map_err(|e| {
            fail(
                ExitStatus::Infrastructure,
                format!("writing {} in {}: {e}", file.file_name(), run_dir.display()),
            )
        })?;
    }
    summary.local_folder = Some(run_dir.display().to_string());
    summary.outcome = "kept-locally".into();
    summary.objects = files
        .iter()
        .map(|(file, bytes)| ResultObject {
            file: file.file_name().to_string(),
            sha256: sidescan_store::sha256_hex(bytes),
            size: bytes.len() as u64,
            key: None,
        })
        .collect();
    if config.log_results {
        summary.in_log = print_results(&files);
    }
    phase_done(
        timings,
        Phase::Retrieve,
        r,
        &format!("results written to {}", run_dir.display()),
    );

    // Upload.
    let u = Instant::now();
    let store_url = prepared.store_url.clone();
    summary.store = Some(store_url.clone());
    let store = &prepared.store;
    let mut receipts: Vec<Receipt> = Vec::new();
    for (file, bytes) in &files {
        let key = store.full_key(&location.key(*file));
        match store
            .put_verified(&key, bytes, file.content_type(), config.retry)
            .await
        {
            Ok(receipt) => {
                tracing::info!(key = %receipt.key, sha256 = %receipt.sha256, created = receipt.created, "stored");
                if let Some(object) = summary
                    .objects
                    .iter_mut()
                    .find(|o| o.file == file.file_name())
                {
                    object.key = Some(receipt.key.clone());
                }
                receipts.push(receipt);
            }
            Err(e) => {
                // The log is the fallback: an orchestrator can still store the files.
                if !summary.in_log {
                    summary.in_log = print_results(&files);
                }
                return Err(fail(
                    ExitStatus::Infrastructure,
                    format!(
                        "upload to {store_url} failed: {e}; the results stay in {}",
                        run_dir.display()
                    ),
                ));
            }
        }
    }
    summary.outcome = "stored".into();
    phase_done(
        timings,
        Phase::Upload,
        u,
        &format!("{} objects stored and verified", receipts.len()),
    );
    Ok(())
}

const METADATA_PROOF_TEXT: &str = "chmod, fchmod, chown, fchown, utimensat, setxattr, \
     removexattr refused with EPERM in the view";

/// How to start the agent's own binary in the view (the probe, and `view-exec`, which seals it).
fn own_launch() -> Result<view::Launch, Failure> {
    let infra = |m: String| {
        fail(
            ExitStatus::Infrastructure,
            format!("the agent's own binary in the view: {m}"),
        )
    };
    let exe = std::env::current_exe().map_err(|e| infra(e.to_string()))?;
    view::launch_for(&exe).map_err(infra)
}

const PROOF_TEXT: &str = "view / = target root descriptor != scanner /; view / lists the target's entries; \
     target executable same inode in the view; scanner-only marker not visible";

fn view_refused(reason: String) -> Failure {
    fail(
        ExitStatus::Infrastructure,
        format!("the target view is not the target's: {reason}; no scan was run"),
    )
}

/// Builtin: the "view" is the descriptor itself; paths resolve beneath it.
fn evidence_beneath_descriptor(target: &TargetRoot, e: &mut Evidence) -> Result<(), Failure> {
    let infra =
        |e: std::io::Error| fail(ExitStatus::Infrastructure, format!("proving the view: {e}"));
    e.view_root = root::file_id(&std::fs::metadata(target.fd_path()).map_err(infra)?);
    e.view_entries = target.entries().map_err(infra)?;
    if let Some((path, _)) = &e.target_exe {
        e.target_exe_in_view = target.stat_in_root(path).map_err(infra)?;
    }
    e.marker_in_view = target.stat_in_root(&e.marker.0).map_err(infra)?;
    Ok(())
}

/// The probe's paths: the target's executable, the marker at its own path and under the prefix.
fn probe_paths(e: &Evidence) -> Vec<String> {
    let mut paths = Vec::new();
    if let Some((path, _)) = &e.target_exe {
        paths.push(path.clone());
    }
    paths.push(e.marker.0.clone());
    paths.push(in_view(Path::new(&e.marker.0)).display().to_string());
    paths
}

fn evidence_from_probe(report: &ProbeReport, e: &mut Evidence) {
    let stat = |p: &str| report.stats.get(p).copied().flatten();
    e.view_root = report.root;
    e.view_entries = report.entries.clone();
    e.view_extras = vec![
        view::SCANNER_PREFIX.trim_start_matches('/').to_string(),
        "proc".into(),
        "dev".into(),
        "sys".into(),
    ];
    if let Some((path, _)) = &e.target_exe {
        e.target_exe_in_view = stat(path);
    }
    e.marker_in_view = stat(&e.marker.0);
    e.marker_through_prefix = Some(stat(&in_view(Path::new(&e.marker.0)).display().to_string()));
    e.metadata_in_view = Some(report.metadata.clone());
}

/// Runs `sidescan-agent probe-view` in the view exactly as the scan will run (same PRoot command,
/// descriptor, interposer, seccomp filters, `view-exec` seal and Landlock ruleset) and reads what
/// it saw.
async fn probe_view(
    view_config: &ViewConfig,
    ruleset: Option<&ReadOnlyRuleset>,
    evidence: &Evidence,
    timeout: Duration,
) -> Result<ProbeReport, Failure> {
    let infra = |m: String| fail(ExitStatus::Infrastructure, format!("view probe: {m}"));
    let launch = match &view_config.seal {
        Some(launch) => launch.clone(),
        None => own_launch()?,
    };
    let marker_in_view = in_view(Path::new(&evidence.marker.0));
    let mut args: Vec<std::ffi::OsString> = vec![
        PROBE_SUBCOMMAND.into(),
        "--metadata".into(),
        marker_in_view.into(),
    ];
    args.extend(probe_paths(evidence).into_iter().map(Into::into));
    let limits = Containment {
        timeout: timeout.min(Duration::from_secs(120)),
        sweep_descendants_of: Some(std::process::id()),
    };
    let out = cinc::run_in_view(view_config, ruleset, &launch, &args, limits)
        .await
        .map_err(infra)?;
    if out.code != Some(0) {
        return Err(infra(format!(
            "exit {:?}; stderr: {}",
            out.code,
            cinc::tail(&out.stderr)
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        infra(format!(
            "unreadable report ({e}): {}; stderr: {}",
            cinc::tail(&out.stdout),
            cinc::tail(&out.stderr)
        ))
    })
}

/// The hidden subcommand that runs inside the view.
pub const PROBE_SUBCOMMAND: &str = "probe-view";

/// Prints the result files to stdout between markers; true when all were written.
fn print_results(files: &[(ResultFile, Vec<u8>)]) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let written = files.iter().all(|(file, bytes)| {
        out.write_all(sidescan_core::log_transfer::encode(file.file_name(), bytes).as_bytes())
            .is_ok()
    }) && out.flush().is_ok();
    if written {
        tracing::info!(files = files.len(), "result files printed to the log");
    }
    written
}

/// Reads `/proc/self/status` (for logs and the docs' capability claims).
pub fn own_capabilities(proc: &Path) -> Option<Vec<String>> {
    procfs::read_status(proc, "self")
        .ok()
        .map(|s| s.cap_eff.names())
}

/// Used by tests and the CLI: the run id from caller entropy or a random one.
pub fn random_run_id() -> RunId {
    RunId::from_entropy(rand::random())
}
