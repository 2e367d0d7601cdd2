//! The agent's run: identify, verify, scan, retrieve (write to the volume), upload, and the
//! termination message. One log line per phase with its duration.

use crate::agent::access::{self, AccessProblem};
use crate::agent::cinc::{self, CincOptions};
use crate::agent::identify::{self, Selector};
use crate::agent::pod::{self, TargetStatus};
use crate::agent::results::{self, Metadata};
use crate::agent::{builtin, counts, procfs, view};
use crate::store::{self, Receipt, RetryPolicy};
use crate::termination::{self, ResultObject, TerminationSummary};
use sidescan_core::{ExitStatus, Phase, ResultFile, RunId, RunLocation};
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
    pub termination_log: PathBuf,
    pub retry: RetryPolicy,
    pub cinc: Option<CincOptions>,
    pub pod_name: Option<String>,
    pub node: Option<String>,
    /// Print the result files to stdout between markers (`crate::log_transfer`), for an
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
    let status = match run_phases(&config, started, &mut timings, &mut summary).await {
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
    let ms = since.elapsed().as_millis() as u64;
    timings.insert(phase.to_string(), ms);
    tracing::info!(phase = %phase, duration_ms = ms, "{detail}");
}

async fn run_phases(
    config: &AgentConfig,
    started: jiff::Timestamp,
    timings: &mut BTreeMap<String, u64>,
    summary: &mut TerminationSummary,
) -> Result<(), Failure> {
    // Identify and verify, re-identifying when the target exits (restarts) before the deadline.
    let deadline = Instant::now() + config.wait;
    let t = Instant::now();
    let mut pod_watch = match &config.targeting {
        Targeting::Pod {
            namespace,
            pod_name,
            container,
            own_container,
        } => Some(
            pod::watch_target(
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
    let (target, pod_status) = loop {
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
        match access::verify(&config.proc, found.pid) {
            Ok(access) => {
                phase_done(
                    timings,
                    Phase::Verify,
                    v,
                    &format!(
                        "target root readable ({} entries in /)",
                        access.root_entries
                    ),
                );
                break (found, pod_status.into_inner());
            }
            Err(AccessProblem::Exited { pid }) if Instant::now() < deadline => {
                tracing::warn!(pid, "target exited before verification; identifying again");
                continue;
            }
            Err(problem) => return Err(fail(ExitStatus::Infrastructure, problem.to_string())),
        }
    };

    // Scan.
    let s = Instant::now();
    let target_root = config.proc.join(target.pid.to_string()).join("root");
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
        started,
        config.run_id.clone(),
    )
    .map_err(|e| fail(ExitStatus::BadInput, e.to_string()))?;
    let run_dir = results::run_dir(&config.results_dir, &location);
    let scratch = config
        .results_dir
        .join(".work")
        .join(config.run_id.as_str());
    let mut versions = BTreeMap::from([(
        "sidescan-runner".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )]);
    let (hdf_bytes, os_release, profile) = match config.backend {
        Backend::Builtin => {
            let scan = builtin::scan(
                builtin::Target {
                    root: &target_root,
                    process: target_status.as_ref(),
                },
                started,
            )
            .map_err(|e| {
                fail(
                    ExitStatus::Infrastructure,
                    format!("builtin scan of {}: {e}", target_root.display()),
                )
            })?;
            versions.insert(
                builtin::PROFILE_NAME.into(),
                builtin::PROFILE_VERSION.into(),
            );
            tracing::info!(
                entries = scan.entries_walked,
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
            let options = config
                .cinc
                .as_ref()
                .ok_or_else(|| fail(ExitStatus::BadInput, "--backend cinc needs --profile"))?;
            let target_path = view::target_path(&config.proc, target.pid);
            let run = cinc::scan(options, &target_root, target_path, &scratch)
                .await
                .map_err(|e| {
                    let status = if e.is_bad_input() {
                        ExitStatus::BadInput
                    } else {
                        ExitStatus::Infrastructure
                    };
                    fail(status, e.to_string())
                })?;
            tracing::info!(exit = ?run.exit, "cinc-auditor finished");
            if let Some(version) = &run.tool_version {
                versions.insert("cinc-auditor".into(), version.clone());
            }
            if let Some((name, version)) = &run.profile_version {
                versions.insert(format!("profile {name}"), version.clone());
            }
            let os = builtin::walk::read_in_root(&target_root, "/etc/os-release")
                .map(|b| builtin::inventory::parse_os_release(&String::from_utf8_lossy(&b)))
                .unwrap_or_default();
            (run.report, os, Some(options.profile.display().to_string()))
        }
    };
    if !identify::still_running(&config.proc, &target) {
        tracing::warn!(
            pid = target.pid,
            "target exited during the scan; results may be partial"
        );
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
            sha256: store::sha256_hex(bytes),
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
    let store_url = config.store_url.clone().unwrap_or_else(|| {
        let dir = config.results_dir.join("store");
        url::Url::from_directory_path(std::path::absolute(&dir).unwrap_or(dir))
            .map(|u| u.to_string())
            .unwrap_or_default()
    });
    summary.store = Some(store_url.clone());
    let store = store::open(&store_url).map_err(|e| fail(ExitStatus::BadInput, e.to_string()))?;
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

/// Prints the result files to stdout between markers; true when all were written.
fn print_results(files: &[(ResultFile, Vec<u8>)]) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let written = files.iter().all(|(file, bytes)| {
        out.write_all(crate::log_transfer::encode(file.file_name(), bytes).as_bytes())
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
