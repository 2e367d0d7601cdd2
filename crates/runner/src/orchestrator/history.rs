//! The scan's baseline (`--baseline latest|KEY`): found beside the run in the results' store
//! ([`crate::baseline`]) and handed to [`super::process`], which compares and records the delta.

use super::collect::Retrieved;
use super::prepare::Prepared;
use crate::Error;
use crate::orchestrator::process::Baseline;
use sidescan_core::history::BaselineRequest;
use sidescan_core::{Phase, ResultFile};
use std::time::Duration;

/// The baseline of the retrieved run, within the retrieve deadline.
pub(super) async fn baseline(
    p: &Prepared,
    request: &BaselineRequest,
    retrieved: &Retrieved,
) -> Result<Baseline, Error> {
    let requested = request.as_str().to_string();
    let current = retrieved
        .folder_key
        .as_ref()
        .map(|f| format!("{f}/{}", ResultFile::Hdf.file_name()));
    let (store, current) = match (p.sink.store(), current) {
        (Some(store), Some(current)) => (store, current),
        _ => {
            // The results are in the orchestrator's log only: there is no layout to search.
            return match request {
                BaselineRequest::Key(key) if key.contains("://") => Ok(Baseline {
                    requested,
                    key: Some(key.clone()),
                    hdf: Some(crate::baseline::read_url(key).await?),
                    note: None,
                }),
                _ => Ok(Baseline {
                    requested,
                    note: Some(
                        "the results are not in a store: no earlier run to compare with; \
                         every failure counts as new"
                            .into(),
                    ),
                    ..Baseline::default()
                }),
            };
        }
    };
    let seconds = p.deadlines.retrieve;
    let found = tokio::time::timeout(
        Duration::from_secs(seconds),
        crate::baseline::find(store, request, &current),
    )
    .await
    .map_err(|_| Error::Deadline {
        phase: Phase::Process,
        seconds,
        waiting_for: format!("the baseline ({requested})"),
    })??;
    if let Some(lookup) = &found.lookup {
        tracing::info!(
            baseline = found.key.as_deref().unwrap_or("none"),
            search = lookup.search,
            listed = lookup.listed,
            list_requests = lookup.list_requests,
            probes = lookup.probes,
            "baseline latest"
        );
    }
    Ok(Baseline {
        requested,
        key: found.key,
        hdf: found.hdf,
        note: found.note,
    })
}
