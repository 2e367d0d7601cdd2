//! `sidescan-runner exporter`: serves the latest audit's metrics and the latest stored scan of
//! each namespace/target as OpenMetrics text (`/metrics`, and `/healthz`), read from the store
//! on an interval. Read-only: it lists and gets, never writes.
//!
//! A refresh streams the listing of the store's prefix page by page through a [`Tracker`] that
//! keeps only the latest run folder of each namespace/target and the latest `audit.json`; the
//! files of a run are read only when its latest folder changed since the last refresh (the
//! previous samples are reused otherwise). Memory follows the number of targets, not the number
//! of stored results. When a refresh fails, the last good snapshot stays served and
//! `sidescan_exporter_last_refresh_success` says 0.
//!
//! The audit runner writes the same audit families to `metrics.prom` beside `audit.json`
//! ([`metrics_file`]).

pub mod collect;
pub mod serve;

use crate::Error;
use collect::{LatestRun, Tracker, Unreadable};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use sidescan_core::audit::record::AuditRecord;
use sidescan_core::layout::AuditFile;
use sidescan_eval::metrics::{self, Family, ScanSample};
use sidescan_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `metrics.prom`: the audit's figures, a pure rendering of `audit.json` (so an interrupted final
/// write is finished later with identical bytes, like the other audit files).
pub fn metrics_file(audit: &AuditRecord) -> (AuditFile, Vec<u8>) {
    (
        AuditFile::Metrics,
        metrics::audit_metrics(audit).into_bytes(),
    )
}

/// Runs' files read at once during a refresh.
const FETCH_CONCURRENCY: usize = 8;

/// What the exporter serves from.
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    /// `s3://bucket/prefix` or `file:///dir`.
    pub store_url: String,
    /// The `cluster` label; without it, the audit's own `clusterName`.
    pub cluster: Option<String>,
    pub refresh: Duration,
    pub listen: SocketAddr,
}

/// What the last good refresh found: the latest run folder and sample of each namespace/target,
/// and the latest audit's key and families.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    scans: BTreeMap<(String, String), (String, ScanSample)>,
    audit: Option<(String, Vec<Family>)>,
}

impl Collected {
    pub fn series(&self) -> usize {
        self.scans.len()
    }

    pub fn audit_key(&self) -> Option<&str> {
        self.audit.as_ref().map(|(k, _)| k.as_str())
    }
}

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshStats {
    /// Objects listed under the prefix.
    pub listed: u64,
    /// Runs whose files were read (their latest folder changed).
    pub fetched: u64,
    /// Runs and audits whose files could not be parsed (left out, named in the log).
    pub unreadable: u64,
    pub seconds: f64,
}

/// One object, or None when it is gone (deleted between listing and reading).
async fn get_optional(store: &Store, key: &str) -> Result<Option<bytes::Bytes>, StoreError> {
    match store.get_bytes(key).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(StoreError::Io {
            source: object_store::Error::NotFound { .. },
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads one run's files into its sample.
async fn read_run(
    store: &Store,
    run: &LatestRun,
) -> Result<Result<ScanSample, Unreadable>, StoreError> {
    let prefix = store.prefix.as_str();
    let metadata = if run.has_metadata {
        get_optional(store, &run.key(prefix, "metadata.json")).await?
    } else {
        None
    };
    let evaluation = if run.has_evaluation {
        get_optional(store, &run.key(prefix, "evaluation.json")).await?
    } else {
        None
    };
    let hdf = if evaluation.is_none() {
        get_optional(store, &run.key(prefix, "hdf.json")).await?
    } else {
        None
    };
    Ok(collect::scan_sample(
        prefix,
        run,
        metadata.as_deref(),
        evaluation.as_deref(),
        hdf.as_deref(),
    ))
}

/// One refresh: lists the store's prefix (streamed, page by page), reads the runs whose latest
/// folder changed since `previous` and the latest audit when it changed, and returns what to
/// serve. Any store error fails the refresh (the caller keeps serving `previous`); a file that
/// does not parse is left out and counted.
pub async fn refresh(
    store: &Store,
    cluster: Option<&str>,
    previous: &Collected,
) -> Result<(Collected, RefreshStats), Error> {
    let clock = Instant::now();
    let mut tracker = Tracker::new(&store.prefix);
    let prefix = (!store.prefix.is_empty()).then(|| ObjectPath::from(store.prefix.as_str()));
    let mut listing = store.inner.list(prefix.as_ref());
    while let Some(meta) = listing.next().await {
        let meta = meta.map_err(|source| StoreError::Io {
            key: format!("{}/ (listing)", store.prefix),
            source,
        })?;
        tracker.observe(
            meta.location.as_ref(),
            meta.last_modified.timestamp_millis(),
        );
    }
    drop(listing);
    let mut stats = RefreshStats {
        listed: tracker.listed,
        ..RefreshStats::default()
    };
    let (runs, latest_audit) = tracker.finish();

    let mut next = Collected::default();
    let mut to_read = Vec::new();
    for run in runs {
        let series = (run.namespace.clone(), run.target.clone());
        match previous.scans.get(&series) {
            Some((folder, sample)) if *folder == run.folder => {
                next.scans.insert(series, (folder.clone(), sample.clone()));
            }
            _ => to_read.push(run),
        }
    }
    stats.fetched = to_read.len() as u64;
    let mut reads = futures::stream::iter(to_read)
        .map(|run| async move {
            let got = read_run(store, &run).await;
            (run, got)
        })
        .buffer_unordered(FETCH_CONCURRENCY);
    while let Some((run, got)) = reads.next().await {
        match got? {
            Ok(sample) => {
                next.scans
                    .insert((run.namespace, run.target), (run.folder, sample));
            }
            Err(bad) => {
                stats.unreadable += 1;
                tracing::warn!(key = %bad.key, reason = %bad.reason, "stored result left out");
            }
        }
    }
    drop(reads);

    next.audit = match latest_audit {
        None => None,
        Some(latest) => match &previous.audit {
            Some((key, families)) if *key == latest.key => Some((key.clone(), families.clone())),
            _ => match get_optional(store, &latest.key).await? {
                None => None,
                Some(bytes) => match serde_json::from_slice::<AuditRecord>(&bytes) {
                    Ok(record) => Some((
                        latest.key.clone(),
                        metrics::audit_families(&record, cluster),
                    )),
                    Err(e) => {
                        stats.unreadable += 1;
                        tracing::warn!(key = %latest.key, reason = %e, "audit.json left out");
                        None
                    }
                },
            },
        },
    };
    stats.seconds = clock.elapsed().as_secs_f64();
    Ok((next, stats))
}

/// The exporter's own state, as gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub last_refresh_success: bool,
    /// The last refresh attempt (seconds since the epoch).
    pub last_refresh: f64,
    /// The last successful refresh, what the served figures date from.
    pub last_success: Option<f64>,
    pub stats: RefreshStats,
    pub series: usize,
}

/// The exporter's own families.
pub fn health_families(h: &Health) -> Vec<Family> {
    let gauge = |name, help, value: f64| {
        let mut f = Family::gauge(name, help);
        f.push(vec![], value);
        f
    };
    let mut families = vec![
        gauge(
            "sidescan_exporter_last_refresh_success",
            "1 when the last refresh from the store succeeded; 0 when it failed (the last good figures are served).",
            if h.last_refresh_success { 1.0 } else { 0.0 },
        ),
        gauge(
            "sidescan_exporter_last_refresh_timestamp_seconds",
            "When the last refresh was attempted (seconds since the epoch).",
            h.last_refresh,
        ),
        gauge(
            "sidescan_exporter_refresh_duration_seconds",
            "How long the last successful refresh took.",
            h.stats.seconds,
        ),
        gauge(
            "sidescan_exporter_listed_objects",
            "Objects listed under the store's prefix by the last successful refresh.",
            h.stats.listed as f64,
        ),
        gauge(
            "sidescan_exporter_scan_series",
            "Namespace/targets with a stored scan, as served.",
            h.series as f64,
        ),
        gauge(
            "sidescan_exporter_unreadable_objects",
            "Stored results or audits the last successful refresh could not parse (left out).",
            h.stats.unreadable as f64,
        ),
    ];
    if let Some(at) = h.last_success {
        families.push(gauge(
            "sidescan_exporter_last_success_timestamp_seconds",
            "When the last successful refresh finished (seconds since the epoch).",
            at,
        ));
    }
    families
}

/// The served text: the last good store families and the exporter's own.
pub fn exposition(collected: &Collected, cluster: Option<&str>, health: &Health) -> String {
    let scans = metrics::scan_families(
        collected.scans.values().map(|(_, s)| s),
        cluster.unwrap_or_default(),
    );
    let health = health_families(health);
    let audit = collected.audit.iter().flat_map(|(_, f)| f.iter());
    metrics::render(audit.chain(scans.iter()).chain(health.iter()))
}

fn now_seconds() -> f64 {
    jiff::Timestamp::now().as_millisecond() as f64 / 1000.0
}

/// Takes a refresh's outcome: a success replaces what is served; a failure keeps the last good
/// figures and says so in the health gauges.
pub fn apply(
    outcome: Result<(Collected, RefreshStats), String>,
    collected: &mut Collected,
    health: &mut Health,
    now: f64,
) {
    health.last_refresh = now;
    match outcome {
        Ok((next, stats)) => {
            *collected = next;
            health.last_refresh_success = true;
            health.last_success = Some(now);
            tracing::info!(
                listed = stats.listed,
                fetched = stats.fetched,
                unreadable = stats.unreadable,
                series = collected.series(),
                audit = collected.audit_key().unwrap_or_default(),
                seconds = stats.seconds,
                "refreshed"
            );
            health.stats = stats;
            health.series = collected.series();
        }
        Err(e) => {
            health.last_refresh_success = false;
            tracing::warn!(error = %e, "refresh failed; serving the last good figures");
        }
    }
}

/// One refresh and its exposition (`--once`): for checks and benchmarks.
pub async fn once(config: &ExporterConfig) -> Result<(String, RefreshStats, usize), Error> {
    let store = sidescan_store::open(&config.store_url)?;
    let (collected, stats) =
        refresh(&store, config.cluster.as_deref(), &Collected::default()).await?;
    let health = Health {
        last_refresh_success: true,
        last_refresh: now_seconds(),
        last_success: Some(now_seconds()),
        stats: stats.clone(),
        series: collected.series(),
    };
    Ok((
        exposition(&collected, config.cluster.as_deref(), &health),
        stats,
        collected.series(),
    ))
}

/// Serves until SIGTERM or SIGINT, refreshing every `config.refresh`.
pub async fn run(config: ExporterConfig) -> Result<(), Error> {
    let store = sidescan_store::open(&config.store_url)?;
    let cluster = config.cluster.clone();
    let mut health = Health::default();
    let mut collected = Collected::default();
    let (tx, rx) = tokio::sync::watch::channel(Arc::new(serve::Snapshot::new(
        exposition(&collected, cluster.as_deref(), &health),
        &health,
    )));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            address: config.listen.to_string(),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| Error::Listen {
        address: config.listen.to_string(),
        source,
    })?;
    println!(
        "exporter: http://{address}/metrics from {} every {} s",
        store.url,
        config.refresh.as_secs()
    );
    let server = tokio::spawn(serve::serve(listener, rx));
    let mut shutdown = std::pin::pin!(crate::signals::shutdown_signal());
    // A refresh that hangs (an unreachable store) ends at the next interval, at least a minute.
    let limit = config.refresh.max(Duration::from_secs(60));
    loop {
        let attempt = tokio::time::timeout(limit, refresh(&store, cluster.as_deref(), &collected));
        let outcome = tokio::select! {
            outcome = attempt => outcome,
            signal = &mut shutdown => {
                println!("exporter: {signal}, stopping");
                break;
            }
        };
        let outcome = match outcome {
            Ok(Ok(refreshed)) => Ok(refreshed),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("timed out after {} s", limit.as_secs())),
        };
        apply(outcome, &mut collected, &mut health, now_seconds());
        let text = exposition(&collected, cluster.as_deref(), &health);
        let _ = tx.send(Arc::new(serve::Snapshot::new(text, &health)));
        tokio::select! {
            _ = tokio::time::sleep(config.refresh) => {}
            signal = &mut shutdown => {
                println!("exporter: {signal}, stopping");
                break;
            }
        }
    }
    server.abort();
    Ok(())
}

#[cfg(test)]
mod tests;
