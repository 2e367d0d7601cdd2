//! `--base latest`: the previous run of the same target, found by listing the target's folder in
//! the object store. The choice itself is `sidescan_core::layout::runs_before` (pure); this module
//! only lists and probes.

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use sidescan_core::layout::{parse_run_key, runs_before};
use url::Url;

use crate::input::{Failure, runtime, store_failure, store_for};

/// What S3 returns per list request (ListObjectsV2 `max-keys`).
pub const S3_PAGE: usize = 1000;

/// The previous run's `hdf.json`, and what it took to find it.
#[derive(Debug)]
pub struct Latest {
    pub url: String,
    /// Run folders (and any other entries) in the target's folder.
    pub listed: usize,
    /// List requests S3 needs for that listing (one per 1,000 entries; a local store reads the
    /// directory once).
    pub list_requests: usize,
    /// `hdf.json` objects checked, latest run first, until one existed.
    pub probes: usize,
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
    let (store, path) = store_for(input, &url)?;
    let key = path.to_string();
    let run = parse_run_key(&key).ok_or_else(usage)?;
    let folder = StorePath::from(run.target_folder().trim_end_matches('/'));
    let file = run.file.to_string();
    let (listed, found, probes) = runtime()?.block_on(async {
        let listing = store
            .list_with_delimiter(Some(&folder))
            .await
            .map_err(|e| store_failure(input, e))?;
        let listed = listing.common_prefixes.len() + listing.objects.len();
        let names: Vec<String> = listing
            .common_prefixes
            .iter()
            .map(|p| p.to_string())
            .collect();
        let mut probes = 0;
        for candidate in runs_before(&run, &names) {
            probes += 1;
            let object = StorePath::from(format!("{candidate}/{file}"));
            match store.head(&object).await {
                Ok(_) => return Ok((listed, Some(object), probes)),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(store_failure(input, e)),
            }
        }
        Ok((listed, None, probes))
    })?;
    let Some(found) = found else {
        return Err(Failure::bad_input(format!(
            "{input}: no earlier run of {}/{} with a {file} ({listed} entries listed in {})",
            run.namespace,
            run.target,
            run.target_folder()
        )));
    };
    let url = match url.scheme() {
        "file" => format!("file:///{found}"),
        scheme => format!(
            "{scheme}://{}/{found}",
            url.host_str().expect("checked when the store was opened")
        ),
    };
    Ok(Latest {
        url,
        listed,
        list_requests: listed.div_ceil(S3_PAGE).max(1),
        probes,
    })
}
