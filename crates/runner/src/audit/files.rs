//! The audit's files in the object store: a progress record per finished target, written at once
//! (`targets/<namespace>/<target>.json`), and `audit.json`, `summary.md`, `junit.xml`,
//! `report.html`, `metrics.prom`, written once when the audit completes. Rendering is pure
//! ([`render_audit_files`]); the rest reads and writes through [`Store`], never overwriting.

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sidescan_core::AuditLocation;
use sidescan_core::audit::record::{AuditRecord, ProgressRecord};
use sidescan_core::layout::AuditFile;
use sidescan_store::{Receipt, RetryPolicy, Store, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The audit files, rendered from the record and the progress records (which carry the
/// failed controls the report lists).
pub fn render_audit_files(
    audit: &AuditRecord,
    progress: &[ProgressRecord],
) -> Vec<(AuditFile, Vec<u8>)> {
    let mut failed = BTreeMap::new();
    let mut omitted = BTreeMap::new();
    for p in progress {
        failed.insert(p.target.id.clone(), p.failed_controls.clone());
        omitted.insert(p.target.id.clone(), p.failed_controls_omitted);
    }
    let json = serde_json::to_vec_pretty(audit).unwrap_or_default();
    vec![
        (AuditFile::Audit, [json, b"\n".to_vec()].concat()),
        (
            AuditFile::Summary,
            sidescan_eval::audit::summary_markdown(audit).into_bytes(),
        ),
        (
            AuditFile::Junit,
            sidescan_eval::audit::junit(audit).into_bytes(),
        ),
        (
            AuditFile::Report,
            sidescan_eval::html::fleet(audit, &failed, &omitted).into_bytes(),
        ),
        crate::exporter::metrics_file(audit),
    ]
}

/// The audit's folder in `store`.
pub fn location(store: &Store, audit_id: &sidescan_core::audit::AuditId) -> AuditLocation {
    AuditLocation::new(&store.prefix, audit_id.clone())
}

/// Whether the audit completed already (its `audit.json` exists): it is never written twice.
pub async fn is_complete(store: &Store, loc: &AuditLocation) -> Result<bool, StoreError> {
    let key = loc.key(AuditFile::Audit);
    match store.inner.head(&ObjectPath::from(key.as_str())).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(StoreError::Io { key, source }),
    }
}

/// Stores a finished target's progress record (put-if-absent, read back).
pub async fn write_progress(
    store: &Store,
    loc: &AuditLocation,
    record: &ProgressRecord,
    policy: RetryPolicy,
) -> Result<Receipt, StoreError> {
    let key = loc.progress_key(&record.target.namespace, &segment(&record.target.id));
    let bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
    store
        .put_verified(&key, &bytes, "application/json", policy)
        .await
}

/// The `<target>` part of a target id (`<namespace>/<target>`).
fn segment(id: &str) -> String {
    id.split_once('/').map(|(_, s)| s).unwrap_or(id).to_string()
}

/// Every progress record an earlier run of the audit stored. A record that does not parse is an
/// error naming its key: results are never silently dropped.
pub async fn read_progress(
    store: &Store,
    loc: &AuditLocation,
) -> Result<Vec<ProgressRecord>, StoreError> {
    let prefix = ObjectPath::from(loc.progress_folder().as_str());
    let metas: Vec<object_store::ObjectMeta> = store
        .inner
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|source| StoreError::Io {
            key: loc.progress_folder(),
            source,
        })?;
    let mut records = Vec::new();
    for meta in metas {
        let key = meta.location.to_string();
        if !key.ends_with(".json") {
            continue;
        }
        let bytes = store.get_bytes(&key).await?;
        let record: ProgressRecord =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Io {
                key: key.clone(),
                source: object_store::Error::Generic {
                    store: "audit",
                    source: format!("not a progress record: {e}").into(),
                },
            })?;
        records.push(record);
    }
    records.sort_by(|a, b| a.target.id.cmp(&b.target.id));
    Ok(records)
}

/// Stores the audit files, `audit.json` first: its presence marks the audit complete, and the
/// other three are pure renderings of it and the progress records, so an interrupted write is
/// finished later with identical bytes ([`finish_stored`]).
pub async fn write_audit_files(
    store: &Store,
    loc: &AuditLocation,
    files: &[(AuditFile, Vec<u8>)],
    policy: RetryPolicy,
) -> Result<Vec<Receipt>, StoreError> {
    let mut ordered: Vec<&(AuditFile, Vec<u8>)> = files.iter().collect();
    ordered.sort_by_key(|(f, _)| *f != AuditFile::Audit);
    let mut receipts = Vec::new();
    for (file, bytes) in ordered {
        receipts.push(
            store
                .put_verified(&loc.key(*file), bytes, file.content_type(), policy)
                .await?,
        );
    }
    Ok(receipts)
}

/// Reads a completed audit's `audit.json` and writes whichever of the other files are missing
/// (identical bytes: they are renderings of it). Returns the stored record.
pub async fn finish_stored(
    store: &Store,
    loc: &AuditLocation,
    policy: RetryPolicy,
) -> Result<AuditRecord, StoreError> {
    let key = loc.key(AuditFile::Audit);
    let bytes = store.get_bytes(&key).await?;
    let audit: AuditRecord = serde_json::from_slice(&bytes).map_err(|e| StoreError::Io {
        key: key.clone(),
        source: object_store::Error::Generic {
            store: "audit",
            source: format!("not an audit.json: {e}").into(),
        },
    })?;
    let progress = read_progress(store, loc).await?;
    write_audit_files(store, loc, &render_audit_files(&audit, &progress), policy).await?;
    Ok(audit)
}

/// Where the audit files go when the store stays unreachable: `<dir>/<audit id>/`. Returns the
/// folder.
pub fn write_local(
    dir: &Path,
    loc: &AuditLocation,
    files: &[(AuditFile, Vec<u8>)],
) -> std::io::Result<PathBuf> {
    let folder = dir.join(loc.audit_id.as_str());
    std::fs::create_dir_all(&folder)?;
    for (file, bytes) in files {
        let path = folder.join(file.file_name());
        if path.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists; audit files are never overwritten",
                    path.display()
                ),
            ));
        }
        std::fs::write(&path, bytes)?;
    }
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_core::audit::AuditId;
    use sidescan_core::audit::record::{TargetRecord, Totals, Verdict};
    use std::time::Duration;

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 2,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    fn record(ns: &str, name: &str, verdict: Verdict) -> TargetRecord {
        serde_json::from_value(serde_json::json!({
            "id": format!("{ns}/deployment.{name}.app"), "namespace": ns, "kind": "Deployment",
            "workload": name, "container": "app", "image": "img:1", "verdict": verdict,
            "attempts": 1, "duration_ms": 10,
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn progress_round_trips_and_audit_files_are_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let store = sidescan_store::open(url.as_str()).unwrap();
        let id = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
        let loc = location(&store, &id);
        assert!(read_progress(&store, &loc).await.unwrap().is_empty());
        let p = ProgressRecord {
            audit_id: id.to_string(),
            target: record("shop", "web", Verdict::Failed),
            failed_controls: vec![],
            failed_controls_omitted: 0,
        };
        write_progress(&store, &loc, &p, quick()).await.unwrap();
        assert!(
            dir.path()
                .join("audits/audit-20261126-030000-abcdef/targets/shop/deployment.web.app.json")
                .is_file()
        );
        assert_eq!(read_progress(&store, &loc).await.unwrap(), vec![p.clone()]);

        let targets = vec![p.target.clone(), record("tools", "ci", Verdict::Passed)];
        let audit = AuditRecord {
            audit_id: id.to_string(),
            cluster: None,
            started: "2026-11-26T03:00:00Z".into(),
            finished: "2026-11-26T03:01:00Z".into(),
            store: url.to_string(),
            settings: Default::default(),
            totals: Totals::of(&targets),
            exit_code: 1,
            api_requests: None,
            warnings: vec![],
            history: None,
            targets,
        };
        let files = render_audit_files(&audit, &[p]);
        assert_eq!(files.len(), 5);
        assert!(!is_complete(&store, &loc).await.unwrap());
        write_audit_files(&store, &loc, &files, quick())
            .await
            .unwrap();
        assert!(is_complete(&store, &loc).await.unwrap());
        let back: AuditRecord = serde_json::from_slice(
            &std::fs::read(
                dir.path()
                    .join("audits/audit-20261126-030000-abcdef/audit.json"),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(back, audit);
        // A different audit.json for the same audit is refused; the first one stays.
        let mut other = audit.clone();
        other.exit_code = 0;
        let err = write_audit_files(&store, &loc, &render_audit_files(&other, &[]), quick())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("never overwritten"), "{err}");

        // An interrupted final write is finished with identical bytes.
        std::fs::remove_file(
            dir.path()
                .join("audits/audit-20261126-030000-abcdef/report.html"),
        )
        .unwrap();
        assert_eq!(finish_stored(&store, &loc, quick()).await.unwrap(), audit);
        assert!(
            dir.path()
                .join("audits/audit-20261126-030000-abcdef/report.html")
                .is_file()
        );

        let local = tempfile::tempdir().unwrap();
        let folder = write_local(local.path(), &loc, &files).unwrap();
        assert!(folder.join("report.html").is_file());
        assert!(write_local(local.path(), &loc, &files).is_err());
    }
}
