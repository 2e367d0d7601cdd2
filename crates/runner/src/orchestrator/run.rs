//! The workflow: prepare (bad input fails here, before anything exists), deploy, identify, scan,
//! retrieve, process, and cleanup (always: on success, failure, a phase deadline, SIGTERM and
//! SIGINT). Decisions come from the pure modules; this file does the I/O.

use crate::Error;
use crate::orchestrator::cluster::{Events, PodWatch};
use crate::orchestrator::plan::OwnerJob;
use crate::orchestrator::process::{self, Evaluation, RunFacts};
use crate::orchestrator::progress::{self, Progress};
use crate::orchestrator::report::{self, PhaseReport, RunReport};

use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::Api;
use sidescan_core::spec::ScanSpec;
use sidescan_core::{ExitStatus, Phase};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

use super::collect;
use super::objects;
use super::prepare::{self, Prepared};

/// Where the orchestrator runs.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `sidescan-runner orchestrate` in a Job: in-cluster config; the scan pod is owned by the
    /// Job; profile and scanner RBAC are the long-lived objects `sidescan-gen` rendered.
    InCluster {
        owner: Option<OwnerJob>,
        /// The orchestrator's own pod (the Events' reporting instance).
        own_pod: Option<String>,
    },
    /// `sidescan-runner scan`: the current kubeconfig; the run creates (and removes) its own
    /// profile ConfigMap and scanner ServiceAccount, Role and RoleBinding.
    Local,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub mode: Mode,
    /// The validated spec; `results.storeUrl` is where the scanner uploads and the orchestrator
    /// reads back.
    pub spec: ScanSpec,
    /// Relative paths in the spec (`profile.dir`) are taken from here.
    pub base_dir: PathBuf,
    /// The scan pod's name.
    pub pod_name: String,
    /// A profile archive to ship in the run's ConfigMap (`scan --profile x.tar.gz`).
    pub archive: Option<PathBuf>,
    /// The threshold file (none: the verdict is that the scan ran and was stored).
    pub thresholds: Option<PathBuf>,
    /// Where results go when the spec has no store: a local directory (`scan`); `None` prints
    /// them to the orchestrator's log between markers (`orchestrate`).
    pub local_results: Option<PathBuf>,
    /// Print one line per phase on stdout as it ends.
    pub progress: bool,
    /// Compare the result with this baseline (`--baseline`), recorded in `evaluation.json`.
    pub baseline: Option<sidescan_core::history::BaselineRequest>,
    /// What decides the verdict (`--fail-on-new`: only what newly fails).
    pub gate: sidescan_core::history::Gate,
}

/// What exists because of this run, for cleanup. Marked before each create is sent: a create
/// cut short by a signal may still have happened, and deleting a missing object is harmless.
#[derive(Debug, Default)]
pub(super) struct Created {
    pub(super) pod: bool,
    pub(super) config_maps: Vec<String>,
    pub(super) service_account: Option<String>,
    pub(super) role: Option<String>,
    pub(super) role_binding: Option<String>,
}

/// The run's mutable state, shared between the workflow and cleanup.
pub(super) struct State {
    phase: Phase,
    created: Created,
    report: RunReport,
    events: Option<Events>,
    progress: bool,
}

impl State {
    fn phase_done(&mut self, phase: Phase, since: Instant, ok: bool, detail: String) {
        self.phase_took(phase, since.elapsed(), ok, detail);
    }

    fn phase_took(&mut self, phase: Phase, duration: Duration, ok: bool, detail: String) {
        let line = PhaseReport {
            phase,
            duration,
            ok,
            detail,
        };
        tracing::info!(
            phase = %phase,
            duration_ms = duration.as_millis() as u64,
            ok,
            "{}",
            line.detail
        );
        if self.progress {
            println!("{}", report::phase_line(&line));
        }
        if let Some(events) = self.events.as_mut() {
            let reason = match phase {
                Phase::Deploy => "Deployed",
                Phase::Identify => "Identified",
                Phase::Scan => "Scanned",
                Phase::Retrieve => "Retrieved",
                Phase::Process => "Processed",
                Phase::Cleanup => "CleanedUp",
                _ => "Progress",
            };
            let reason = if ok {
                reason.to_string()
            } else {
                format!("{reason}Failed")
            };
            events.publish(
                ok,
                &reason,
                phase.as_str(),
                format!("{} in {}", line.detail, report::format_duration(duration)),
            );
        }
        self.report.phases.push(line);
    }
}

/// Resolves on SIGTERM or SIGINT with the signal's name. Registered before anything else, so a
/// signal at any point leads to cleanup.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
}

/// Runs the whole workflow and reports. Never panics; the report's status is the exit code.
pub async fn run(config: RunConfig) -> RunReport {
    let started = Instant::now();
    let signals = shutdown_signal();
    tokio::pin!(signals);
    let mut state = State {
        phase: Phase::Deploy,
        created: Created::default(),
        report: RunReport::default(),
        events: None,
        progress: config.progress,
    };
    // Prepare: every bad input is found here, before anything is created.
    let prepared = tokio::select! {
        p = prepare::prepare(&config) => p,
        signal = &mut signals => Err(Error::Interrupted { signal, phase: Phase::Deploy }),
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => {
            state.report.status = e.exit_status();
            state.report.error = Some(e.to_string());
            state.report.total = started.elapsed();
            return state.report;
        }
    };
    state.report.run_id = Some(prepared.plan.run_id.to_string());
    let instance = match &config.mode {
        Mode::InCluster { own_pod, .. } => own_pod.clone(),
        Mode::Local => None,
    };
    state.events = Some(Events::new(prepared.client.clone(), instance));

    let outcome = {
        let work = workflow(&config, &prepared, &mut state);
        tokio::pin!(work);
        tokio::select! {
            r = &mut work => Ok(r),
            signal = &mut signals => Err(signal),
        }
    };
    let outcome = match outcome {
        Ok(result) => result,
        Err(signal) => {
            tracing::warn!(signal, phase = %state.phase, "interrupted: cleaning up");
            Err(Error::Interrupted {
                signal,
                phase: state.phase,
            })
        }
    };
    match outcome {
        Ok(evaluation) => {
            state.report.status = evaluation.status;
            state.report.evaluation = Some(evaluation);
        }
        Err(e) => {
            let phase = state.phase;
            tracing::error!(phase = %phase, exit_code = e.exit_status().code(), "{e}");
            if !state.report.phases.iter().any(|p| p.phase == phase) {
                let since = state
                    .report
                    .phases
                    .iter()
                    .map(|p| p.duration)
                    .sum::<Duration>();
                let spent = started.elapsed().saturating_sub(since);
                let phase = if phase == Phase::Identify {
                    Phase::Scan
                } else {
                    phase
                };
                state.phase_took(phase, spent, false, e.to_string());
            }
            state.report.status = e.exit_status();
            state.report.error = Some(e.to_string());
        }
    }

    // Cleanup, always.
    state.phase = Phase::Cleanup;
    let c = Instant::now();
    match objects::cleanup(&prepared, &state.created).await {
        Ok(detail) => state.phase_done(Phase::Cleanup, c, true, detail),
        Err(e) => {
            state.phase_done(Phase::Cleanup, c, false, e.to_string());
            state.report.status = state.report.status.worst(ExitStatus::Infrastructure);
            let error = match state.report.error.take() {
                Some(first) => format!("{first}; {e}"),
                None => e.to_string(),
            };
            state.report.error = Some(error);
        }
    }
    if let Some(events) = state.events.as_mut() {
        events.flush().await;
    }
    state.report.api_requests = prepared.counter.by_kind();
    state.report.total = started.elapsed();
    tracing::info!(
        exit_code = state.report.status.code(),
        api_requests = prepared.counter.total(),
        api_requests_by_kind = ?state.report.api_requests,
        duration_ms = state.report.total.as_millis() as u64,
        "run finished"
    );
    state.report
}

pub(super) fn seconds_left(deadline: Instant) -> u64 {
    deadline.saturating_duration_since(Instant::now()).as_secs()
}

async fn workflow(
    config: &RunConfig,
    p: &Prepared,
    state: &mut State,
) -> Result<Evaluation, Error> {
    let pods: Api<Pod> = Api::namespaced(p.client.clone(), &p.namespace);
    let name = config.pod_name.as_str();

    // Deploy.
    state.phase = Phase::Deploy;
    let t = Instant::now();
    let deploy_deadline = t + Duration::from_secs(p.deadlines.deploy);
    let mut watch = PodWatch::new(pods.clone(), name);
    watch
        .wait(
            Phase::Deploy,
            deploy_deadline,
            p.deadlines.deploy,
            |_| Some(Ok(())),
            |_| format!("the first list of pod {name}"),
        )
        .await?;
    if let Some(existing) = watch.latest.clone() {
        objects::remove_stale(config, p, &mut watch, &existing, deploy_deadline).await?;
    }
    if matches!(config.mode, Mode::Local) {
        objects::sweep_leftovers(p, &config.spec.target.name).await?;
    }
    objects::create_run_objects(p, &mut state.created, deploy_deadline).await?;
    state.created.pod = true;
    let pod = objects::create_pod(&pods, &p.plan.pod, deploy_deadline).await;
    let pod = match pod {
        Ok(pod) => pod,
        Err(Error::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => {
            state.created.pod = false;
            return Err(Error::Concurrent {
                pod: name.to_string(),
                reason: "created by another run while this one deployed".into(),
            });
        }
        Err(e) => return Err(e),
    };
    if let Some(events) = state.events.as_mut() {
        events.regarding = Some(pod.object_ref(&()));
    }
    // The watch may not have delivered the new pod yet: start from what the create returned,
    // and ignore what it still says about a stale pod of the same name.
    watch.follow(pod);
    let (scanner, target) = (p.scanner.as_str(), p.target_container.as_str());
    let first = watch
        .wait(
            Phase::Deploy,
            deploy_deadline,
            p.deadlines.deploy,
            |pod| match pod.map(|pod| progress::progress(pod, scanner, target)) {
                None => Some(Err(Error::ScanPod {
                    reason: format!("pod {name} was deleted"),
                })),
                Some(Progress::Pending(_)) => None,
                Some(Progress::Started) => Some(Ok(None)),
                Some(Progress::ScannerDone(end)) => Some(Ok(Some(end))),
                Some(Progress::Failed(reason)) => Some(Err(Error::ScanPod { reason })),
            },
            |pod| pending_description(pod, scanner, target),
        )
        .await?;
    let node = watch
        .latest
        .as_ref()
        .and_then(|p| p.spec.as_ref())
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "?".into());
    state.phase_done(
        Phase::Deploy,
        t,
        true,
        format!("pod {name} running on node {node}"),
    );

    // Identify and scan: the agent's work, until the scanner container ends.
    state.phase = Phase::Identify;
    let s = Instant::now();
    let scan_deadline = s + Duration::from_secs(p.deadlines.scan);
    let end = match first {
        Some(end) => end,
        None => {
            watch
                .wait(
                    Phase::Scan,
                    scan_deadline,
                    p.deadlines.scan,
                    |pod| match pod.map(|pod| progress::progress(pod, scanner, target)) {
                        None => Some(Err(Error::ScanPod {
                            reason: format!("pod {name} was deleted"),
                        })),
                        Some(Progress::ScannerDone(end)) => Some(Ok(end)),
                        Some(Progress::Failed(reason)) => Some(Err(Error::ScanPod { reason })),
                        Some(_) => None,
                    },
                    |pod| {
                        format!(
                            "the scanner to finish ({})",
                            pending_description(pod, scanner, target)
                        )
                    },
                )
                .await?
        }
    };
    drop(watch);
    let waited = s.elapsed();
    let summary = end
        .message
        .as_deref()
        .and_then(sidescan_core::termination::parse);
    let agent_ms = |k: &str| {
        summary
            .as_ref()
            .and_then(|s| s.timings_ms.get(k).copied())
            .unwrap_or(0)
    };
    let identify = Duration::from_millis(agent_ms("identify") + agent_ms("verify")).min(waited);
    if let Some(summary) = &summary
        && summary.outcome != "failed"
    {
        state.phase_took(
            Phase::Identify,
            identify,
            true,
            "target process found and its root readable (agent)".into(),
        );
        state.phase = Phase::Scan;
        // Control counts by status (the agent's map also holds the compliance percentage).
        let counts = summary
            .counts
            .iter()
            .filter(|(k, v)| k.as_str() != "compliance" && **v > 0)
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        state.phase_took(
            Phase::Scan,
            waited - identify,
            true,
            format!(
                "{} backend: {} ({}; scanner exit code {})",
                summary.backend,
                if counts.is_empty() {
                    "no results".into()
                } else {
                    counts
                },
                summary.outcome,
                end.exit_code
            ),
        );
    } else {
        state.phase = Phase::Scan;
    }

    // Retrieve.
    state.phase = Phase::Retrieve;
    let r = Instant::now();
    let retrieve_deadline = r + Duration::from_secs(p.deadlines.retrieve);
    let retrieved = match tokio::time::timeout_at(
        retrieve_deadline,
        collect::retrieve(p, &pods, name, &end, retrieve_deadline),
    )
    .await
    {
        Ok(result) => result?,
        Err(_) => {
            return Err(Error::Deadline {
                phase: Phase::Retrieve,
                seconds: p.deadlines.retrieve,
                waiting_for: "the result files (store or scanner log)".into(),
            });
        }
    };
    state.report.used_log = retrieved.used_log;
    state.report.results = Some(retrieved.folder_url.clone());
    if let Some(e) = retrieved.fallback_error {
        state.phase_done(Phase::Retrieve, r, false, e.to_string());
        return Err(e);
    }
    state.phase_done(
        Phase::Retrieve,
        r,
        true,
        format!(
            "hdf.json ({} bytes) and metadata.json from {}, sha256 checked",
            retrieved.hdf.len(),
            retrieved.from
        ),
    );

    // Process.
    state.phase = Phase::Process;
    let pr = Instant::now();
    let facts = RunFacts {
        run_id: p.plan.run_id.to_string(),
        namespace: p.namespace.clone(),
        target: config.spec.target.name.clone(),
        hdf_source: retrieved.hdf_source.clone(),
        hdf_sha256: sidescan_store::sha256_hex(&retrieved.hdf),
    };
    let baseline = match &config.baseline {
        Some(request) => Some(super::history::baseline(p, request, &retrieved).await?),
        None => None,
    };
    let evaluation = process::evaluate_against(
        &retrieved.hdf,
        p.thresholds.as_ref(),
        &facts,
        baseline.as_ref(),
        config.gate,
    )?;
    let store_deadline = Instant::now() + Duration::from_secs(p.deadlines.retrieve);
    collect::write_files(p, &retrieved, &evaluation.files, store_deadline).await?;
    let detail = match &evaluation.validation {
        Some(v) if v.passed() => format!(
            "compliance {}%, {} thresholds met",
            evaluation.summary.compliance, v.checked
        ),
        Some(v) => format!(
            "compliance {}%, thresholds not met: {}",
            evaluation.summary.compliance,
            v.first_message().unwrap_or_default()
        ),
        None => format!(
            "compliance {}%, no threshold file",
            evaluation.summary.compliance
        ),
    };
    state.phase_done(Phase::Process, pr, true, detail);
    Ok(evaluation)
}

fn pending_description(pod: Option<&Pod>, scanner: &str, target: &str) -> String {
    match pod.map(|pod| progress::progress(pod, scanner, target)) {
        None => "the pod to appear".into(),
        Some(Progress::Pending(why)) => format!("both containers to start ({why})"),
        Some(Progress::Started) => "the scanner to finish".into(),
        Some(other) => format!("{other:?}"),
    }
}
