//! What changed since the last results, applied once at the end of an audit, when every target's
//! record is final and before the audit's files are written ([`apply`]):
//!
//! 1. each scanned target is compared with its baseline (`--baseline latest`: its previous run
//!    from the results layout; `--baseline AUDIT`: its result in that audit) and the delta goes
//!    into its record;
//! 2. each target's trend: its compliance in the last `--trend` audits, read from their
//!    `audit.json` (one listing of `<prefix>/audits/`, then the latest few);
//! 3. the gate (`--fail-on-new`: the exit code says whether anything newly fails);
//! 4. the webhook, with the new failures (its outcome is recorded, never the audit's exit code).
//!
//! Nothing here fails the audit: what cannot be read is a warning in `audit.json`.

use crate::audit::notify::{self, SendPolicy};
use crate::baseline;
use futures::StreamExt;
use sidescan_core::AuditLocation;
use sidescan_core::audit::record::AuditRecord;
use sidescan_core::audit::{Notify, Webhook};
use sidescan_core::history::{
    AuditHistory, BaselineRequest, Comparison, Gate, HistoryTotals, NotificationOutcome,
    audit_exit_status, trend_candidates,
};
use sidescan_core::layout::AuditFile;
use sidescan_core::{ResultFile, audit::AuditId};
use sidescan_store::Store;
use std::collections::BTreeMap;

/// Store reads at once (baselines, earlier audits).
const READS_AT_ONCE: usize = 8;

/// `--baseline`, `--fail-on-new`, `--trend`.
#[derive(Debug, Clone)]
pub struct HistoryConfig {
    /// `None`: targets are not compared (`--baseline none`).
    pub baseline: Option<BaselineRequest>,
    pub gate: Gate,
    /// Audits in each target's trend, this one included (1: none before it).
    pub trend: usize,
    pub send: SendPolicy,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            baseline: Some(BaselineRequest::Latest),
            gate: Gate::Thresholds,
            trend: DEFAULT_TREND,
            send: SendPolicy::default(),
        }
    }
}

/// The default `--trend`.
pub const DEFAULT_TREND: usize = 10;

/// Compares, reads the trend, gates and notifies; returns the record to write. Prints one line
/// of what it found (and a warning line per webhook failure, naming its host only).
pub async fn apply(
    store: &Store,
    loc: &AuditLocation,
    mut record: AuditRecord,
    config: &HistoryConfig,
    notify_spec: Option<&Notify>,
) -> AuditRecord {
    let mut history = AuditHistory {
        baseline: config
            .baseline
            .as_ref()
            .map(|b| b.as_str().to_string())
            .unwrap_or_else(|| "none".into()),
        gate: config.gate,
        trend_length: config.trend as u32,
        ..AuditHistory::default()
    };
    if let Some(request) = &config.baseline {
        compare_targets(store, request, &mut record, &mut history).await;
    }
    let trend_note = if config.trend > 0 {
        add_trends(store, config.trend, &mut record, &mut history).await
    } else {
        String::new()
    };
    gate(config, &mut record, &mut history);
    if config.baseline.is_some() {
        println!(
            "{}",
            since_line(&history.totals, &trend_note, config.gate, record.exit_code)
        );
    }
    for w in &history.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(webhook) = notify_spec.and_then(|n| n.webhook.as_ref()) {
        notify_new_failures(store, loc, webhook, config.send, &record, &mut history).await;
    }
    record.history = Some(history);
    record
}

/// Step 1, the baselines: each target with results compared with its baseline (the reads run a
/// few at once); what cannot be compared is a warning.
async fn compare_targets(
    store: &Store,
    request: &BaselineRequest,
    record: &mut AuditRecord,
    history: &mut AuditHistory,
) {
    let given = match request {
        BaselineRequest::Latest => None,
        BaselineRequest::Key(key) => match read_audit(store, key).await {
            Ok(audit) => Some(audit),
            Err(e) => {
                history.warnings.push(format!("baseline audit {key}: {e}"));
                None
            }
        },
    };
    let jobs: Vec<(usize, String)> = record
        .targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            t.result_keys
                .get(ResultFile::Hdf.file_name())
                .map(|k| (i, k.clone()))
        })
        .collect();
    let targets = &record.targets;
    let given = given.as_ref();
    let mut compared: Vec<(usize, Result<Comparison, String>)> = futures::stream::iter(jobs)
        .map(|(i, key)| async move {
            let id = &targets[i].id;
            (i, compare(store, request, given, id, &key).await)
        })
        .buffer_unordered(READS_AT_ONCE)
        .collect()
        .await;
    compared.sort_by_key(|(i, _)| *i);
    for (i, result) in compared {
        match result {
            Ok(c) => record.targets[i].baseline = Some(c),
            Err(e) => history
                .warnings
                .push(format!("{}: not compared: {e}", record.targets[i].id)),
        }
    }
}

/// Step 2, the trends: each target's compliance in the last `length` audits; returns the note
/// for the summary line.
async fn add_trends(
    store: &Store,
    length: usize,
    record: &mut AuditRecord,
    history: &mut AuditHistory,
) -> String {
    match read_trend(store, record, length).await {
        Ok(read) => {
            for t in &mut record.targets {
                if let Some(points) = read.trends.get(&t.id) {
                    t.trend = points.clone();
                }
            }
            let note = trend_note(&read);
            history.trend_audits = read.used;
            history.warnings.extend(read.warnings);
            note
        }
        Err(e) => {
            history
                .warnings
                .push(format!("trend: audits not listed: {e}"));
            String::new()
        }
    }
}

/// `; trend of N audits (...)`: this audit and the earlier ones used, and what reading them took.
fn trend_note(read: &TrendRead) -> String {
    format!(
        "; trend of {} audit{} ({} list request{}, {} audit.json read)",
        read.used.len() + 1,
        if read.used.is_empty() { "" } else { "s" },
        read.list_requests,
        if read.list_requests == 1 { "" } else { "s" },
        read.reads
    )
}

/// Step 3, the gate: the totals of the comparisons and the exit code the gate gives.
fn gate(config: &HistoryConfig, record: &mut AuditRecord, history: &mut AuditHistory) {
    let comparisons: Vec<&Comparison> = record
        .targets
        .iter()
        .filter_map(|t| t.baseline.as_ref())
        .collect();
    history.totals = HistoryTotals::of(comparisons.iter().copied());
    record.exit_code =
        audit_exit_status(config.gate, &record.totals, comparisons.iter().copied()).code();
}

/// The line printed after the comparisons: new failures, what changed, what was compared, the
/// trend, and the exit code when `--fail-on-new` decides it.
fn since_line(t: &HistoryTotals, trend_note: &str, gate: Gate, exit_code: u8) -> String {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut line = format!(
        "since the last results: {} new failure{} in {} target{} ({} newly failed, {} fixed; \
         {} target{} compared, {} without an earlier run)",
        t.new_failures,
        plural(t.new_failures),
        t.with_new_failures,
        plural(t.with_new_failures),
        t.newly_failed,
        t.fixed,
        t.compared,
        plural(t.compared),
        t.without_baseline,
    );
    if t.without_baseline > 0 {
        line.push_str(": without one, every failure counts as new");
    }
    line.push_str(trend_note);
    if gate == Gate::NewFailures {
        line.push_str(&format!("; --fail-on-new: exit code {exit_code}"));
    }
    line
}

/// Step 4, the webhook, when anything newly fails. Its outcome is recorded (a failure also as
/// a warning); it never changes the exit code.
async fn notify_new_failures(
    store: &Store,
    loc: &AuditLocation,
    webhook: &Webhook,
    send: SendPolicy,
    record: &AuditRecord,
    history: &mut AuditHistory,
) {
    let failures = notify::new_failures(record);
    if failures.is_empty() {
        return;
    }
    let report = format!(
        "{}/{}",
        store.url.trim_end_matches('/'),
        loc.key(AuditFile::Report)
            .strip_prefix(&store.prefix)
            .unwrap_or_default()
            .trim_start_matches('/')
    );
    let body = notify::payload(webhook.format, record, &report, &failures);
    let outcome = notify::send(webhook, &body, failures.len() as u64, send).await;
    if outcome.delivered {
        println!(
            "notified {} ({}): {} new failure{}",
            outcome.host,
            outcome.format,
            failures.len(),
            if failures.len() == 1 { "" } else { "s" }
        );
    } else {
        let message = undelivered_warning(&outcome);
        tracing::warn!(host = %outcome.host, attempts = outcome.attempts, "webhook not delivered");
        eprintln!("warning: {message}");
        history.warnings.push(message);
    }
    history.notification = Some(outcome);
}

/// The warning for a webhook that was not delivered: its host only (the URL may hold a
/// secret), the attempts and the last error.
fn undelivered_warning(outcome: &NotificationOutcome) -> String {
    format!(
        "webhook {} ({}): not delivered after {} attempt{}: {}; the audit's exit \
         code is unchanged",
        outcome.host,
        outcome.format,
        outcome.attempts,
        if outcome.attempts == 1 { "" } else { "s" },
        outcome.error.as_deref().unwrap_or("no answer")
    )
}

/// One target compared with its baseline: its own `hdf.json` and the baseline's, read from the
/// store.
async fn compare(
    store: &Store,
    request: &BaselineRequest,
    given: Option<&AuditRecord>,
    id: &str,
    key: &str,
) -> Result<Comparison, String> {
    let current = store.get_bytes(key).await.map_err(|e| e.to_string())?;
    let new = sidescan_eval::hdf::parse_named(&current, key).map_err(|e| e.to_string())?;
    let (base_key, base_bytes, note) = match (request, given) {
        (BaselineRequest::Latest, _) => {
            let found = baseline::find(store, request, key)
                .await
                .map_err(|e| e.to_string())?;
            (found.key, found.hdf, found.note)
        }
        (BaselineRequest::Key(_), Some(audit)) => {
            match audit
                .targets
                .iter()
                .find(|t| t.id == id)
                .and_then(|t| t.result_keys.get(ResultFile::Hdf.file_name()))
            {
                Some(k) => {
                    let bytes = store.get_bytes(k).await.map_err(|e| e.to_string())?;
                    (Some(k.clone()), Some(bytes.to_vec()), None)
                }
                None => (
                    None,
                    None,
                    Some(format!(
                        "not scanned in audit {}: every failure counts as new",
                        audit.audit_id
                    )),
                ),
            }
        }
        (BaselineRequest::Key(k), None) => (
            None,
            None,
            Some(format!(
                "baseline audit {k} could not be read: every failure counts as new"
            )),
        ),
    };
    let base = match (&base_key, &base_bytes) {
        (Some(k), Some(bytes)) => {
            Some(sidescan_eval::hdf::parse_named(bytes, k).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let base_key = base_key.unwrap_or_default();
    Ok(sidescan_eval::diff::compare(
        base.as_ref().map(|b| (base_key.as_str(), b)),
        &new,
        note,
    ))
}

/// An earlier audit's `audit.json`: its id, its folder or `audit.json` key, or a URL.
async fn read_audit(store: &Store, given: &str) -> Result<AuditRecord, String> {
    let file = AuditFile::Audit.file_name();
    let bytes = if given.contains("://") {
        baseline::read_url(given).await.map_err(|e| e.to_string())?
    } else {
        let key = if !given.contains('/') && AuditId::parse(given).is_ok() {
            store.full_key(&format!("audits/{given}/{file}"))
        } else if given.ends_with(file) {
            given.to_string()
        } else {
            format!("{}/{file}", given.trim_end_matches('/'))
        };
        store
            .get_optional(&key)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{key}: no such object"))?
            .to_vec()
    };
    serde_json::from_slice(&bytes).map_err(|e| format!("not an audit.json: {e}"))
}

/// The trends read from the store.
#[derive(Debug, Default)]
pub struct TrendRead {
    pub trends: BTreeMap<String, Vec<sidescan_core::history::TrendPoint>>,
    /// The earlier audits used, oldest first.
    pub used: Vec<String>,
    pub list_requests: usize,
    /// `audit.json` objects read.
    pub reads: usize,
    pub warnings: Vec<String>,
}

/// Each target's compliance in the last `length` audits (this one included): one listing of
/// `<prefix>/audits/`, then the `audit.json` of the latest earlier ones (an audit that never
/// completed has none and is passed over).
pub async fn read_trend(
    store: &Store,
    record: &AuditRecord,
    length: usize,
) -> Result<TrendRead, sidescan_store::StoreError> {
    let listing = store.list_audits().await?;
    let started = record
        .started
        .parse::<jiff::Timestamp>()
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let candidates = trend_candidates(&listing.folders, &record.audit_id, started, length);
    let file = AuditFile::Audit.file_name();
    let reads = candidates.len();
    let mut read: Vec<(usize, Result<Option<AuditRecord>, String>)> =
        futures::stream::iter(candidates.into_iter().enumerate())
            .map(|(i, id)| async move {
                let key = store.full_key(&format!("audits/{id}/{file}"));
                let got = match store.get_optional(&key).await {
                    Ok(None) => Ok(None),
                    Ok(Some(bytes)) => serde_json::from_slice::<AuditRecord>(&bytes)
                        .map(Some)
                        .map_err(|e| format!("{key}: not an audit.json: {e}")),
                    Err(e) => Err(e.to_string()),
                };
                (i, got)
            })
            .buffer_unordered(READS_AT_ONCE)
            .collect()
            .await;
    read.sort_by_key(|(i, _)| *i);
    let mut earlier = Vec::new();
    let mut warnings = Vec::new();
    for (_, got) in read {
        match got {
            Ok(Some(audit)) => earlier.push(audit),
            Ok(None) => {}
            Err(e) => warnings.push(format!("trend: {e}")),
        }
    }
    let (trends, used) = sidescan_core::history::trend(record, &earlier, length);
    Ok(TrendRead {
        trends,
        used,
        list_requests: listing.list_requests,
        reads,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_core::audit::record::{TargetRecord, Totals, Verdict};
    use sidescan_core::audit::{Webhook, WebhookFormat};

    /// A builtin-style HDF: `failing` controls fail with a finding at `path`, the rest pass.
    fn hdf(failing: &[(&str, &str)]) -> Vec<u8> {
        let control = |id: &str| {
            let path = failing.iter().find(|(c, _)| *c == id).map(|(_, p)| *p);
            let result = match path {
                Some(p) => serde_json::json!({"status": "failed",
                    "code_desc": format!("file {p} is fine"), "message": format!("{p} is not"),
                    "start_time": "2026-01-01T00:00:00Z"}),
                None => serde_json::json!({"status": "passed", "code_desc": "ok",
                    "start_time": "2026-01-01T00:00:00Z"}),
            };
            serde_json::json!({"id": id, "title": format!("title of {id}"), "impact": 0.5,
                "tags": {}, "refs": [], "source_location": {}, "descriptions": [],
                "results": [result]})
        };
        serde_json::to_vec(&serde_json::json!({
            "platform": {"name": "debian", "release": "12"}, "version": "1",
            "statistics": {"duration": 0.1},
            "profiles": [{"name": "p", "sha256": "0", "supports": [], "attributes": [],
                "groups": [], "status": "loaded",
                "controls": [control("KEY"), control("SETID"), control("SHELL")]}]
        }))
        .unwrap()
    }

    fn write(dir: &std::path::Path, key: &str, bytes: &[u8]) {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    fn audit(id: &str, started: &str, hdf_key: Option<&str>, compliance: u64) -> AuditRecord {
        let mut t = TargetRecord {
            compliance: Some(compliance),
            ..TargetRecord::new("shop/deployment.web.app", Verdict::Passed)
        };
        if let Some(k) = hdf_key {
            t.result_keys.insert("hdf.json".into(), k.into());
        }
        let targets = vec![t];
        AuditRecord {
            audit_id: id.into(),
            cluster: None,
            started: started.into(),
            finished: started.into(),
            store: "file:///".into(),
            settings: Default::default(),
            totals: Totals::of(&targets),
            exit_code: 0,
            warnings: vec![],
            history: None,
            api_requests: None,
            targets,
        }
    }

    #[test]
    fn the_summary_line_warns_without_a_baseline_and_names_the_gate_s_exit_code() {
        let t = HistoryTotals {
            compared: 1,
            without_baseline: 2,
            with_new_failures: 1,
            newly_failed: 1,
            fixed: 0,
            new_failures: 1,
        };
        assert_eq!(
            since_line(&t, "; trend of 1 audit", Gate::NewFailures, 1),
            "since the last results: 1 new failure in 1 target (1 newly failed, 0 fixed; 1 target \
             compared, 2 without an earlier run): without one, every failure counts as new; \
             trend of 1 audit; --fail-on-new: exit code 1"
        );
        let t = HistoryTotals {
            compared: 2,
            new_failures: 3,
            with_new_failures: 2,
            ..HistoryTotals::default()
        };
        assert_eq!(
            since_line(&t, "", Gate::Thresholds, 0),
            "since the last results: 3 new failures in 2 targets (0 newly failed, 0 fixed; 2 \
             targets compared, 0 without an earlier run)"
        );
    }

    #[test]
    fn the_trend_note_counts_this_audit_and_the_earlier_ones() {
        let none = TrendRead {
            list_requests: 1,
            ..TrendRead::default()
        };
        assert_eq!(
            trend_note(&none),
            "; trend of 1 audit (1 list request, 0 audit.json read)"
        );
        let two = TrendRead {
            used: vec!["a".into(), "b".into()],
            list_requests: 2,
            reads: 3,
            ..TrendRead::default()
        };
        assert_eq!(
            trend_note(&two),
            "; trend of 3 audits (2 list requests, 3 audit.json read)"
        );
    }

    #[test]
    fn an_undelivered_webhook_is_named_by_its_host_and_last_error() {
        let mut outcome = NotificationOutcome {
            host: "hooks.example.com".into(),
            format: "slack".into(),
            delivered: false,
            attempts: 1,
            status: None,
            error: None,
            new_failures: 2,
        };
        assert_eq!(
            undelivered_warning(&outcome),
            "webhook hooks.example.com (slack): not delivered after 1 attempt: no answer; the \
             audit's exit code is unchanged"
        );
        outcome.attempts = 3;
        outcome.error = Some("HTTP 503".into());
        assert!(
            undelivered_warning(&outcome).contains("after 3 attempts: HTTP 503;"),
            "{}",
            undelivered_warning(&outcome)
        );
    }

    #[tokio::test]
    async fn an_audit_is_compared_trended_gated_and_a_dead_webhook_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            sidescan_store::open(url::Url::from_directory_path(dir.path()).unwrap().as_str())
                .unwrap();
        let run = |folder: &str| format!("p/shop/deployment.web.app/{folder}/hdf.json");
        let (k1, k2) = (
            run("20261124T030000Z-aaaaaa"),
            run("20261126T030000Z-bbbbbb"),
        );
        write(
            dir.path(),
            &k1,
            &hdf(&[("KEY", "/srv/app.key"), ("SHELL", "/bin/sh")]),
        );
        write(
            dir.path(),
            &k2,
            &hdf(&[("SETID", "/usr/local/bin/helper"), ("SHELL", "/bin/sh")]),
        );
        // Two earlier audits (one never completed: no audit.json).
        let a1 = audit(
            "audit-20261124-030000-aaaaaa",
            "2026-11-24T03:00:00Z",
            Some(&k1),
            33,
        );
        write(
            dir.path(),
            "audits/audit-20261124-030000-aaaaaa/audit.json",
            &serde_json::to_vec(&a1).unwrap(),
        );
        write(
            dir.path(),
            "audits/audit-20261125-030000-cccccc/targets/x.json",
            b"{}",
        );
        let current = audit(
            "audit-20261126-030000-bbbbbb",
            "2026-11-26T03:00:00Z",
            Some(&k2),
            33,
        );
        let loc = AuditLocation::new("", AuditId::parse(&current.audit_id).unwrap());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let notify_spec = Notify {
            webhook: Some(Webhook {
                url: format!("http://127.0.0.1:{port}/hooks/s3cr3t"),
                format: WebhookFormat::Json,
            }),
        };
        let config = HistoryConfig {
            gate: Gate::NewFailures,
            send: SendPolicy {
                attempts: 2,
                first_delay: std::time::Duration::from_millis(1),
                timeout: std::time::Duration::from_secs(2),
            },
            ..HistoryConfig::default()
        };
        let out = apply(&store, &loc, current.clone(), &config, Some(&notify_spec)).await;
        let c = out.targets[0].baseline.as_ref().unwrap();
        assert_eq!(c.key.as_deref(), Some(k1.as_str()));
        assert_eq!(c.delta.newly_failed, ["SETID"]);
        assert_eq!(c.delta.fixed, ["KEY"]);
        assert_eq!(c.delta.new_failures[0].findings, ["/usr/local/bin/helper"]);
        let trend: Vec<(&str, Option<u64>)> = out.targets[0]
            .trend
            .iter()
            .map(|p| (p.audit_id.as_str(), p.compliance))
            .collect();
        assert_eq!(
            trend,
            [
                ("audit-20261124-030000-aaaaaa", Some(33)),
                ("audit-20261126-030000-bbbbbb", Some(33))
            ]
        );
        let h = out.history.as_ref().unwrap();
        assert_eq!(h.trend_audits, ["audit-20261124-030000-aaaaaa"]);
        assert_eq!((h.totals.new_failures, h.totals.fixed), (1, 1));
        // Something newly fails: exit 1, whatever the webhook did.
        assert_eq!(out.exit_code, 1);
        let n = h.notification.as_ref().unwrap();
        assert!(!n.delivered && n.attempts == 2, "{n:?}");
        assert!(!serde_json::to_string(&out).unwrap().contains("s3cr3t"));

        // Against the first audit itself: nothing new, exit 0, no webhook call.
        let config = HistoryConfig {
            baseline: Some(BaselineRequest::Key("audit-20261124-030000-aaaaaa".into())),
            ..config
        };
        let mut same = current.clone();
        same.targets[0]
            .result_keys
            .insert("hdf.json".into(), k1.clone());
        let out = apply(&store, &loc, same, &config, Some(&notify_spec)).await;
        assert_eq!(out.exit_code, 0);
        let h = out.history.as_ref().unwrap();
        assert!(h.notification.is_none() && h.warnings.is_empty(), "{h:?}");
        assert_eq!(
            out.targets[0].baseline.as_ref().unwrap().key.as_deref(),
            Some(k1.as_str())
        );

        // The first run of a target: every failure is new.
        let first = audit(
            "audit-20261124-030000-aaaaaa",
            "2026-11-24T03:00:00Z",
            Some(&k1),
            33,
        );
        let config = HistoryConfig {
            baseline: Some(BaselineRequest::Latest),
            ..config
        };
        let out = apply(&store, &loc, first, &config, None).await;
        let c = out.targets[0].baseline.as_ref().unwrap();
        assert_eq!(c.key, None);
        assert_eq!(c.delta.new_failures.len(), 2);
        assert_eq!(out.exit_code, 1);
    }
}
