//! The agent's run: preflight (fail fast on bad values and an unusable store), identify, verify
//! (open the target's root), prove the view, scan, check the target is still the same process,
//! retrieve (write to the volume), upload, and the termination message. One log line per phase
//! with its duration. The agent is a child subreaper: on every way out (end, timeout, SIGTERM,
//! SIGINT) it kills whatever the scan left behind.
//!
//! One module per phase ([`prepare`], [`target`], [`prove`], [`scan`], [`output`]); this one
//! holds the sequence and what every way out shares (signals, the sweep, the termination
//! message).

mod output;
mod prepare;
mod prove;
mod scan;
mod target;

use crate::cinc::CincOptions;
use crate::identify::Selector;
use crate::{pod, procfs, sandbox};
use sidescan_core::termination::{self, TerminationSummary};
use sidescan_core::{ExitStatus, Failure, Phase, RunId};
use sidescan_store::RetryPolicy;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use prove::PROBE_SUBCOMMAND;

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
    /// orchestrator without a store.
    pub log_results: bool,
    /// Print them only when the upload fails (the orchestrator's fallback when asked for).
    pub log_results_on_failure: bool,
    /// Where the results go: the run's presigned uploads, or a store opened with static
    /// credentials (or none: a local directory).
    pub upload: Upload,
}

/// How the agent may write to the object store.
#[derive(Debug, Clone)]
pub enum Upload {
    /// The workflow that created the pod presigned this run's objects: no credentials at all.
    Grant(sidescan_store::UploadGrant),
    /// `--store` with the S3 settings and static credentials the agent took in from its
    /// environment, or from the files of `--store-credentials` (read at preflight).
    Store {
        settings: sidescan_store::S3Settings,
        credentials_dir: Option<PathBuf>,
    },
}

/// The phases' timings, in the order they ran, for the termination message and
/// `metadata.json`.
#[derive(Debug, Default)]
struct Timings(BTreeMap<String, u64>);

impl Timings {
    /// Logs one phase's end with its duration and records it.
    fn phase(&mut self, phase: Phase, since: Instant, detail: &str) {
        self.step(&phase.to_string(), since, detail);
    }

    /// Same for the steps that are not workflow phases (`preflight`, `prove`).
    fn step(&mut self, step: &str, since: Instant, detail: &str) {
        let ms = since.elapsed().as_millis() as u64;
        self.0.insert(step.to_string(), ms);
        tracing::info!(phase = step, duration_ms = ms, "{detail}");
    }
}

/// Runs the agent and returns the process exit status. Never deletes a result file.
pub async fn run(config: AgentConfig) -> ExitStatus {
    let started = jiff::Timestamp::now();
    let mut timings = Timings::default();
    let mut summary = TerminationSummary {
        outcome: "failed".into(),
        run_id: config.run_id.to_string(),
        backend: config.backend.as_str().into(),
        ..TerminationSummary::default()
    };
    tracing::info!(
        run_id = %config.run_id,
        backend = config.backend.as_str(),
        capabilities = ?own_capabilities(&config.proc).unwrap_or_default(),
        non_dumpable = crate::secrets::is_sealed(),
        presigned_uploads = matches!(config.upload, Upload::Grant(_)),
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
            signal = termination_signal() => Err(Failure::infrastructure(format!(
                "terminated by {signal} before the run finished; every process of the scan was \
                 killed and no result is stored as complete"
            ))),
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
    summary.timings_ms = timings.0;
    write_termination_message(&config.termination_log, &summary);
    tracing::info!(
        exit_code = status.code(),
        peak_rss_kib = peak_rss_kib(&config.proc),
        "agent finished"
    );
    status
}

/// The phases in order; each returns what the next needs, or how the run ends.
async fn run_phases(
    config: &AgentConfig,
    started: jiff::Timestamp,
    timings: &mut Timings,
    summary: &mut TerminationSummary,
) -> Result<(), Failure> {
    // Preflight: bad values and an unusable store end the run before anything else.
    let p = Instant::now();
    let prepared = prepare::prepare(config).await?;
    timings.step("preflight", p, "results directory, store and inputs usable");

    // Identify and verify, re-identifying when the target exits (restarts) before the deadline.
    let found = target::find(config, timings).await?;

    // Prove the view: the scan will see the target's root and nothing of the scanner's.
    let pv = Instant::now();
    let proven = prove::prove(config, &prepared, &found).await?;
    timings.step(
        "prove",
        pv,
        "the view shows the target's root and not the scanner's",
    );

    // Scan, and keep nothing from a target that did not outlive it.
    let s = Instant::now();
    let scanned = scan::scan(config, &prepared, &found, proven.setup, started).await?;
    scan::still_running(config, &found)?;
    summary.counts = crate::counts::control_counts(&scanned.hdf).map_err(|e| {
        Failure::infrastructure(format!("the scanner's report is not valid HDF: {e}"))
    })?;
    timings.phase(Phase::Scan, s, "scan finished");

    // Retrieve: the files on the shared volume.
    let r = Instant::now();
    let location = output::location(config, &found, started)?;
    let facts = output::RunFacts {
        started,
        finished: jiff::Timestamp::now(),
        target_uid: procfs::read_status(&config.proc, &found.target.pid.to_string())
            .ok()
            .map(|s| s.effective_uid()),
        timings_ms: timings.0.clone(),
    };
    let metadata = output::metadata(
        config,
        &found,
        &location,
        scanned.meta,
        proven.record,
        facts,
    );
    let files = output::files(scanned.hdf, &metadata)?;
    let run_dir = output::write_to_volume(config, &location, &files, summary)?;
    timings.phase(
        Phase::Retrieve,
        r,
        &format!("results written to {}", run_dir.display()),
    );

    // Upload.
    let u = Instant::now();
    let stored = output::upload(config, &prepared, &location, &files, &run_dir, summary).await?;
    timings.phase(
        Phase::Upload,
        u,
        &format!("{stored} objects stored and verified"),
    );
    Ok(())
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

/// A failure that is the user's input (exit 2) or the infrastructure's (exit 3), as the error
/// says.
fn bad_input_or_infrastructure(bad_input: bool, message: String) -> Failure {
    if bad_input {
        Failure::bad_input(message)
    } else {
        Failure::infrastructure(message)
    }
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
