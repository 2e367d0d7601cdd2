//! The audit controller (`sidescan-runner audit`): discover the targets, remove an earlier run's
//! leftovers, scan (the scheduler in [`crate::audit::scheduler`], its I/O in
//! [`crate::audit::flights`]), remove every clone of the audit on every ending
//! ([`crate::audit::cleanup`]), and write the audit's files once at the end.

use crate::Error;
use crate::audit::{cleanup, files, flights, profile, state};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::Client;
use sha2::{Digest, Sha256};
use sidescan_core::ExitStatus;
use sidescan_core::audit::{AuditId, AuditSpec};
use sidescan_eval::Threshold;
use sidescan_store::{self, RetryPolicy, Store};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;
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
pub(crate) const AUDIT_WRITES: RetryPolicy = RetryPolicy {
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
    match Audit::start(config).await {
        Ok(status) => status,
        Err(e) => {
            eprintln!("sidescan-runner audit: {e}");
            e.exit_status()
        }
    }
}

/// One audit's context: what every phase reads.
pub struct Audit {
    pub config: AuditConfig,
    pub client: Client,
    pub store: Store,
    pub audit_id: AuditId,
    pub loc: sidescan_core::AuditLocation,
    pub seccomp_field: bool,
    pub cronjob_v1: bool,
    pub started: jiff::Timestamp,
    /// The audit's monotonic clock (the scheduler's times are offsets from it).
    pub clock: Instant,
    /// API requests made so far (for the figures in docs/benchmarks.md).
    pub requests: crate::orchestrator::cluster::ApiCounter,
}

impl Audit {
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
        let audit = Audit {
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
        audit.audit().await
    }

    pub fn spec(&self) -> &AuditSpec {
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
        cleanup::remove_leftovers(&self.client, &self.audit_id, &clone_namespaces).await?;
        let stored = files::read_progress(&self.store, &self.loc).await?;
        let plan = state::resume_plan(discovery.targets, stored);
        if !plan.resumed.is_empty() {
            println!(
                "resuming: {} target(s) stored by an earlier run, {} to scan",
                plan.resumed.len(),
                plan.to_scan.len()
            );
        }
        let namespaces = plan
            .to_scan
            .iter()
            .map(|t| self.spec().clone_namespace(&t.namespace));
        let scanned = match profile::load(&self.client, self.spec(), namespaces).await {
            Ok(profiles) => flights::scan_all(&self, &plan.to_scan, profiles.as_ref()).await,
            Err(e) => flights::Scanned {
                failure: Some(e),
                ..flights::Scanned::default()
            },
        };
        // Cleanup on every ending: every clone of this audit, verified gone (their profile
        // copies go with them).
        let cleanup = cleanup::remove_all(
            &self.client,
            &self.audit_id,
            &clone_namespaces,
            &scanned.left,
            cleanup::GONE_WITHIN,
        )
        .await;
        if let Some(e) = scanned.failure {
            if let Err(c) = &cleanup {
                eprintln!("sidescan-runner audit: {c}");
            }
            return Err(e);
        }
        // A clone left behind fails the audit (exit 3) once its results are written: the
        // verdicts already read back are not lost to a slow kubelet.
        let cleanup_failure = cleanup.err();
        for problem in &scanned.problems {
            tracing::info!(problem = %problem, "a delete failed during the audit; the cleanup removed the clone");
        }
        if let Some(signal) = scanned.interrupted {
            if let Some(c) = cleanup_failure {
                return Err(c);
            }
            eprintln!(
                "interrupted by {signal}: {} target(s) finished; resume with --resume {}",
                scanned.records.len(),
                self.audit_id
            );
            return Ok(ExitStatus::Infrastructure);
        }
        let (records, progress) = (scanned.records, scanned.progress);
        let mut all = plan.resumed;
        all.extend(records);
        let mut all_progress = plan.resumed_progress;
        all_progress.extend(progress);
        let mut record = state::audit_record(
            self.spec(),
            &self.audit_id,
            self.started,
            jiff::Timestamp::now(),
            &self.store.url,
            discovery.warnings,
            all,
        );
        record.api_requests = Some(self.requests.total());
        if let Some(c) = &cleanup_failure {
            record.warnings.push(c.to_string());
        }
        let mut record = crate::audit::history::apply(
            &self.store,
            &self.loc,
            record,
            &self.config.history,
            self.spec().notify.as_ref(),
        )
        .await;
        if cleanup_failure.is_some() {
            // audit.json says what the process exits with: infrastructure.
            record.exit_code = ExitStatus::Infrastructure.code();
        }
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
                if let Some(c) = cleanup_failure {
                    return Err(c);
                }
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
        match cleanup_failure {
            Some(c) => Err(c),
            None => Ok(exit_status(record.exit_code)),
        }
    }

    /// An owner reference to the audit Job, for objects in its namespace.
    pub fn owner(&self, namespace: &str) -> Option<OwnerReference> {
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
}

fn exit_status(code: u8) -> ExitStatus {
    match code {
        0 => ExitStatus::Passed,
        1 => ExitStatus::ThresholdsNotMet,
        2 => ExitStatus::BadInput,
        _ => ExitStatus::Infrastructure,
    }
}
