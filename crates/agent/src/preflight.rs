//! Checks that run before the target is even looked for, so a bad value or an unusable store
//! ends the run in seconds instead of after a scan of up to half an hour: the results directory is
//! writable, the store URL is well formed and (for S3) answers a one-key list.

use sidescan_core::ExitStatus;
use sidescan_store::{self, Store};
use std::path::Path;
use std::time::Duration;

/// How long the store may take to answer the reachability check.
pub const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed check: the exit status and one line naming the flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: ExitStatus,
    pub message: String,
}

fn refuse(status: ExitStatus, message: String) -> Refusal {
    Refusal { status, message }
}

/// Creates the results directory and writes and removes a probe file in it.
pub fn results_dir_writable(dir: &Path, run_id: &str) -> Result<(), Refusal> {
    let bad = |e: std::io::Error| {
        refuse(
            ExitStatus::BadInput,
            format!("--results-dir {} is not writable: {e}", dir.display()),
        )
    };
    std::fs::create_dir_all(dir).map_err(bad)?;
    let probe = dir.join(format!(".sidescan-write-probe-{run_id}"));
    std::fs::write(&probe, b"probe").map_err(bad)?;
    std::fs::remove_file(&probe).map_err(bad)?;
    Ok(())
}

/// Opens the store (a malformed URL is bad input) and, for remote stores, lists at most one key
/// under its prefix (an unreachable or refusing store is an infrastructure failure).
pub async fn store_usable(
    url: &str,
    settings: &sidescan_store::S3Settings,
) -> Result<Store, Refusal> {
    let store = sidescan_store::open_with(url, settings)
        .map_err(|e| refuse(ExitStatus::BadInput, format!("--store: {e}")))?;
    if !store.attributes {
        // file://: sidescan_store::open created the directory already.
        return Ok(store);
    }
    let prefix = object_store::path::Path::from(store.prefix.as_str());
    let list = store.inner.list_with_delimiter(Some(&prefix));
    match tokio::time::timeout(STORE_CHECK_TIMEOUT, list).await {
        Ok(Ok(_)) => Ok(store),
        Ok(Err(e)) => Err(refuse(
            ExitStatus::Infrastructure,
            format!("--store {url} is not usable: {e}"),
        )),
        Err(_) => Err(refuse(
            ExitStatus::Infrastructure,
            format!(
                "--store {url} did not answer within {}s",
                STORE_CHECK_TIMEOUT.as_secs()
            ),
        )),
    }
}

/// Checks the run's presigned uploads before the scan: a grant for every result file, a signature
/// the store accepts (the `GET` of `hdf.json` answers "not found"), nothing stored yet.
pub async fn grant_usable(
    grant: &sidescan_store::UploadGrant,
) -> Result<sidescan_store::PresignedClient, Refusal> {
    let infra = |e: sidescan_store::StoreError| {
        refuse(
            ExitStatus::Infrastructure,
            format!("{}: {e}", sidescan_core::scanner::env::UPLOAD_URLS),
        )
    };
    for file in [
        sidescan_core::ResultFile::Hdf,
        sidescan_core::ResultFile::Metadata,
    ] {
        grant.object(file.file_name()).map_err(infra)?;
    }
    let client = sidescan_store::PresignedClient::new().map_err(infra)?;
    let hdf = grant
        .object(sidescan_core::ResultFile::Hdf.file_name())
        .map_err(infra)?;
    match tokio::time::timeout(STORE_CHECK_TIMEOUT, client.preflight(hdf)).await {
        Ok(Ok(())) => Ok(client),
        Ok(Err(e)) => Err(infra(e)),
        Err(_) => Err(refuse(
            ExitStatus::Infrastructure,
            format!(
                "the store of the presigned uploads ({}) did not answer within {}s",
                grant.store,
                STORE_CHECK_TIMEOUT.as_secs()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_dir_is_created_and_left_clean() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("a/b");
        results_dir_writable(&results, "abc123").unwrap();
        assert_eq!(std::fs::read_dir(&results).unwrap().count(), 0);
    }

    #[test]
    fn an_unwritable_results_dir_is_bad_input() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let err = results_dir_writable(&file.path().join("sub"), "abc123").unwrap_err();
        assert_eq!(err.status, ExitStatus::BadInput);
        assert!(err.message.starts_with("--results-dir "), "{}", err.message);
    }

    #[tokio::test]
    async fn store_urls_are_checked() {
        let none = sidescan_store::S3Settings::default();
        let err = store_usable("ftp://host/x", &none).await.unwrap_err();
        assert_eq!(err.status, ExitStatus::BadInput);
        assert!(err.message.starts_with("--store"), "{}", err.message);
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path().join("store"))
            .unwrap()
            .to_string();
        store_usable(&url, &none).await.unwrap();
        assert!(dir.path().join("store").is_dir());
    }
}
