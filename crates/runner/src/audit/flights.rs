//! The controller's loop: it executes the [`Scheduler`]'s actions against the cluster and the
//! store (create a clone and its profile copy, delete a clone, read a scan back and judge it,
//! record a target) and feeds the scheduler what the clones' watches, the retrievals, the clock
//! and the signals say. One label-selected watch per namespace clones run in; never a poll.

use crate::Error;
use crate::audit::cleanup::{self, delete_clone};
use crate::audit::clone::{self, CloneRequest, HOLD_CONTAINER};
use crate::audit::discover::Target;
use crate::audit::files;
use crate::audit::profile::{self, Profiles};
use crate::audit::run::{AUDIT_WRITES, Audit};
use crate::audit::scan::{self, Step};
use crate::audit::scheduler::{Action, Event, Limits, Outcome, Scheduler};
use crate::audit::state::{self, AttemptFailure, ScannedClone};
use crate::audit::timing::{self, CloneTimes};
use crate::binding::RunBinding;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event as KubeEvent, Pod};
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use sidescan_core::RunId;
use sidescan_core::audit::RunMode;
use sidescan_core::audit::record::{ProgressRecord, TargetRecord, Totals, Verdict};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::Write as _;
use std::time::Duration;
use tokio::task::{Id, JoinSet};

/// What scanning the targets left.
#[derive(Debug, Default)]
pub struct Scanned {
    pub records: Vec<TargetRecord>,
    pub progress: Vec<ProgressRecord>,
    pub interrupted: Option<&'static str>,
    /// Clones created and not seen gone: name -> namespace (for the cleanup).
    pub left: BTreeMap<String, String>,
    /// Deletes that failed (the cleanup tries again and reports what stays).
    pub problems: Vec<String>,
    /// What stopped the loop early (a refused watch).
    pub failure: Option<Error>,
}

/// One clone, as the controller knows it.
struct CloneData {
    index: usize,
    namespace: String,
    run_id: RunId,
    expected: crate::orchestrator::retrieve::Expected,
    volumes_not_scanned: Vec<sidescan_core::audit::record::VolumeNote>,
    digest: Option<String>,
    node: Option<String>,
    times: CloneTimes,
    /// Removed without waiting for the kubelet ([`cleanup::remove_stopped`]).
    removed: bool,
    /// Its containers are being created, as last seen (deleting it now would make the v1.20
    /// kubelet finish the deletion only at a later resync): a delete waits until they started.
    starting: bool,
    delete_deferred: bool,
}

/// A scan read back and judged, waiting for the scheduler to record it.
struct Judged {
    keys: BTreeMap<String, String>,
    evaluated: Result<sidescan_eval::audit::ScanOutcome, String>,
}

type Retrieval = (String, Result<Judged, scan::RetrieveFailure>);

struct Driver<'a> {
    audit: &'a Audit,
    targets: &'a [Target],
    profiles: Option<&'a Profiles>,
    sched: Scheduler,
    clones: BTreeMap<String, CloneData>,
    judged: BTreeMap<String, Judged>,
    retrievals: JoinSet<Retrieval>,
    retrieving: BTreeMap<Id, String>,
    writes: JoinSet<Option<String>>,
    removals: JoinSet<Result<(), String>>,
    totals: Totals,
    times: Vec<(String, CloneTimes)>,
    out: Scanned,
}

/// Scans `targets` (clones get their profile from `profiles`) until each is recorded or a
/// signal arrives.
pub async fn scan_all(audit: &Audit, targets: &[Target], profiles: Option<&Profiles>) -> Scanned {
    let spec = audit.spec();
    let limits = Limits {
        concurrency: spec.concurrency as usize,
        retries: spec.retries,
        deadline: Duration::from_secs(spec.target_deadline_seconds),
    };
    let mut driver = Driver {
        audit,
        targets,
        profiles,
        sched: Scheduler::new(limits, targets.len()),
        clones: BTreeMap::new(),
        judged: BTreeMap::new(),
        retrievals: JoinSet::new(),
        retrieving: BTreeMap::new(),
        writes: JoinSet::new(),
        removals: JoinSet::new(),
        totals: Totals::default(),
        times: Vec::new(),
        out: Scanned::default(),
    };
    if !targets.is_empty() {
        driver.run().await;
    }
    driver.finish().await
}

fn refused(e: &watcher::Error) -> bool {
    matches!(e,
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        if s.code == 401 || s.code == 403)
}

impl Driver<'_> {
    fn now(&self) -> Duration {
        self.audit.clock.elapsed()
    }

    async fn run(&mut self) {
        let namespaces: BTreeSet<String> = self
            .targets
            .iter()
            .map(|t| self.audit.spec().clone_namespace(&t.namespace).to_string())
            .collect();
        // One watch per clone namespace, merged: every version of every clone of this audit.
        let selector = sidescan_core::labels::audit_selector(&self.audit.audit_id);
        let streams = namespaces.iter().map(|ns| {
            let api: Api<Pod> = Api::namespaced(self.audit.client.clone(), ns);
            watcher(api, watcher::Config::default().labels(&selector))
                .default_backoff()
                .boxed()
        });
        let mut events = futures::stream::select_all(streams);
        let mut shutdown = std::pin::pin!(crate::signals::shutdown_signal());
        let now = self.now();
        let mut actions = self.sched.start(now);
        loop {
            self.execute(actions).await;
            if self.sched.is_done() {
                break;
            }
            let next_deadline = self
                .sched
                .next_deadline()
                .map(|d| self.audit.clock + d)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            actions = tokio::select! {
                signal = &mut shutdown => {
                    self.out.interrupted = Some(signal);
                    self.sched.handle(self.now(), Event::Interrupted)
                }
                Some(event) = events.next() => match event {
                    Ok(event) => self.watched(event),
                    Err(e) if refused(&e) => {
                        self.out.failure = Some(Error::ScanPod {
                            reason: format!("watching the audit's clones: {e}"),
                        });
                        self.sched.handle(self.now(), Event::Interrupted)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "watch of clones failed; retrying");
                        Vec::new()
                    }
                },
                Some(joined) = self.retrievals.join_next_with_id(), if !self.retrievals.is_empty() => {
                    self.retrieved(joined)
                }
                Some(removed) = self.removals.join_next(), if !self.removals.is_empty() => {
                    if let Ok(Err(problem)) = removed {
                        tracing::warn!(problem = %problem, "removing a stopped clone failed; cleanup retries");
                    }
                    Vec::new()
                }
                Some(written) = self.writes.join_next(), if !self.writes.is_empty() => {
                    if let Ok(Some(warning)) = written {
                        eprintln!("warning: {warning}");
                    }
                    Vec::new()
                }
                _ = tokio::time::sleep_until(next_deadline) => self.deadlines().await,
            };
        }
        if self.audit.config.progress_bar {
            eprintln!();
        }
    }

    /// Executes actions in order, and the scheduler's answers to what they cause.
    async fn execute(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let event = match action {
                Action::Create { index, attempt } => Some(self.create(index, attempt).await),
                Action::Retrieve {
                    clone,
                    exit_code,
                    message,
                } => {
                    self.retrieve(clone, exit_code, message);
                    None
                }
                Action::Delete { clone } => {
                    self.delete(&clone).await;
                    None
                }
                Action::Record(outcome) => {
                    self.record(outcome);
                    None
                }
                Action::Done { .. } => None,
            };
            if let Some(event) = event {
                let now = self.now();
                queue.extend(self.sched.handle(now, event));
            }
        }
    }

    /// Creates the clone of target `index` (and its profile copy).
    async fn create(&mut self, index: usize, attempt: u32) -> Event {
        let audit = self.audit;
        let spec = audit.spec();
        let target = &self.targets[index];
        let ns = spec.clone_namespace(&target.namespace).to_string();
        let run_id = RunId::from_entropy(rand::random());
        let fail = |reason: String, retryable: bool| Event::CreateFailed {
            index,
            failure: AttemptFailure { reason, retryable },
        };
        // The clone's run: its folder, and presigned uploads of exactly its two objects.
        let lifetime = Duration::from_secs(spec.target_deadline_seconds + 60);
        let binding = match RunBinding::new(
            Some(&audit.store),
            &target.namespace,
            &target.segment(),
            run_id.clone(),
            lifetime,
        )
        .await
        {
            Ok(binding) => binding,
            Err(e) => return fail(format!("presigning the clone's uploads: {e}"), true),
        };
        let profile = self
            .profiles
            .map(|p| p.for_clone(&audit.audit_id, &run_id, &ns));
        let request = CloneRequest {
            spec,
            audit_id: &audit.audit_id,
            run_id: &run_id,
            namespace: &ns,
            owner: audit.owner(&ns),
            profile: profile.as_ref().map(|p| p.mount.clone()),
            seccomp_field: audit.seccomp_field,
            now: jiff::Timestamp::now(),
            binding: Some(&binding),
        };
        let built = match clone::build(target, &request) {
            Ok(built) => built,
            Err(refused) => return fail(refused.0, false),
        };
        let name = built.pod.metadata.name.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(audit.client.clone(), &ns);
        let created = match pods.create(&PostParams::default(), &built.pod).await {
            Ok(pod) => pod,
            Err(e) => {
                return fail(
                    format!("creating the clone in {ns}: {}", api_message(&e)),
                    true,
                );
            }
        };
        let created_at = self.now();
        self.out.left.insert(name.clone(), ns.clone());
        tracing::info!(target = %target.id(), clone = %name, attempt, "clone created");
        if let (Some(p), Some(profiles)) = (profile.filter(|p| p.copy), self.profiles) {
            let cm = profile::copy_config_map(&audit.audit_id, &run_id, &profiles.data, &created);
            if let Err(e) = profile::create_copy(&audit.client, &ns, &cm).await {
                // The clone cannot start without its profile.
                self.delete_named(&ns, &name).await;
                return fail(format!("{e} (for {})", p.mount.config_map), true);
            }
        }
        self.clones.insert(
            name.clone(),
            CloneData {
                index,
                namespace: ns,
                run_id,
                expected: binding.expected(),
                volumes_not_scanned: built.volumes_not_scanned,
                digest: None,
                node: None,
                times: CloneTimes::new(created_at),
                removed: false,
                starting: false,
                delete_deferred: false,
            },
        );
        Event::Created { index, clone: name }
    }

    async fn delete_named(&mut self, ns: &str, name: &str) {
        if let Err(e) = delete_clone(&self.audit.client, ns, name).await {
            tracing::warn!(clone = name, error = %e, "deleting a clone failed; cleanup retries");
            self.out.problems.push(e);
        }
    }

    async fn delete(&mut self, clone: &str) {
        let now = self.now();
        let Some(data) = self.clones.get_mut(clone) else {
            return;
        };
        CloneTimes::mark(&mut data.times.deleted, data.times.created_at, now);
        if data.starting {
            data.delete_deferred = true;
            return;
        }
        let ns = data.namespace.clone();
        self.delete_named(&ns, clone).await;
    }

    /// A watched version of a clone, or its deletion.
    fn watched(&mut self, event: watcher::Event<Pod>) -> Vec<Action> {
        let now = self.now();
        let (pod, gone) = match event {
            watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => (pod, false),
            watcher::Event::Delete(pod) => (pod, true),
            watcher::Event::Init | watcher::Event::InitDone => return Vec::new(),
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        if gone {
            self.out.left.remove(&name);
        }
        let Some(data) = self.clones.get_mut(&name) else {
            return Vec::new();
        };
        if gone {
            CloneTimes::mark(&mut data.times.gone, data.times.created_at, now);
            let times = data.times.clone();
            tracing::info!(clone = %name, target = %self.targets[data.index].id(), timings = %times, "clone gone");
            self.times.push((name.clone(), times));
            return self.sched.handle(now, Event::CloneGone { clone: name });
        }
        let spec = self.audit.spec();
        let target = &self.targets[data.index];
        let installer = (spec.target.run == RunMode::Hold).then_some(HOLD_CONTAINER);
        data.times.observe(
            &pod,
            &spec.scanner.container,
            &target.container,
            installer,
            now,
        );
        let step = scan::step(&pod, &spec.scanner.container, &target.container, installer);
        if matches!(step, Step::ScannerDone { .. }) {
            data.digest = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c.iter().find(|c| c.name == target.container))
                .map(|c| c.image_id.clone());
            data.node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        }
        data.starting = crate::orchestrator::progress::starting(&pod);
        if data.delete_deferred && !data.starting {
            data.delete_deferred = false;
            let (client, ns, clone) = (
                self.audit.client.clone(),
                data.namespace.clone(),
                name.clone(),
            );
            self.removals
                .spawn(async move { delete_clone(&client, &ns, &clone).await });
        }
        if cleanup::stopped_while_deleted(&pod) && !data.removed {
            // Deleted and stopped: remove the object now rather than at the kubelet's resync.
            data.removed = true;
            let client = self.audit.client.clone();
            self.removals
                .spawn(async move { cleanup::remove_stopped(&client, &pod).await });
        }
        self.sched
            .handle(now, Event::CloneUpdate { clone: name, step })
    }

    /// Reads a scan back and judges it, in the background.
    fn retrieve(&mut self, clone: String, exit_code: i32, message: Option<String>) {
        let Some(data) = self.clones.get(&clone) else {
            return;
        };
        let store = self.audit.store.clone();
        let expected = data.expected.clone();
        let thresholds = self.audit.config.thresholds.clone();
        let name = clone.clone();
        let handle = self.retrievals.spawn(async move {
            let got = scan::retrieve(&store, exit_code, message.as_deref(), &expected).await;
            let judged = got.map(|r| Judged {
                evaluated: state::evaluate(&r.hdf, thresholds.as_ref()),
                keys: r.keys,
            });
            (name, judged)
        });
        self.retrieving.insert(handle.id(), clone);
    }

    fn retrieved(
        &mut self,
        joined: Result<(Id, Retrieval), tokio::task::JoinError>,
    ) -> Vec<Action> {
        let now = self.now();
        let (clone, result) = match joined {
            Ok((id, (clone, got))) => {
                self.retrieving.remove(&id);
                let result = match got {
                    Ok(judged) => {
                        self.judged.insert(clone.clone(), judged);
                        Ok(())
                    }
                    Err(f) => Err(AttemptFailure {
                        reason: f.reason,
                        retryable: f.retryable,
                    }),
                };
                (clone, result)
            }
            Err(e) => {
                let Some(clone) = self.retrieving.remove(&e.id()) else {
                    return Vec::new();
                };
                let failure = AttemptFailure {
                    reason: format!("reading the results back failed: {e}"),
                    retryable: true,
                };
                (clone, Err(failure))
            }
        };
        if let Some(data) = self.clones.get_mut(&clone) {
            CloneTimes::mark(&mut data.times.retrieved, data.times.created_at, now);
        }
        self.sched.handle(now, Event::Retrieved { clone, result })
    }

    /// Clones past their deadline, with the newest warning among their events.
    async fn deadlines(&mut self) -> Vec<Action> {
        let expired = self.sched.expired(self.now());
        let mut actions = Vec::new();
        for clone in expired {
            let warning = match self.clones.get(&clone) {
                Some(data) => {
                    let events: Api<KubeEvent> =
                        Api::namespaced(self.audit.client.clone(), &data.namespace);
                    let params =
                        ListParams::default().fields(&format!("involvedObject.name={clone}"));
                    match events.list(&params).await {
                        Ok(list) => scan::newest_warning(&list.items),
                        Err(e) => {
                            tracing::warn!(clone = %clone, error = %e, "listing the clone's events failed");
                            None
                        }
                    }
                }
                None => None,
            };
            let now = self.now();
            actions.extend(
                self.sched
                    .handle(now, Event::DeadlinePassed { clone, warning }),
            );
        }
        actions
    }

    fn record(&mut self, outcome: Outcome) {
        let spec = self.audit.spec();
        let record = match outcome {
            Outcome::Scanned {
                index,
                clone,
                attempt,
                elapsed,
            } => {
                let (Some(data), Some(judged)) =
                    (self.clones.get(&clone), self.judged.remove(&clone))
                else {
                    return;
                };
                let scanned = ScannedClone {
                    clone_namespace: data.namespace.clone(),
                    run_id: data.run_id.to_string(),
                    attempt,
                    duration: elapsed,
                    digest: data.digest.clone(),
                    node: data.node.clone(),
                    result_keys: judged.keys,
                    volumes_not_scanned: data.volumes_not_scanned.clone(),
                };
                let (record, progress) = state::scanned(
                    &self.audit.audit_id,
                    &self.targets[index],
                    scanned,
                    judged.evaluated,
                );
                let store = self.audit.store.clone();
                let loc = self.audit.loc.clone();
                let p = progress.clone();
                self.writes.spawn(async move {
                    files::write_progress(&store, &loc, &p, AUDIT_WRITES)
                        .await
                        .err()
                        .map(|e| format!("progress record of {}: {e}", p.target.id))
                });
                self.out.progress.push(progress);
                record
            }
            Outcome::NotScanned {
                index,
                failures,
                elapsed,
            } => {
                let target = &self.targets[index];
                for f in &failures {
                    tracing::warn!(target = %target.id(), reason = %f.reason, "attempt failed");
                }
                state::not_scanned(
                    target,
                    &failures,
                    elapsed,
                    spec.clone_namespace(&target.namespace),
                )
            }
        };
        self.report(&record);
        self.out.records.push(record);
    }

    fn report(&mut self, record: &TargetRecord) {
        let totals = &mut self.totals;
        match record.verdict {
            Verdict::Passed => totals.passed += 1,
            Verdict::Failed => totals.failed += 1,
            Verdict::NotScanned => totals.not_scanned += 1,
        }
        totals.targets += 1;
        let bar = self.audit.config.progress_bar;
        if bar {
            eprint!("\r\x1b[2K");
        }
        println!("{}", state::report_line(record));
        let _ = std::io::stdout().flush();
        if bar {
            eprint!(
                "{}",
                state::progress_bar(totals, self.targets.len(), self.audit.clock.elapsed(), 30)
            );
        }
    }

    /// Waits for the progress records being written, and logs where the clones' time went.
    async fn finish(mut self) -> Scanned {
        while let Some(written) = self.writes.join_next().await {
            if let Ok(Some(warning)) = written {
                eprintln!("warning: {warning}");
            }
        }
        let seen: BTreeSet<&String> = self.times.iter().map(|(n, _)| n).collect();
        let mut all: Vec<CloneTimes> = self.times.iter().map(|(_, t)| t.clone()).collect();
        all.extend(
            self.clones
                .iter()
                .filter(|(n, _)| !seen.contains(n))
                .map(|(_, d)| d.times.clone()),
        );
        if !all.is_empty() {
            tracing::info!(
                clones = all.len(),
                medians = %timing::medians(&all),
                "clone phases (ms from creation, medians)"
            );
        }
        self.out
    }
}

fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
        other => other.to_string(),
    }
}
