//! The object-store side of `scripts/bench-history`: fills a store with results and audits, and
//! times the trend read of an audit.
//!
//! ```text
//! history_bench runs STORE_URL N SPACING_MINUTES   N run folders of shop/web (5 files each,
//!                                                   a small builtin-like hdf.json), spaced
//! history_bench audits STORE_URL N TARGETS         N completed audits of TARGETS targets
//! history_bench trend STORE_URL LENGTH REPEAT      the trend read of a new audit (REPEAT times)
//! history_bench put STORE_URL KEY                  a small hdf.json at KEY (under the prefix)
//! history_bench delete STORE_URL KEY...            deletes these objects
//! history_bench clean STORE_URL                    deletes everything under the URL's prefix
//! ```
//!
//! Prints one JSON line per command.

use futures::StreamExt;
use object_store::ObjectStoreExt;
use sidescan_core::audit::AuditId;
use sidescan_core::audit::record::{AuditRecord, TargetRecord, Totals, Verdict};
use sidescan_store::{RetryPolicy, Store};
use std::time::{Duration, Instant};

const POLICY: RetryPolicy = RetryPolicy {
    attempts: 5,
    first_delay: Duration::from_millis(50),
    max_delay: Duration::from_secs(2),
};

fn hdf(i: usize) -> Vec<u8> {
    let status = if i.is_multiple_of(3) {
        "failed"
    } else {
        "passed"
    };
    serde_json::to_vec(&serde_json::json!({
        "platform": {"name": "debian", "release": "12"}, "version": "1",
        "statistics": {"duration": 0.1},
        "profiles": [{"name": "sidescan-baseline", "sha256": "0", "supports": [],
            "attributes": [], "groups": [], "status": "loaded", "controls": [
            {"id": "SIDESCAN-FS-002", "title": "No world-writable files", "impact": 0.5,
             "tags": {}, "refs": [], "source_location": {}, "descriptions": [],
             "results": [{"status": status, "code_desc": "file /srv/drop is not world-writable",
                          "message": "/srv/drop has mode 0666",
                          "start_time": "2026-01-01T00:00:00Z"}]}]}]
    }))
    .unwrap()
}

async fn put_all(store: &Store, objects: Vec<(String, Vec<u8>)>) -> usize {
    let count = objects.len();
    futures::stream::iter(objects)
        .map(|(key, bytes)| async move {
            store
                .put_verified(&key, &bytes, "application/json", POLICY)
                .await
                .unwrap_or_else(|e| panic!("{key}: {e}"));
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    count
}

fn audit(id: &str, started: jiff::Timestamp, targets: usize, seed: usize) -> AuditRecord {
    let targets: Vec<TargetRecord> = (0..targets)
        .map(|t| TargetRecord {
            namespace: "shop".into(),
            compliance: Some(((t * 7 + seed * 3) % 101) as u64),
            ..TargetRecord::new(format!("shop/deployment.w{t:04}.app"), Verdict::Passed)
        })
        .collect();
    AuditRecord {
        audit_id: id.into(),
        cluster: None,
        started: started.to_string(),
        finished: started.to_string(),
        store: "bench".into(),
        settings: Default::default(),
        totals: Totals::of(&targets),
        exit_code: 0,
        warnings: vec![],
        history: None,
        api_requests: None,
        targets,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> anyhow::Result<usize> { Ok(args.get(i).map_or("", |s| s).parse()?) };
    let store = sidescan_store::open(args.get(1).map_or("", |s| s))?;
    let t0: jiff::Timestamp = "2025-01-01T00:00:00Z".parse()?;
    let started = Instant::now();
    match args.first().map(String::as_str) {
        Some("runs") => {
            let (n, spacing) = (num(2)?, num(3)? as i64);
            let mut objects = Vec::new();
            let mut last = String::new();
            for i in 0..n {
                let ts = t0.checked_add(jiff::SignedDuration::from_mins(spacing * i as i64))?;
                let folder = format!("shop/web/{}-run{i:06}", ts.strftime("%Y%m%dT%H%M%SZ"));
                for file in [
                    "metadata.json",
                    "evaluation.json",
                    "summary.md",
                    "junit.xml",
                ] {
                    objects.push((store.full_key(&format!("{folder}/{file}")), b"{}".to_vec()));
                }
                objects.push((store.full_key(&format!("{folder}/hdf.json")), hdf(i)));
                last = store.full_key(&format!("{folder}/hdf.json"));
            }
            let count = put_all(&store, objects).await;
            println!(
                "{}",
                serde_json::json!({"objects": count, "last": last,
                    "seconds": started.elapsed().as_secs_f64()})
            );
        }
        Some("audits") => {
            let (n, targets) = (num(2)?, num(3)?);
            let mut objects = Vec::new();
            for i in 0..n {
                let ts = t0.checked_add(jiff::SignedDuration::from_hours(24 * i as i64))?;
                let id = AuditId::generate(ts, (i as u64).to_le_bytes());
                let record = audit(id.as_str(), ts, targets, i);
                objects.push((
                    store.full_key(&format!("audits/{id}/audit.json")),
                    serde_json::to_vec_pretty(&record)?,
                ));
            }
            let count = put_all(&store, objects).await;
            println!(
                "{}",
                serde_json::json!({"audits": count, "seconds": started.elapsed().as_secs_f64()})
            );
        }
        Some("trend") => {
            let (length, repeat) = (num(2)?, num(3)?.max(1));
            let now = jiff::Timestamp::now();
            let listing = store.list_audits().await?;
            let targets = match listing.folders.last() {
                Some(folder) => {
                    let bytes = store.get_bytes(&format!("{folder}audit.json")).await?;
                    serde_json::from_slice::<AuditRecord>(&bytes)?.targets.len()
                }
                None => 0,
            };
            let current = audit(AuditId::generate(now, [7; 8]).as_str(), now, targets, 1000);
            let mut times = Vec::new();
            let mut read = None;
            for _ in 0..repeat {
                let t = Instant::now();
                read = Some(
                    sidescan_runner::audit::history::read_trend(&store, &current, length).await?,
                );
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            let read = read.unwrap();
            times.sort_by(f64::total_cmp);
            let mean = times.iter().sum::<f64>() / times.len() as f64;
            let points = read.trends.values().map(Vec::len).max().unwrap_or(0);
            println!(
                "{}",
                serde_json::json!({"audits_listed": listing.folders.len(), "targets": targets,
                    "length": length, "list_requests": read.list_requests,
                    "audit_json_read": read.reads, "points_per_target": points,
                    "ms_mean": (mean * 10.0).round() / 10.0,
                    "ms_min": (times[0] * 10.0).round() / 10.0,
                    "ms_max": (times[times.len() - 1] * 10.0).round() / 10.0,
                    "runs": times.len()})
            );
        }
        Some("put") => {
            let key = store.full_key(args.get(2).map_or("", |s| s));
            put_all(&store, vec![(key.clone(), hdf(0))]).await;
            println!("{}", serde_json::json!({"put": key}));
        }
        Some("delete") => {
            for relative in &args[2..] {
                let key = object_store::path::Path::from(store.full_key(relative));
                store.inner.delete(&key).await?;
            }
            println!("{}", serde_json::json!({"deleted": args.len() - 2}));
        }
        Some("clean") => {
            use futures::TryStreamExt;
            let prefix = object_store::path::Path::from(store.prefix.as_str());
            let locations = store
                .inner
                .list(Some(&prefix))
                .map_ok(|m| m.location)
                .boxed();
            let deleted: Vec<_> = store.inner.delete_stream(locations).try_collect().await?;
            println!("{}", serde_json::json!({"deleted": deleted.len()}));
        }
        _ => anyhow::bail!("usage: history_bench runs|audits|trend|clean STORE_URL ..."),
    }
    Ok(())
}
