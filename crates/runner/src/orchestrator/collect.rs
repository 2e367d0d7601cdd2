//! Retrieve and store: read the result files back (store or scanner log), check them against the
//! termination message, and store what the scanner could not (and the evaluation files).

use super::prepare::{Prepared, Sink};
use crate::Error;
use crate::orchestrator::progress::ScannerEnd;
use crate::orchestrator::retrieve::{self, Source};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use sidescan_core::{ResultFile, RunId, RunLocation};
use sidescan_store::{RetryPolicy, Store};
use tokio::time::Instant;

/// The result files, read back and checked.
pub(super) struct Retrieved {
    pub(super) hdf: Vec<u8>,
    pub(super) metadata: Vec<u8>,
    /// Where hdf.json is (a URL or `log`), for `evaluation.json`.
    pub(super) hdf_source: String,
    /// The run's folder key in the sink (no trailing slash); `None` when the sink is the log.
    pub(super) folder_key: Option<String>,
    pub(super) folder_url: String,
    pub(super) from: String,
    pub(super) used_log: bool,
    /// Set when the files could not be stored and were kept elsewhere: the run then ends with
    /// this error, the files safe.
    pub(super) fallback_error: Option<Error>,
}

/// What this run may read back: its id, and the keys its scanner was told to write.
fn expected(p: &Prepared) -> retrieve::Expected {
    p.binding.expected()
}

/// `metadata.json` must describe this run's folder (its run id, namespace and target): a result
/// of another run is never evaluated as this one's.
pub(super) fn check_metadata(p: &Prepared, metadata: &[u8]) -> Result<RunLocation, Error> {
    let found = location_of(metadata)?;
    let ours = &p.binding.location;
    let same = found.run_id == ours.run_id
        && found.namespace == ours.namespace
        && found.target == ours.target;
    if !same {
        return Err(Error::Retrieve {
            object: ResultFile::Metadata.file_name().into(),
            reason: format!(
                "describes {}/{} run {}, not this run ({})",
                found.namespace,
                found.target,
                found.run_id,
                ours.folder()
            ),
        });
    }
    Ok(found)
}

pub(super) fn folder_url(sink: &Sink, folder_key: &str) -> String {
    match sink {
        Sink::Store(s) | Sink::Local(s) => {
            let root = s.url.trim_end_matches('/');
            let relative = folder_key
                .strip_prefix(&s.prefix)
                .unwrap_or(folder_key)
                .trim_start_matches('/');
            format!("{root}/{relative}/")
        }
        Sink::Log => "the orchestrator's log".into(),
    }
}

pub(super) async fn retrieve(
    p: &Prepared,
    pods: &Api<Pod>,
    name: &str,
    end: &ScannerEnd,
    deadline: Instant,
) -> Result<Retrieved, Error> {
    let log_params = |tail: Option<i64>| LogParams {
        container: Some(p.scanner.clone()),
        tail_lines: tail,
        ..LogParams::default()
    };
    let tail = if end
        .message
        .as_deref()
        .and_then(sidescan_core::termination::parse)
        .is_none()
    {
        pods.logs(name, &log_params(Some(20)))
            .await
            .unwrap_or_default()
    } else {
        String::new()
    };
    let plan = retrieve::plan(end, p.scanner_store.is_some(), &tail, &expected(p))?;
    let hdf_key = |files: &[retrieve::Wanted]| {
        files
            .iter()
            .find(|w| w.file == ResultFile::Hdf)
            .and_then(|w| w.key.clone())
    };
    match plan.source {
        Source::Store(files) => {
            let store = p.scanner_store.as_ref().ok_or_else(|| Error::Retrieve {
                object: "the result files".into(),
                reason: "no store to read them from".into(),
            })?;
            // Read from the keys this run's scanner was told to write (the message's were held
            // against them), and the digests are the objects' own, compared with the message.
            let expected = expected(p);
            let mut got = Vec::new();
            for w in &files {
                let key = expected
                    .keys
                    .get(w.file.file_name())
                    .cloned()
                    .or_else(|| w.key.clone())
                    .unwrap_or_default();
                let bytes = store.get_bytes(&key).await?.to_vec();
                retrieve::verify(w, &bytes, &format!("{}:{key}", store.url))?;
                got.push(bytes);
            }
            check_metadata(p, &got[1])?;
            let hdf_key = hdf_key(&files).unwrap_or_default();
            let folder = hdf_key
                .strip_suffix(&format!("/{}", ResultFile::Hdf.file_name()))
                .unwrap_or(&hdf_key)
                .to_string();
            Ok(Retrieved {
                hdf: got.remove(0),
                metadata: got.remove(0),
                hdf_source: format!(
                    "{}/{}",
                    folder_url(&p.sink, &folder).trim_end_matches('/'),
                    ResultFile::Hdf.file_name()
                ),
                folder_url: folder_url(&p.sink, &folder),
                folder_key: Some(folder),
                from: store.url.clone(),
                used_log: false,
                fallback_error: None,
            })
        }
        Source::Log { files, upload } => {
            let log = pods
                .logs(name, &log_params(None))
                .await
                .map_err(|e| Error::kube(format!("reading the log of {name}/{}", p.scanner), e))?;
            let mut got = Vec::new();
            for w in &files {
                let file =
                    sidescan_core::log_transfer::decode(&log, w.file.file_name(), Some(&w.sha256))
                        .map_err(|e| Error::Retrieve {
                            object: format!("{} in the scanner's log", w.file.file_name()),
                            reason: e.to_string(),
                        })?;
                retrieve::verify(w, &file.bytes, "the scanner's log")?;
                got.push(file.bytes);
            }
            let (hdf, metadata) = (got.remove(0), got.remove(0));
            tracing::info!(pod = %name, upload, "result files read from the scanner's log");
            let location = check_metadata(p, &metadata)?;
            let mut retrieved = Retrieved {
                hdf,
                metadata,
                hdf_source: "the scanner's log".into(),
                folder_key: None,
                folder_url: folder_url(&p.sink, ""),
                from: format!("the scanner's log of pod {name}"),
                used_log: true,
                fallback_error: None,
            };
            if let Some(store) = p.sink.store() {
                let folder = store.full_key(&location.folder());
                retrieved.folder_url = folder_url(&p.sink, &folder);
                retrieved.hdf_source =
                    format!("{}{}", retrieved.folder_url, ResultFile::Hdf.file_name());
                retrieved.folder_key = Some(folder.clone());
                let files = [
                    (ResultFile::Hdf, retrieved.hdf.clone()),
                    (ResultFile::Metadata, retrieved.metadata.clone()),
                ];
                // The agent could not store them (or had no store): store them now, retrying
                // until the retrieve deadline.
                if let Err(e) = put_all(store, &folder, &files, deadline).await {
                    retrieved.fallback_error = Some(keep_elsewhere(p, &location, &files, e));
                }
            } else {
                print_files(&[
                    (ResultFile::Hdf, retrieved.hdf.clone()),
                    (ResultFile::Metadata, retrieved.metadata.clone()),
                ]);
            }
            Ok(retrieved)
        }
    }
}

/// Where the agent put the run: namespace, target, start and run id from `metadata.json`.
pub(super) fn location_of(metadata: &[u8]) -> Result<RunLocation, Error> {
    #[derive(serde::Deserialize)]
    struct Meta {
        run_id: String,
        namespace: String,
        target: String,
        started: String,
    }
    let bad = |reason: String| Error::Retrieve {
        object: ResultFile::Metadata.file_name().into(),
        reason,
    };
    let m: Meta = serde_json::from_slice(metadata).map_err(|e| bad(e.to_string()))?;
    let started: jiff::Timestamp = m
        .started
        .parse()
        .map_err(|e| bad(format!("started: {e}")))?;
    let run_id = RunId::parse(&m.run_id).map_err(|e| bad(e.to_string()))?;
    RunLocation::new("", &m.namespace, &m.target, started, run_id).map_err(|e| bad(e.to_string()))
}

/// Stores files under `folder`, retrying with backoff until `deadline`.
pub(super) async fn put_all(
    store: &Store,
    folder: &str,
    files: &[(ResultFile, Vec<u8>)],
    deadline: Instant,
) -> Result<(), Error> {
    let policy = RetryPolicy {
        attempts: u32::MAX,
        ..RetryPolicy::default()
    };
    for (file, bytes) in files {
        let key = format!("{folder}/{}", file.file_name());
        let put = store.put_verified(&key, bytes, file.content_type(), policy);
        match tokio::time::timeout_at(deadline, put).await {
            Ok(Ok(receipt)) => {
                tracing::info!(key = %receipt.key, sha256 = %receipt.sha256, created = receipt.created, "stored");
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                return Err(Error::Retrieve {
                    object: format!("{}:{key}", store.url),
                    reason: "storing it did not succeed before the deadline".into(),
                });
            }
        }
    }
    Ok(())
}

/// The store is unreachable: keep the files where they survive the scan pod (the orchestrator's
/// log), and say so.
pub(super) fn keep_elsewhere(
    p: &Prepared,
    location: &RunLocation,
    files: &[(ResultFile, Vec<u8>)],
    error: Error,
) -> Error {
    print_files(files);
    let store = p.sink.store().map(|s| s.url.clone()).unwrap_or_default();
    Error::Retrieve {
        object: location.folder(),
        reason: format!(
            "{error}; the result files are kept in this orchestrator's log (between \
             sidescan-result markers) instead of {store}"
        ),
    }
}

/// Prints files to stdout between markers (the orchestrator's log).
pub(super) fn print_files(files: &[(ResultFile, Vec<u8>)]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for (file, bytes) in files {
        let _ =
            out.write_all(sidescan_core::log_transfer::encode(file.file_name(), bytes).as_bytes());
    }
    let _ = out.flush();
}

/// Writes the evaluation files beside `hdf.json` (written once, never overwritten).
pub(super) async fn write_files(
    p: &Prepared,
    retrieved: &Retrieved,
    files: &[(ResultFile, Vec<u8>)],
    deadline: Instant,
) -> Result<(), Error> {
    match (p.sink.store(), &retrieved.folder_key) {
        (Some(store), Some(folder)) => put_all(store, folder, files, deadline).await,
        _ => {
            print_files(files);
            Ok(())
        }
    }
}
