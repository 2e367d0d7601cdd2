//! `--base latest`: the previous run of the same target, found from the results layout by the
//! store crate ([`sidescan_store::Store::latest_run_before`], shared with the runner's
//! `--baseline latest`); this module turns the URL into a key and the answer back into a URL.

use sidescan_core::layout::parse_run_key;
use url::Url;

use crate::input::{Failure, runtime, store_failure};

/// The previous run's `hdf.json`, and what it took to find it.
#[derive(Debug)]
pub struct Latest {
    pub url: String,
    pub found: sidescan_store::LatestRun,
}

/// The latest run of the same namespace and target before `input`, which must be the URL of a
/// run's `hdf.json` (`s3://bucket/<prefix>/<namespace>/<target>/<timestamp>-<run id>/hdf.json`,
/// or `file://` in the same layout).
pub fn latest_before(input: &str) -> Result<Latest, Failure> {
    let usage = || {
        Failure::bad_input(format!(
            "{input}: --base latest needs --input as the URL of a run's hdf.json \
             (s3://bucket/<prefix>/<namespace>/<target>/<timestamp>-<run id>/hdf.json or file://...)"
        ))
    };
    if !input.contains("://") {
        return Err(usage());
    }
    let url =
        Url::parse(input).map_err(|e| Failure::bad_input(format!("{input}: not a URL: {e}")))?;
    if !matches!(url.scheme(), "file" | "s3" | "s3a") {
        return Err(usage());
    }
    let (store, path) = sidescan_store::open_object(input).map_err(|e| match e {
        e if e.is_bad_input() => Failure::bad_input(format!("{input}: {e}")),
        other => Failure {
            status: sidescan_core::ExitStatus::Infrastructure,
            message: format!("{input}: {other}"),
        },
    })?;
    let key = path.to_string();
    let run = parse_run_key(&key).ok_or_else(usage)?;
    let found = runtime()?
        .block_on(store.latest_run_before(&key))
        .map_err(|e| match e {
            sidescan_store::StoreError::Io { source, .. } => store_failure(input, source),
            other => Failure::bad_input(format!("{input}: {other}")),
        })?;
    let Some(found_key) = found.key.clone() else {
        return Err(Failure::bad_input(format!(
            "{input}: no earlier run of {}/{} with a {} ({} entries listed in {})",
            run.namespace,
            run.target,
            run.file,
            found.listed,
            run.target_folder()
        )));
    };
    let url = match url.scheme() {
        "file" => format!("file:///{found_key}"),
        scheme => format!(
            "{scheme}://{}/{found_key}",
            url.host_str().expect("checked when the store was opened")
        ),
    };
    Ok(Latest { url, found })
}
