//! The workflow: prepare (bad input fails here, before anything exists), deploy, identify, scan,
//! retrieve, process, and cleanup (always: on success, failure, a phase deadline, SIGTERM and
//! SIGINT). Decisions come from the pure modules; this file does the I/O.

use crate::Error;
use crate::orchestrator::cluster::{Events, PodWatch};
use crate::orchestrator::plan::OwnerJob;
use crate::orchestrator::process::{self, Evaluation, RunFacts};
use crate::orchestrator::progress::{self, Progress, ScannerEnd};
use crate::orchestrator::report::{self, PhaseReport, RunReport};

use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::Api;
use sidescan_core::spec::ScanSpec;
use sidescan_core::{ExitStatus, Phase};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

use super::collect::{self, Retrieved};
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

/// Runs the whole workflow and reports. Never panics; the report's status is the exit code.
pub async fn run(config: RunConfig) -> RunReport {
    let started = Instant::now();
    let signals = crate::signals::shutdown_signal();
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

/// The phases in order; each records its own line in the report.
async fn workflow(
    config: &RunConfig,
    p: &Prepared,
    state: &mut State,
) -> Result<Evaluation, Error> {
    let pods: Api<Pod> = Api::namespaced(p.client.clone(), &p.namespace);
    let (watch, first) = deploy_phase(config, p, state, &pods).await?;
    let end = scan_phase(p, state, watch, first, &config.pod_name).await?;
    let retrieved = retrieve_phase(p, state, &pods, &config.pod_name, &end).await?;
    process_phase(config, p, state, &retrieved).await
}

/// Deploy: a stale pod of the same name removed (and a local run's leftovers swept), the run's
/// objects and the pod created, then a wait until both containers have started. Returns the
/// watch for the next phase and the scanner's end if it came that soon.
async fn deploy_phase(
    config: &RunConfig,
    p: &Prepared,
    state: &mut State,
    pods: &Api<Pod>,
) -> Result<(PodWatch, Option<ScannerEnd>), Error> {
    let name = config.pod_name.as_str();
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
    let pod = create_scan_pod(p, state, pods, name, deploy_deadline).await?;
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
            |pod| deploy_step(pod, name, scanner, target),
            |pod| pending_description(pod, scanner, target),
        )
        .await?;
    let node = node_name(watch.latest.as_ref());
    state.phase_done(
        Phase::Deploy,
        t,
        true,
        format!("pod {name} running on node {node}"),
    );
    Ok((watch, first))
}

/// Creates the scan pod. A conflict means another run created a pod of that name since the
/// stale check: that pod is not this run's to delete.
async fn create_scan_pod(
    p: &Prepared,
    state: &mut State,
    pods: &Api<Pod>,
    name: &str,
    deadline: Instant,
) -> Result<Pod, Error> {
    state.created.pod = true;
    match objects::create_pod(pods, &p.plan.pod, deadline).await {
        Ok(pod) => Ok(pod),
        Err(Error::Kube {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 409 => {
            state.created.pod = false;
            Err(Error::Concurrent {
                pod: name.to_string(),
                reason: "created by another run while this one deployed".into(),
            })
        }
        Err(e) => Err(e),
    }
}

/// What the deploy wait makes of one version of the pod: keep waiting while it is pending; done
/// once both containers started (with the scanner's end if it already ended).
fn deploy_step(
    pod: Option<&Pod>,
    name: &str,
    scanner: &str,
    target: &str,
) -> Option<Result<Option<ScannerEnd>, Error>> {
    match pod.map(|pod| progress::progress(pod, scanner, target)) {
        None => Some(Err(Error::ScanPod {
            reason: format!("pod {name} was deleted"),
        })),
        Some(Progress::Pending(_)) => None,
        Some(Progress::Started) => Some(Ok(None)),
        Some(Progress::ScannerDone(end)) => Some(Ok(Some(end))),
        Some(Progress::Failed(reason)) => Some(Err(Error::ScanPod { reason })),
    }
}

/// What the scan wait makes of one version of the pod: done only when the scanner ended.
fn scan_step(
    pod: Option<&Pod>,
    name: &str,
    scanner: &str,
    target: &str,
) -> Option<Result<ScannerEnd, Error>> {
    match pod.map(|pod| progress::progress(pod, scanner, target)) {
        None => Some(Err(Error::ScanPod {
            reason: format!("pod {name} was deleted"),
        })),
        Some(Progress::ScannerDone(end)) => Some(Ok(end)),
        Some(Progress::Failed(reason)) => Some(Err(Error::ScanPod { reason })),
        Some(_) => None,
    }
}

fn node_name(pod: Option<&Pod>) -> String {
    pod.and_then(|p| p.spec.as_ref())
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| "?".into())
}

/// Identify and scan: the agent's work, until the scanner container ends. The agent's timings
/// split the wait between the two phases.
async fn scan_phase(
    p: &Prepared,
    state: &mut State,
    mut watch: PodWatch,
    first: Option<ScannerEnd>,
    name: &str,
) -> Result<ScannerEnd, Error> {
    state.phase = Phase::Identify;
    let s = Instant::now();
    let scan_deadline = s + Duration::from_secs(p.deadlines.scan);
    let (scanner, target) = (p.scanner.as_str(), p.target_container.as_str());
    let end = match first {
        Some(end) => end,
        None => {
            watch
                .wait(
                    Phase::Scan,
                    scan_deadline,
                    p.deadlines.scan,
                    |pod| scan_step(pod, name, scanner, target),
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
    match agent_phases(&end, waited) {
        Some(phases) => {
            state.phase_took(
                Phase::Identify,
                phases.identify,
                true,
                "target process found and its root readable (agent)".into(),
            );
            state.phase = Phase::Scan;
            state.phase_took(
                Phase::Scan,
                waited - phases.identify,
                true,
                phases.scan_detail,
            );
        }
        None => state.phase = Phase::Scan,
    }
    Ok(end)
}

/// The identify and scan lines the agent's termination summary gives.
#[derive(Debug, PartialEq)]
struct AgentPhases {
    /// The agent's identify and verify time, at most the time waited.
    identify: Duration,
    scan_detail: String,
}

/// `None` when the agent left no summary or reports a failure: then there is no identify or
/// scan line, and the phase that notices the failure reports it.
fn agent_phases(end: &ScannerEnd, waited: Duration) -> Option<AgentPhases> {
    let summary = end
        .message
        .as_deref()
        .and_then(sidescan_core::termination::parse)?;
    if summary.outcome == "failed" {
        return None;
    }
    let agent_ms = |k: &str| summary.timings_ms.get(k).copied().unwrap_or(0);
    let identify = Duration::from_millis(agent_ms("identify") + agent_ms("verify")).min(waited);
    // Control counts by status (the agent's map also holds the compliance percentage).
    let counts = summary
        .counts
        .iter()
        .filter(|(k, v)| k.as_str() != "compliance" && **v > 0)
        .map(|(k, v)| format!("{v} {k}"))
        .collect::<Vec<_>>()
        .join(", ");
    let scan_detail = format!(
        "{} backend: {} ({}; scanner exit code {})",
        summary.backend,
        if counts.is_empty() {
            "no results".into()
        } else {
            counts
        },
        summary.outcome,
        end.exit_code
    );
    Some(AgentPhases {
        identify,
        scan_detail,
    })
}

/// Retrieve: the result files from the store (or the scanner's log), checked against the
/// sums the agent reported.
async fn retrieve_phase(
    p: &Prepared,
    state: &mut State,
    pods: &Api<Pod>,
    name: &str,
    end: &ScannerEnd,
) -> Result<Retrieved, Error> {
    state.phase = Phase::Retrieve;
    let r = Instant::now();
    let retrieve_deadline = r + Duration::from_secs(p.deadlines.retrieve);
    let mut retrieved = match tokio::time::timeout_at(
        retrieve_deadline,
        collect::retrieve(p, pods, name, end, retrieve_deadline),
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
    if let Some(e) = retrieved.fallback_error.take() {
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
    Ok(retrieved)
}

/// Process: the evaluation (against the baseline when one was asked for) and its files.
async fn process_phase(
    config: &RunConfig,
    p: &Prepared,
    state: &mut State,
    retrieved: &Retrieved,
) -> Result<Evaluation, Error> {
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
        Some(request) => Some(super::history::baseline(p, request, retrieved).await?),
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
    collect::write_files(p, retrieved, &evaluation.files, store_deadline).await?;
    let detail = process_detail(
        evaluation.summary.compliance,
        evaluation.validation.as_ref(),
    );
    state.phase_done(Phase::Process, pr, true, detail);
    Ok(evaluation)
}

/// The process line: the compliance and what the thresholds said.
fn process_detail(
    compliance: u64,
    validation: Option<&sidescan_eval::validate::Validation>,
) -> String {
    match validation {
        Some(v) if v.passed() => format!("compliance {compliance}%, {} thresholds met", v.checked),
        Some(v) => format!(
            "compliance {compliance}%, thresholds not met: {}",
            v.first_message().unwrap_or_default()
        ),
        None => format!("compliance {compliance}%, no threshold file"),
    }
}

fn pending_description(pod: Option<&Pod>, scanner: &str, target: &str) -> String {
    match pod.map(|pod| progress::progress(pod, scanner, target)) {
        None => "the pod to appear".into(),
        Some(Progress::Pending(why)) => format!("both containers to start ({why})"),
        Some(Progress::Started) => "the scanner to finish".into(),
        Some(other) => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sidescan_core::termination::TerminationSummary;

    fn end(message: Option<String>) -> ScannerEnd {
        ScannerEnd {
            exit_code: 0,
            reason: Some("Completed".into()),
            message,
            pod_reason: None,
        }
    }

    fn summary(outcome: &str, counts: &[(&str, u64)]) -> String {
        serde_json::to_string(&TerminationSummary {
            outcome: outcome.into(),
            backend: "builtin".into(),
            counts: counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            timings_ms: [("identify", 200), ("verify", 50), ("scan", 900)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ..TerminationSummary::default()
        })
        .unwrap()
    }

    #[test]
    fn the_agent_s_summary_splits_identify_from_scan() {
        let counts = [
            ("compliance", 75),
            ("failed", 1),
            ("passed", 3),
            ("skipped", 0),
        ];
        let message = summary("stored", &counts);
        let phases = agent_phases(&end(Some(message.clone())), Duration::from_secs(2)).unwrap();
        assert_eq!(
            phases,
            AgentPhases {
                identify: Duration::from_millis(250),
                scan_detail: "builtin backend: 1 failed, 3 passed (stored; scanner exit code 0)"
                    .into(),
            }
        );
        // The agent's clock never makes identify longer than the wait itself.
        let short = agent_phases(&end(Some(message)), Duration::from_millis(100)).unwrap();
        assert_eq!(short.identify, Duration::from_millis(100));
        let empty = agent_phases(&end(Some(summary("kept-locally", &[]))), Duration::ZERO);
        assert_eq!(
            empty.unwrap().scan_detail,
            "builtin backend: no results (kept-locally; scanner exit code 0)"
        );
    }

    #[test]
    fn a_failed_or_missing_summary_gives_no_agent_phases() {
        let failed = summary("failed", &[("passed", 3)]);
        assert_eq!(
            agent_phases(&end(Some(failed)), Duration::from_secs(1)),
            None
        );
        assert_eq!(agent_phases(&end(None), Duration::from_secs(1)), None);
        let log_tail = end(Some("panicked at src/main.rs".into()));
        assert_eq!(agent_phases(&log_tail, Duration::from_secs(1)), None);
    }

    fn pod(states: [(&str, serde_json::Value); 2]) -> Pod {
        let statuses: Vec<_> = states
            .iter()
            .map(|(name, state)| {
                json!({"name": name, "image": "x", "imageID": "", "ready": false,
                       "restartCount": 0, "state": state})
            })
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "scan"},
            "spec": {"nodeName": "node-1", "containers": [
                {"name": "app", "image": "web:1"}, {"name": "scanner", "image": "s:1"}]},
            "status": {"phase": "Running", "containerStatuses": statuses},
        }))
        .unwrap()
    }

    #[test]
    fn deploy_ends_when_both_containers_start_and_scan_when_the_scanner_ends() {
        let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
        let done = json!({"terminated": {"exitCode": 0, "reason": "Completed"}});
        let waiting = json!({"waiting": {"reason": "ContainerCreating"}});
        let step = |p: Option<&Pod>| {
            (
                deploy_step(p, "scan", "scanner", "app").map(|r| r.map(|e| e.is_some())),
                scan_step(p, "scan", "scanner", "app").map(|r| r.map(|e| e.exit_code)),
            )
        };
        let pending = pod([("app", waiting), ("scanner", running.clone())]);
        assert!(matches!(step(Some(&pending)), (None, None)));
        let started = pod([("app", running.clone()), ("scanner", running.clone())]);
        assert!(matches!(step(Some(&started)), (Some(Ok(false)), None)));
        let ended = pod([("app", running), ("scanner", done)]);
        assert!(matches!(step(Some(&ended)), (Some(Ok(true)), Some(Ok(0)))));
        match step(None) {
            (Some(Err(a)), Some(Err(b))) => {
                assert_eq!(a.to_string(), b.to_string());
                assert!(a.to_string().contains("pod scan was deleted"), "{a}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(node_name(Some(&started)), "node-1");
        assert_eq!(node_name(None), "?");
    }

    #[test]
    fn the_process_line_says_what_the_thresholds_said() {
        use sidescan_eval::validate::{Validation, Violation};
        let mut v = Validation {
            passed: true,
            compliance: 80,
            checked: 3,
            violations: vec![],
            unknown_keys: vec![],
        };
        assert_eq!(
            process_detail(80, Some(&v)),
            "compliance 80%, 3 thresholds met"
        );
        v.passed = false;
        v.violations.push(Violation {
            key: "compliance.min".into(),
            message: "compliance: 80% < 90%".into(),
        });
        assert_eq!(
            process_detail(80, Some(&v)),
            "compliance 80%, thresholds not met: compliance: 80% < 90%"
        );
        assert_eq!(
            process_detail(80, None),
            "compliance 80%, no threshold file"
        );
    }
}
