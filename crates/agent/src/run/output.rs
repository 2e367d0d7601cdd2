//! Retrieve and upload: `metadata.json` from what the run learnt (pure), both files written once
//! to the shared volume, printed to the log when asked, and stored in the object store with
//! read-back; the termination summary follows every step.

use super::AgentConfig;
use super::prepare::{Prepared, Sink};
use super::scan::{ScanMeta, target_name};
use super::target::Found;
use crate::results::{self, Metadata, ViewRecord};
use sidescan_core::termination::{ResultObject, TerminationSummary};
use sidescan_core::{Failure, ResultFile, RunLocation};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The run's folder: `<namespace>/<target>/<timestamp>-<run id>` (the timestamp the workflow
/// fixed, else the agent's start).
pub(super) fn location(
    config: &AgentConfig,
    found: &Found,
    started: jiff::Timestamp,
) -> Result<RunLocation, Failure> {
    RunLocation::new(
        "",
        &config.namespace,
        &target_name(config, found),
        config.folder_started.unwrap_or(started),
        config.run_id.clone(),
    )
    .map_err(|e| Failure::bad_input(e.to_string()))
}

/// The times and facts `metadata.json` records besides the scan's.
pub(super) struct RunFacts {
    pub(super) started: jiff::Timestamp,
    pub(super) finished: jiff::Timestamp,
    pub(super) target_uid: Option<u32>,
    pub(super) timings_ms: BTreeMap<String, u64>,
}

/// `metadata.json` (pure): the run, the target as identified, the scan, the view.
pub(super) fn metadata(
    config: &AgentConfig,
    found: &Found,
    location: &RunLocation,
    scan: ScanMeta,
    view: ViewRecord,
    facts: RunFacts,
) -> Metadata {
    let pod = found.pod.as_ref();
    Metadata {
        run_id: config.run_id.to_string(),
        namespace: location.namespace.clone(),
        target: location.target.clone(),
        pod: config.pod_name.clone(),
        node: pod
            .and_then(|p| p.node.clone())
            .or_else(|| config.node.clone()),
        container: pod.map(|p| p.container.clone()),
        image: pod.and_then(|p| p.image.clone()),
        image_digest: pod.and_then(|p| p.image_digest.clone()),
        container_id: pod.and_then(|p| p.container_id.clone()),
        pid: found.target.pid,
        identified_by: found.target.method.to_string(),
        target_uid: facts.target_uid,
        backend: config.backend.as_str().into(),
        profile: scan.profile,
        versions: scan.versions,
        started: facts.started.to_string(),
        finished: facts.finished.to_string(),
        timings_ms: facts.timings_ms,
        os_release: scan.os_release,
        audit: config.audit_context.clone(),
        view: Some(view),
    }
}

/// The run's files, `hdf.json` first.
pub(super) fn files(
    hdf: Vec<u8>,
    metadata: &Metadata,
) -> Result<Vec<(ResultFile, Vec<u8>)>, Failure> {
    let metadata =
        serde_json::to_vec_pretty(metadata).map_err(|e| Failure::infrastructure(e.to_string()))?;
    Ok(vec![
        (ResultFile::Hdf, hdf),
        (ResultFile::Metadata, metadata),
    ])
}

/// The termination summary's list of files (pure): name, digest, size; keys once stored.
pub(super) fn result_objects(files: &[(ResultFile, Vec<u8>)]) -> Vec<ResultObject> {
    files
        .iter()
        .map(|(file, bytes)| ResultObject {
            file: file.file_name().to_string(),
            sha256: sidescan_core::digest::sha256_hex(bytes),
            size: bytes.len() as u64,
            key: None,
        })
        .collect()
}

/// Writes the files once to the shared volume (and to the log when asked).
pub(super) fn write_to_volume(
    config: &AgentConfig,
    location: &RunLocation,
    files: &[(ResultFile, Vec<u8>)],
    summary: &mut TerminationSummary,
) -> Result<PathBuf, Failure> {
    let run_dir = results::run_dir(&config.results_dir, location);
    for (file, bytes) in files {
        results::write_new(&run_dir, *file, bytes).map_err(|e| {
            Failure::infrastructure(format!(
                "writing {} in {}: {e}",
                file.file_name(),
                run_dir.display()
            ))
        })?;
    }
    summary.local_folder = Some(run_dir.display().to_string());
    summary.outcome = "kept-locally".into();
    summary.objects = result_objects(files);
    if config.log_results {
        summary.in_log = print_results(files);
    }
    Ok(run_dir)
}

/// The full key each file goes to: the grant's, which must name this run's folder (a grant for
/// another run's objects is refused), or the store's prefix plus the layout's key.
pub(super) fn keys(
    prepared: &Prepared,
    location: &RunLocation,
    files: &[(ResultFile, Vec<u8>)],
) -> Result<Vec<String>, Failure> {
    files
        .iter()
        .map(|(file, _)| match &prepared.sink {
            Sink::Store(store) => Ok(store.full_key(&location.key(*file))),
            Sink::Grant(_, grant) => {
                let key = grant
                    .object(file.file_name())
                    .map_err(|e| Failure::infrastructure(e.to_string()))?
                    .key
                    .clone();
                let expected = location.key(*file);
                if key == expected || key.ends_with(&format!("/{expected}")) {
                    Ok(key)
                } else {
                    Err(Failure::infrastructure(format!(
                        "the presigned upload for {} names {key}, not this run's {expected}",
                        file.file_name()
                    )))
                }
            }
        })
        .collect()
}

/// Stores every file (put-if-absent, read back); on failure the log is the fallback. Returns the
/// number of objects stored.
pub(super) async fn upload(
    config: &AgentConfig,
    prepared: &Prepared,
    location: &RunLocation,
    files: &[(ResultFile, Vec<u8>)],
    run_dir: &std::path::Path,
    summary: &mut TerminationSummary,
) -> Result<usize, Failure> {
    let store_url = prepared.store_url.clone();
    summary.store = Some(store_url.clone());
    let keys = keys(prepared, location, files)?;
    for ((file, bytes), key) in files.iter().zip(keys) {
        let stored = match &prepared.sink {
            Sink::Store(store) => {
                store
                    .put_verified(&key, bytes, file.content_type(), config.retry)
                    .await
            }
            Sink::Grant(client, grant) => match grant.object(file.file_name()) {
                Ok(object) => client.put_verified(object, bytes, config.retry).await,
                Err(e) => Err(e),
            },
        };
        match stored {
            Ok(receipt) => {
                tracing::info!(key = %receipt.key, sha256 = %receipt.sha256, created = receipt.created, "stored");
                if let Some(object) = summary
                    .objects
                    .iter_mut()
                    .find(|o| o.file == file.file_name())
                {
                    object.key = Some(receipt.key.clone());
                }
            }
            Err(e) => {
                // The log is the fallback when asked for: an orchestrator can still store them.
                if config.log_results_on_failure && !summary.in_log {
                    summary.in_log = print_results(files);
                }
                return Err(Failure::infrastructure(format!(
                    "upload to {store_url} failed: {e}; the results stay in {}",
                    run_dir.display()
                )));
            }
        }
    }
    summary.outcome = "stored".into();
    Ok(files.len())
}

/// Prints the result files to stdout between markers; true when all were written.
fn print_results(files: &[(ResultFile, Vec<u8>)]) -> bool {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let written = files.iter().all(|(file, bytes)| {
        out.write_all(sidescan_core::log_transfer::encode(file.file_name(), bytes).as_bytes())
            .is_ok()
    }) && out.flush().is_ok();
    if written {
        tracing::info!(files = files.len(), "result files printed to the log");
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identify::{Identified, Selector};
    use crate::pod::TargetStatus;
    use crate::root::TargetRoot;
    use crate::run::{Backend, Targeting};

    fn config() -> AgentConfig {
        AgentConfig {
            backend: Backend::Builtin,
            targeting: Targeting::Fixed(Selector::Heuristic),
            wait: std::time::Duration::from_secs(1),
            proc: "/proc".into(),
            results_dir: "/results".into(),
            store_url: None,
            namespace: "shop".into(),
            target_name: None,
            run_id: sidescan_core::RunId::parse("abc123def456").unwrap(),
            folder_started: Some("2026-12-07T12:00:00Z".parse().unwrap()),
            termination_log: "/dev/null".into(),
            retry: sidescan_store::RetryPolicy::default(),
            cinc: None,
            input_files: Vec::new(),
            waiver_files: Vec::new(),
            pod_name: Some("scan-web".into()),
            node: Some("node-from-env".into()),
            audit_context: None,
            log_results: false,
            log_results_on_failure: false,
            upload: crate::Upload::Store {
                settings: sidescan_store::S3Settings::default(),
                credentials_dir: None,
            },
        }
    }

    /// The test process itself stands in for the target (its root is readable to itself).
    fn found(pod: Option<TargetStatus>) -> Found {
        let pid = std::process::id();
        Found {
            target: Identified {
                pid,
                start_time: None,
                method: "heuristic",
                cmdline: String::new(),
                polls: 1,
            },
            root: TargetRoot::open(std::path::Path::new("/proc"), pid).unwrap(),
            pod,
        }
    }

    #[test]
    fn metadata_takes_the_target_from_the_pod_status_when_there_is_one() {
        let cfg = config();
        let with_pod = found(Some(TargetStatus {
            container: "web".into(),
            container_id: Some("containerd://0123456789abcdef".into()),
            image: Some("nginx:1.27".into()),
            image_digest: Some("sha256:ab".into()),
            node: Some("node-1".into()),
            ..TargetStatus::default()
        }));
        let loc = location(&cfg, &with_pod, "2026-12-07T12:05:00Z".parse().unwrap()).unwrap();
        // The folder the workflow fixed, and the container's name as the target's.
        assert_eq!(loc.folder(), "shop/web/20261207T120000Z-abc123def456");
        let view = ViewRecord {
            mechanism: "descriptor".into(),
            read_only: true,
            landlock_abi: None,
            allow_writable_view: false,
            proof: "p".into(),
            ..ViewRecord::default()
        };
        let facts = || RunFacts {
            started: "2026-12-07T12:05:00Z".parse().unwrap(),
            finished: "2026-12-07T12:05:02Z".parse().unwrap(),
            target_uid: Some(65532),
            timings_ms: BTreeMap::from([("scan".to_string(), 5)]),
        };
        let m = metadata(
            &cfg,
            &with_pod,
            &loc,
            ScanMeta::default(),
            view.clone(),
            facts(),
        );
        assert_eq!(m.target, "web");
        assert_eq!(m.node.as_deref(), Some("node-1"));
        assert_eq!(m.image_digest.as_deref(), Some("sha256:ab"));
        assert_eq!(m.identified_by, "heuristic");
        assert_eq!(m.timings_ms["scan"], 5);

        let without = found(None);
        let loc = location(&cfg, &without, "2026-12-07T12:05:00Z".parse().unwrap()).unwrap();
        let m = metadata(&cfg, &without, &loc, ScanMeta::default(), view, facts());
        assert_eq!(m.target, "target");
        assert_eq!(m.node.as_deref(), Some("node-from-env"));
        assert_eq!(m.container_id, None);
    }

    #[test]
    fn result_objects_name_each_file_with_its_digest_and_size() {
        let files = vec![
            (ResultFile::Hdf, b"{}".to_vec()),
            (ResultFile::Metadata, b"abc".to_vec()),
        ];
        let objects = result_objects(&files);
        assert_eq!(objects[0].file, "hdf.json");
        assert_eq!(objects[0].size, 2);
        assert_eq!(
            objects[1].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(objects.iter().all(|o| o.key.is_none()));
    }
}
