//! The audit controller (`sidescan-runner audit`): discover the targets, then keep at most
//! `concurrency` clones running, driven by one label-selected watch per namespace clones run in
//! (never a polling loop); retry a target once after an infrastructure failure; report each target
//! as it finishes; write the audit's files once at the end; and remove every clone and ConfigMap
//! of the audit on every ending.

use crate::Error;
use crate::audit::clone::{self, CloneRequest, HOLD_CONTAINER, ProfileMount};
use crate::audit::discover::Target;
use crate::audit::files;
use crate::audit::scan::{self, Step};
use crate::audit::state::{self, AttemptFailure};
use crate::binding::RunBinding;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use sha2::{Digest, Sha256};
use sidescan_core::audit::record::{ProgressRecord, TargetRecord, Totals};
use sidescan_core::audit::{AuditId, AuditSpec, RunMode};
use sidescan_core::labels::{self, Component};
use sidescan_core::spec::ScanBackend;
use sidescan_core::{ExitStatus, RunId};
use sidescan_eval::Threshold;
use sidescan_gen::inputs::profile_key;
use sidescan_store::{self, RetryPolicy, Store};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The audit Job this process runs in (downward API), for the audit id and owner references.
#[derive(Debug, Clone)]
pub struct JobIdentity {
    pub name: String,
    pub uid: String,
}

/// Everything an audit run needs.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    pub spec: AuditSpec,
    pub thresholds: Option<Threshold>,
    /// Continue this audit: skip the targets whose results are stored.
    pub resume: Option<AuditId>,
    pub job: Option<JobIdentity>,
    /// No target at all is an error (exit 2) instead of a warning and an empty report.
    pub require_targets: bool,
    /// Where the audit files go when the store stays unreachable.
    pub fallback_dir: PathBuf,
    /// Draw a progress bar on stderr (a terminal).
    pub progress_bar: bool,
    /// Baselines, gate, trend (`--baseline`, `--fail-on-new`, `--trend`).
    pub history: crate::audit::history::HistoryConfig,
}

/// The store writes of the audit's own files: up to about a minute of retries.
const AUDIT_WRITES: RetryPolicy = RetryPolicy {
    attempts: 12,
    first_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(8),
};

/// The audit id: resumed, the Job's, or a new one.
pub fn audit_id(resume: Option<&AuditId>, job: Option<&JobIdentity>) -> AuditId {
    if let Some(id) = resume {
        return id.clone();
    }
    if let Some(job) = job {
        let digest = Sha256::digest(job.uid.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        return AuditId::for_job(&job.name, bytes);
    }
    AuditId::generate(jiff::Timestamp::now(), rand::random())
}

/// Runs the audit; the exit status is the audit's verdict.
pub async fn run(config: AuditConfig) -> ExitStatus {
    match Controller::start(config).await {
        Ok(status) => status,
        Err(e) => {
            eprintln!("sidescan-runner audit: {e}");
            e.exit_status()
        }
    }
}

/// One attempt at a target.
struct Flight {
    index: usize,
    attempt: u32,
    /// What this clone's scanner may have stored (its run id and keys).
    expected: crate::orchestrator::retrieve::Expected,
    run_id: RunId,
    namespace: String,
    deadline: Instant,
    volumes_not_scanned: Vec<sidescan_core::audit::record::VolumeNote>,
    retrieving: bool,
    last: Option<Pod>,
}

/// A target's progress over its attempts.
#[derive(Default)]
struct Tries {
    attempts: u32,
    failures: Vec<AttemptFailure>,
    started: Option<Instant>,
}

struct Controller {
    config: AuditConfig,
    client: Client,
    store: Store,
    audit_id: AuditId,
    loc: sidescan_core::AuditLocation,
    seccomp_field: bool,
    cronjob_v1: bool,
    started: jiff::Timestamp,
    clock: Instant,
    /// API requests made so far (for the figures in docs/benchmarks.md).
    requests: crate::orchestrator::cluster::ApiCounter,
}

impl Controller {
    async fn start(config: AuditConfig) -> Result<ExitStatus, Error> {
        let spec = &config.spec;
        let url = spec.results.store_url.clone().unwrap_or_default();
        let store =
            sidescan_store::open_with(&url, &sidescan_store::S3Settings::from(&spec.results))?;
        let (client, requests) = crate::orchestrator::cluster::client(false).await?;
        let version = client
            .apiserver_version()
            .await
            .map_err(|e| Error::kube("reading the server version", e))?;
        let minor: u32 = version.minor.trim_end_matches('+').parse().unwrap_or(0);
        let audit_id = audit_id(config.resume.as_ref(), config.job.as_ref());
        let loc = files::location(&store, &audit_id);
        let controller = Controller {
            client,
            store,
            loc,
            audit_id,
            seccomp_field: minor >= 19,
            cronjob_v1: minor >= 21,
            started: jiff::Timestamp::now(),
            clock: Instant::now(),
            requests,
            config,
        };
        controller.audit().await
    }

    fn spec(&self) -> &AuditSpec {
        &self.config.spec
    }

    async fn audit(self) -> Result<ExitStatus, Error> {
        println!("audit {} -> {}", self.audit_id, self.store.url);
        if files::is_complete(&self.store, &self.loc).await? {
            if self.config.resume.is_none() && self.config.job.is_none() {
                return Err(Error::AuditComplete {
                    audit_id: self.audit_id.to_string(),
                });
            }
            // A completed audit: finish any file an interrupted final write left out.
            let record = files::finish_stored(&self.store, &self.loc, AUDIT_WRITES).await?;
            println!(
                "audit {} was complete: exit code {}",
                record.audit_id, record.exit_code
            );
            return Ok(exit_status(record.exit_code));
        }
        let discovery =
            crate::audit::cluster::discover_targets(&self.client, self.spec(), self.cronjob_v1)
                .await?;
        for warning in &discovery.warnings {
            eprintln!("warning: {warning}");
        }
        if discovery.targets.is_empty() && self.config.require_targets {
            return Err(Error::NoTargets {
                detail: discovery.warnings.join("; "),
            });
        }
        let clone_namespaces: BTreeSet<String> = discovery
            .targets
            .iter()
            .map(|t| self.spec().clone_namespace(&t.namespace).to_string())
            .collect();
        self.remove_leftovers(&clone_namespaces).await?;
        let stored = files::read_progress(&self.store, &self.loc).await?;
        let plan = state::resume_plan(discovery.targets, stored);
        if !plan.resumed.is_empty() {
            println!(
                "resuming: {} target(s) stored by an earlier run, {} to scan",
                plan.resumed.len(),
                plan.to_scan.len()
            );
        }
        let profiles = self.profiles(&plan.to_scan).await;
        let outcome = match profiles {
            Ok(ref mounts) => self.scan_all(&plan.to_scan, mounts).await,
            Err(e) => Err(e),
        };
        // Cleanup on every ending: clones and ConfigMaps of this audit, verified gone.
        let cleanup = self.cleanup(&clone_namespaces).await;
        let (records, progress, interrupted) = outcome?;
        cleanup?;
        if let Some(signal) = interrupted {
            eprintln!(
                "interrupted by {signal}: {} target(s) finished; resume with --resume {}",
                records.len(),
                self.audit_id
            );
            return Ok(ExitStatus::Infrastructure);
        }
        let mut all = plan.resumed;
        all.extend(records);
        let mut all_progress = plan.resumed_progress;
        all_progress.extend(progress);
        let record = state::audit_record(
            self.spec(),
            &self.audit_id,
            self.started,
            jiff::Timestamp::now(),
            &self.store.url,
            discovery.warnings,
            all,
        );
        let record = crate::audit::history::apply(
            &self.store,
            &self.loc,
            record,
            &self.config.history,
            self.spec().notify.as_ref(),
        )
        .await;
        let rendered = files::render_audit_files(&record, &all_progress);
        match files::write_audit_files(&self.store, &self.loc, &rendered, AUDIT_WRITES).await {
            Ok(_) => println!(
                "report: {}/{}",
                self.store.url.trim_end_matches('/'),
                self.loc
                    .key(sidescan_core::layout::AuditFile::Report)
                    .strip_prefix(&self.store.prefix)
                    .unwrap_or_default()
                    .trim_start_matches('/')
            ),
            Err(e) => {
                let folder = files::write_local(&self.config.fallback_dir, &self.loc, &rendered)
                    .map_err(|source| Error::Fallback {
                        store_error: e.to_string(),
                        dir: self.config.fallback_dir.display().to_string(),
                        source,
                    })?;
                eprintln!(
                    "the store is unreachable ({e}); the audit files are in {}",
                    folder.display()
                );
                return Ok(ExitStatus::Infrastructure);
            }
        }
        let t = &record.totals;
        println!(
            "audit {}: {} targets, {} passed, {} failed, {} not scanned ({:.1} s, {} API requests)",
            self.audit_id,
            t.targets,
            t.passed,
            t.failed,
            t.not_scanned,
            self.clock.elapsed().as_secs_f64(),
            self.requests.total()
        );
        Ok(exit_status(record.exit_code))
    }

    /// Deletes clones a killed earlier run of this audit left, and any audit's expired clones.
    async fn remove_leftovers(&self, namespaces: &BTreeSet<String>) -> Result<(), Error> {
        let selector = format!(
            "{}={}",
            labels::APP_COMPONENT,
            Component::AuditClone.as_str()
        );
        for ns in namespaces {
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| Error::kube(format!("listing clones in {ns}"), e))?;
            for (ns, name) in
                state::leftover_clones(&list.items, &self.audit_id, jiff::Timestamp::now())
            {
                eprintln!("removing leftover clone {ns}/{name}");
                delete_pod(&self.client, &ns, &name).await;
            }
        }
        Ok(())
    }

    /// The profile ConfigMap each clone namespace needs (cinc backend without a URL).
    async fn profiles(&self, targets: &[Target]) -> Result<BTreeMap<String, ProfileMount>, Error> {
        let spec = self.spec();
        let mut out = BTreeMap::new();
        let Some(profile) = spec.profile.as_ref() else {
            return Ok(out);
        };
        if spec.scanner.backend != ScanBackend::Cinc || profile.url.is_some() {
            return Ok(out);
        }
        let namespaces: BTreeSet<&str> = targets
            .iter()
            .map(|t| spec.clone_namespace(&t.namespace))
            .collect();
        let (data, files) = match (&profile.config_map, &profile.dir) {
            (Some(cm), _) => {
                let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &spec.namespace);
                let source = api.get(&cm.name).await.map_err(|e| {
                    Error::kube(format!("reading profile ConfigMap {}", cm.name), e)
                })?;
                (source.data.unwrap_or_default(), cm.files.clone())
            }
            (None, Some(dir)) => read_profile_dir(&PathBuf::from(dir))?,
            _ => return Ok(out),
        };
        for ns in namespaces {
            if let (Some(cm), true) = (&profile.config_map, ns == spec.namespace) {
                out.insert(
                    ns.to_string(),
                    ProfileMount {
                        config_map: cm.name.clone(),
                        files: cm.files.clone(),
                    },
                );
                continue;
            }
            let name = format!("sidescan-{}-profile", self.audit_id);
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(labels::audit_labels(
                        &self.audit_id,
                        None,
                        None,
                        Component::Profile,
                    )),
                    owner_references: self.owner(ns).map(|o| vec![o]),
                    ..ObjectMeta::default()
                },
                data: Some(data.clone()),
                ..ConfigMap::default()
            };
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
            match api.create(&PostParams::default(), &cm).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {} // a resumed run's
                Err(e) => return Err(Error::kube(format!("creating {ns}/{name}"), e)),
            }
            out.insert(
                ns.to_string(),
                ProfileMount {
                    config_map: name,
                    files: files.clone(),
                },
            );
        }
        Ok(out)
    }

    /// An owner reference to the audit Job, for objects in its namespace.
    fn owner(&self, namespace: &str) -> Option<OwnerReference> {
        let job = self.config.job.as_ref()?;
        (namespace == self.spec().namespace).then(|| OwnerReference {
            api_version: "batch/v1".into(),
            kind: "Job".into(),
            name: job.name.clone(),
            uid: job.uid.clone(),
            controller: None,
            block_owner_deletion: None,
        })
    }

    #[allow(clippy::type_complexity)]
    async fn scan_all(
        &self,
        targets: &[Target],
        profiles: &BTreeMap<String, ProfileMount>,
    ) -> Result<(Vec<TargetRecord>, Vec<ProgressRecord>, Option<&'static str>), Error> {
        let spec = self.spec();
        let total = targets.len();
        let mut records: Vec<TargetRecord> = Vec::new();
        let mut progress = Vec::new();
        if total == 0 {
            return Ok((records, progress, None));
        }
        let namespaces: BTreeSet<String> = targets
            .iter()
            .map(|t| spec.clone_namespace(&t.namespace).to_string())
            .collect();
        // One watch per clone namespace, merged: every version of every clone of this audit.
        let selector = labels::audit_selector(&self.audit_id);
        let streams = namespaces.iter().map(|ns| {
            let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            watcher(api, watcher::Config::default().labels(&selector))
                .default_backoff()
                .boxed()
        });
        let mut events = futures::stream::select_all(streams);
        let mut queue: VecDeque<usize> = (0..total).collect();
        let mut tries: Vec<Tries> = (0..total).map(|_| Tries::default()).collect();
        let mut flights: BTreeMap<String, Flight> = BTreeMap::new();
        let mut retrievals: JoinSet<(String, Result<scan::Retrieved, scan::RetrieveFailure>)> =
            JoinSet::new();
        let deadline = Duration::from_secs(spec.target_deadline_seconds);
        let mut shutdown = std::pin::pin!(shutdown_signal());
        let mut interrupted = None;
        let mut totals = Totals::default();

        loop {
            // Launch while there is room.
            while flights.len() < spec.concurrency as usize {
                let Some(index) = queue.pop_front() else {
                    break;
                };
                let target = &targets[index];
                let t = &mut tries[index];
                t.attempts += 1;
                t.started.get_or_insert_with(Instant::now);
                let ns = spec.clone_namespace(&target.namespace).to_string();
                let run_id = RunId::from_entropy(rand::random());
                // The clone's run: its folder, and presigned uploads of exactly its two objects.
                let binding = match RunBinding::new(
                    Some(&self.store),
                    &target.namespace,
                    &target.segment(),
                    run_id.clone(),
                    deadline + Duration::from_secs(60),
                )
                .await
                {
                    Ok(binding) => binding,
                    Err(e) => {
                        let failure = AttemptFailure {
                            reason: format!("presigning the clone's uploads: {e}"),
                            retryable: true,
                        };
                        self.attempt_failed(
                            index,
                            failure,
                            targets,
                            &mut tries,
                            &mut queue,
                            &mut records,
                            &mut totals,
                            total,
                        );
                        continue;
                    }
                };
                let request = CloneRequest {
                    spec,
                    audit_id: &self.audit_id,
                    run_id: &run_id,
                    namespace: &ns,
                    owner: self.owner(&ns),
                    profile: profiles.get(&ns).cloned(),
                    seccomp_field: self.seccomp_field,
                    now: jiff::Timestamp::now(),
                    binding: Some(&binding),
                };
                let failure = match clone::build(target, &request) {
                    Err(refused) => Some(AttemptFailure {
                        reason: refused.0,
                        retryable: false,
                    }),
                    Ok(built) => {
                        let name = built.pod.metadata.name.clone().unwrap_or_default();
                        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
                        match pods.create(&PostParams::default(), &built.pod).await {
                            Ok(_) => {
                                tracing::info!(target = %target.id(), clone = %name, "clone created");
                                flights.insert(
                                    name,
                                    Flight {
                                        index,
                                        attempt: t.attempts,
                                        expected: binding.expected(),
                                        run_id,
                                        namespace: ns,
                                        deadline: Instant::now() + deadline,
                                        volumes_not_scanned: built.volumes_not_scanned,
                                        retrieving: false,
                                        last: None,
                                    },
                                );
                                None
                            }
                            Err(e) => Some(AttemptFailure {
                                reason: format!("creating the clone in {ns}: {}", api_message(&e)),
                                retryable: true,
                            }),
                        }
                    }
                };
                if let Some(failure) = failure {
                    self.attempt_failed(
                        index,
                        failure,
                        targets,
                        &mut tries,
                        &mut queue,
                        &mut records,
                        &mut totals,
                        total,
                    );
                }
            }
            if flights.is_empty() && queue.is_empty() {
                break;
            }
            let next_deadline = flights
                .values()
                .filter(|f| !f.retrieving)
                .map(|f| f.deadline)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                signal = &mut shutdown => {
                    interrupted = Some(signal);
                    break;
                }
                Some(event) = events.next() => {
                    let pod = match event {
                        Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => pod,
                        Ok(_) => continue,
                        Err(e) => {
                            tracing::warn!(error = %e, "watch of clones failed; retrying");
                            continue;
                        }
                    };
                    let name = pod.metadata.name.clone().unwrap_or_default();
                    let Some(flight) = flights.get_mut(&name) else { continue };
                    if flight.retrieving {
                        continue;
                    }
                    let target = &targets[flight.index];
                    let installer = (spec.target.run == RunMode::Hold).then_some(HOLD_CONTAINER);
                    let step = scan::step(&pod, &spec.scanner.container, &target.container, installer);
                    flight.last = Some(pod);
                    match step {
                        Step::ScannerDone { exit_code, message } => {
                            flight.retrieving = true;
                            let store = self.store.clone();
                            let name = name.clone();
                            let expected = flight.expected.clone();
                            retrievals.spawn(async move {
                                let got = scan::retrieve(&store, exit_code, message.as_deref(), &expected).await;
                                (name, got)
                            });
                        }
                        Step::Failed(reason) => {
                            let flight = flights.remove(&name).unwrap_or_else(|| unreachable!());
                            delete_pod(&self.client, &flight.namespace, &name).await;
                            self.attempt_failed(flight.index, AttemptFailure { reason, retryable: true }, targets, &mut tries, &mut queue, &mut records, &mut totals, total);
                        }
                        Step::Waiting(_) | Step::Running => {}
                    }
                }
                Some(joined) = retrievals.join_next(), if !retrievals.is_empty() => {
                    let Ok((name, got)) = joined else { continue };
                    let Some(flight) = flights.remove(&name) else { continue };
                    delete_pod(&self.client, &flight.namespace, &name).await;
                    match got {
                        Ok(retrieved) => {
                            let (record, p) = self.finished(&targets[flight.index], &flight, &tries[flight.index], retrieved);
                            if let Err(e) = files::write_progress(&self.store, &self.loc, &p, AUDIT_WRITES).await {
                                eprintln!("warning: progress record of {}: {e}", record.id);
                            }
                            self.report(&record, &mut totals, total);
                            records.push(record);
                            progress.push(p);
                        }
                        Err(failure) => {
                            let failure = AttemptFailure { reason: failure.reason, retryable: failure.retryable };
                            self.attempt_failed(flight.index, failure, targets, &mut tries, &mut queue, &mut records, &mut totals, total);
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_deadline) => {
                    let now = Instant::now();
                    let expired: Vec<String> = flights
                        .iter()
                        .filter(|(_, f)| !f.retrieving && f.deadline <= now)
                        .map(|(n, _)| n.clone())
                        .collect();
                    for name in expired {
                        let flight = flights.remove(&name).unwrap_or_else(|| unreachable!());
                        let reason = self.deadline_reason(&flight, &name, &targets[flight.index]).await;
                        delete_pod(&self.client, &flight.namespace, &name).await;
                        self.attempt_failed(flight.index, AttemptFailure { reason, retryable: true }, targets, &mut tries, &mut queue, &mut records, &mut totals, total);
                    }
                }
            }
        }
        if self.config.progress_bar {
            eprintln!();
        }
        Ok((records, progress, interrupted))
    }

    /// Why a clone missed its deadline: its status, and the newest warning among its events.
    async fn deadline_reason(&self, flight: &Flight, name: &str, target: &Target) -> String {
        let spec = self.spec();
        let waiting = match &flight.last {
            Some(pod) => {
                let installer = (spec.target.run == RunMode::Hold).then_some(HOLD_CONTAINER);
                match scan::step(pod, &spec.scanner.container, &target.container, installer) {
                    Step::Waiting(reason) => format!("stayed pending: {reason}"),
                    Step::Running => "the scan did not finish".to_string(),
                    _ => "no progress".to_string(),
                }
            }
            None => "stayed pending: no status yet".to_string(),
        };
        let events: Api<Event> = Api::namespaced(self.client.clone(), &flight.namespace);
        let warning = events
            .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .ok()
            .and_then(|list| scan::newest_warning(&list.items));
        let mut reason = format!(
            "deadline of {} s passed: {waiting}",
            spec.target_deadline_seconds
        );
        if let Some(w) = warning {
            reason.push_str(&format!(" ({w})"));
        }
        reason
    }

    #[allow(clippy::too_many_arguments)]
    fn attempt_failed(
        &self,
        index: usize,
        failure: AttemptFailure,
        targets: &[Target],
        tries: &mut [Tries],
        queue: &mut VecDeque<usize>,
        records: &mut Vec<TargetRecord>,
        totals: &mut Totals,
        total: usize,
    ) {
        let t = &mut tries[index];
        tracing::warn!(target = %targets[index].id(), attempt = t.attempts, reason = %failure.reason, "attempt failed");
        let again = state::retry(&failure, t.attempts, self.spec().retries);
        t.failures.push(failure);
        if again {
            // At the back: the others go first, giving a store or node time to recover.
            queue.push_back(index);
            return;
        }
        let target = &targets[index];
        let elapsed = t.started.map(|s| s.elapsed()).unwrap_or_default();
        let record = state::not_scanned(
            target,
            &t.failures,
            elapsed,
            self.spec().clone_namespace(&target.namespace),
        );
        self.report(&record, totals, total);
        records.push(record);
    }

    /// A scanned target's record and progress record.
    fn finished(
        &self,
        target: &Target,
        flight: &Flight,
        tries: &Tries,
        retrieved: scan::Retrieved,
    ) -> (TargetRecord, ProgressRecord) {
        let evaluated = sidescan_eval::hdf::parse(&retrieved.hdf).map(|hdf| {
            let summary = sidescan_eval::summary::summarize(&hdf);
            let validation = self
                .config
                .thresholds
                .as_ref()
                .map(|t| sidescan_eval::validate::validate(&summary, t));
            sidescan_eval::audit::scan_outcome(&hdf, &summary, validation.as_ref())
        });
        let pod = flight.last.as_ref();
        let digest = pod
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.iter().find(|c| c.name == target.container))
            .map(|c| c.image_id.clone())
            .filter(|d| !d.is_empty());
        let node = pod
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.node_name.clone());
        let mut record = state::not_scanned(
            target,
            &tries.failures,
            tries.started.map(|s| s.elapsed()).unwrap_or_default(),
            &flight.namespace,
        );
        record.reason = None;
        record.attempts = flight.attempt;
        record.run_id = Some(flight.run_id.to_string());
        record.image_digest = digest;
        record.node = node;
        record.result_keys = retrieved.keys;
        record.volumes_not_scanned = flight.volumes_not_scanned.clone();
        let (failed_controls, omitted) = match evaluated {
            Ok(outcome) => {
                record.verdict = outcome.verdict;
                record.compliance = Some(outcome.compliance);
                record.counts = Some(outcome.counts);
                record.failed_by_severity = Some(outcome.failed_by_severity);
                record.violations = outcome.violations;
                (outcome.failed_controls, outcome.failed_controls_omitted)
            }
            Err(e) => {
                record.reason = Some(format!("the stored hdf.json is not valid HDF: {e}"));
                (vec![], 0)
            }
        };
        let progress = ProgressRecord {
            audit_id: self.audit_id.to_string(),
            target: record.clone(),
            failed_controls,
            failed_controls_omitted: omitted,
        };
        (record, progress)
    }

    fn report(&self, record: &TargetRecord, totals: &mut Totals, total: usize) {
        match record.verdict {
            sidescan_core::audit::record::Verdict::Passed => totals.passed += 1,
            sidescan_core::audit::record::Verdict::Failed => totals.failed += 1,
            sidescan_core::audit::record::Verdict::NotScanned => totals.not_scanned += 1,
        }
        totals.targets += 1;
        if self.config.progress_bar {
            eprint!("\r\x1b[2K");
        }
        println!("{}", state::report_line(record));
        let _ = std::io::stdout().flush();
        if self.config.progress_bar {
            eprint!(
                "{}",
                state::progress_bar(totals, total, self.clock.elapsed(), 30)
            );
        }
    }

    /// Deletes every clone and ConfigMap of the audit and waits until no clone is left.
    async fn cleanup(&self, namespaces: &BTreeSet<String>) -> Result<(), Error> {
        let selector = labels::audit_selector(&self.audit_id);
        let params = ListParams::default().labels(&selector);
        let mut left = Vec::new();
        for ns in namespaces {
            let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
            let _ = pods
                .delete_collection(&DeleteParams::default().grace_period(5), &params)
                .await;
            let maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
            if let Ok(list) = maps.list(&params).await {
                for cm in list.items {
                    if let Some(name) = cm.metadata.name {
                        let _ = maps.delete(&name, &DeleteParams::default()).await;
                    }
                }
            }
            // Verify by watching until the list is empty (bounded).
            let gone = async {
                let mut stream =
                    watcher(pods.clone(), watcher::Config::default().labels(&selector))
                        .default_backoff()
                        .applied_objects()
                        .boxed();
                loop {
                    let remaining = pods.list(&params).await.map(|l| l.items.len()).unwrap_or(1);
                    if remaining == 0 {
                        return;
                    }
                    // Wait for the next change of an audit clone before looking again.
                    let _ = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
                }
            };
            if tokio::time::timeout(Duration::from_secs(90), gone)
                .await
                .is_err()
            {
                left.push(ns.clone());
            }
        }
        if left.is_empty() {
            Ok(())
        } else {
            Err(Error::Cleanup {
                what: format!("clones of audit {}", self.audit_id),
                reason: format!("still exist in {}", left.join(", ")),
            })
        }
    }
}

fn exit_status(code: u8) -> ExitStatus {
    match code {
        0 => ExitStatus::Passed,
        1 => ExitStatus::ThresholdsNotMet,
        2 => ExitStatus::BadInput,
        _ => ExitStatus::Infrastructure,
    }
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
        other => other.to_string(),
    }
}

async fn delete_pod(client: &Client, ns: &str, name: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    if let Err(e) = pods
        .delete(name, &DeleteParams::default().grace_period(5))
        .await
        && !matches!(&e, kube::Error::Api(s) if s.code == 404)
    {
        tracing::warn!(clone = name, error = %e, "deleting a clone failed; cleanup retries");
    }
}

/// SIGTERM (the Job's pod is deleted) or SIGINT.
async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// A local profile directory: `inspec.yml` and `controls/`, `libraries/`, `files/`, as ConfigMap
/// data keyed by [`profile_key`], and the file list.
fn read_profile_dir(
    dir: &std::path::Path,
) -> Result<(BTreeMap<String, String>, Vec<String>), Error> {
    let bad = |reason: String| Error::Input {
        path: format!("profile.dir {}", dir.display()),
        reason,
    };
    let mut data = BTreeMap::new();
    let mut files = Vec::new();
    let mut pending = vec![String::from("inspec.yml")];
    for sub in ["controls", "libraries", "files"] {
        if dir.join(sub).is_dir() {
            pending.push(sub.to_string());
        }
    }
    while let Some(rel) = pending.pop() {
        let path = dir.join(&rel);
        let meta = std::fs::symlink_metadata(&path).map_err(|e| bad(format!("{rel}: {e}")))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).map_err(|e| bad(format!("{rel}: {e}")))? {
                let entry = entry.map_err(|e| bad(e.to_string()))?;
                pending.push(format!("{rel}/{}", entry.file_name().to_string_lossy()));
            }
        } else if meta.is_file() {
            let key = profile_key(&rel)
                .ok_or_else(|| bad(format!("{rel}: name cannot be a ConfigMap key")))?;
            let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("{rel}: {e}")))?;
            data.insert(key, text);
            files.push(rel);
        } else {
            return Err(bad(format!("{rel}: not a regular file")));
        }
    }
    files.sort();
    Ok((data, files))
}
