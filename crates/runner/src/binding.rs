//! What ties a scan pod to the run that created it: the folder its results go to and, for an S3
//! store, the presigned uploads of exactly that folder's two files. The orchestrator and the audit
//! hold the store's credentials; the pods they create get these instead, and what comes back is
//! accepted only from these keys ([`RunBinding::expected`]).

use crate::Error;
use crate::orchestrator::retrieve::{Expected, FILES};
use sidescan_core::{RunId, RunLocation};
use sidescan_store::{Store, UploadGrant};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RunBinding {
    pub location: RunLocation,
    /// The keys' store (its prefix); `None` when results come through the scanner's log only.
    pub store_prefix: Option<String>,
    pub grant: Option<UploadGrant>,
}

impl RunBinding {
    /// The run's folder (`namespace`/`target`/now-`run_id`) and, for a store that signs, its
    /// presigned uploads valid for `lifetime`.
    pub async fn new(
        store: Option<&Store>,
        namespace: &str,
        target: &str,
        run_id: RunId,
        lifetime: Duration,
    ) -> Result<RunBinding, Error> {
        let location = RunLocation::new("", namespace, target, jiff::Timestamp::now(), run_id)
            .map_err(|e| Error::Input {
                path: "target".into(),
                reason: e.to_string(),
            })?;
        let grant = match store.filter(|s| s.signer.is_some()) {
            Some(store) => {
                let files: Vec<(&str, String, &str)> = FILES
                    .iter()
                    .map(|f| {
                        (
                            f.file_name(),
                            store.full_key(&location.key(*f)),
                            f.content_type(),
                        )
                    })
                    .collect();
                Some(store.presign_run(&files, lifetime).await?)
            }
            None => None,
        };
        Ok(RunBinding {
            location,
            store_prefix: store.map(|s| s.prefix.clone()),
            grant,
        })
    }

    /// What the run may read back: its id and, with a store, each file's full key.
    pub fn expected(&self) -> Expected {
        let full_key = |relative: String| match self.store_prefix.as_deref() {
            Some("") => Some(relative),
            Some(prefix) => Some(format!("{prefix}/{relative}")),
            None => None,
        };
        Expected {
            run_id: self.location.run_id.to_string(),
            keys: FILES
                .iter()
                .filter_map(|f| Some((f.file_name(), full_key(self.location.key(*f))?)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_store_binds_keys_without_a_grant() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let store = sidescan_store::open(url.as_str()).unwrap();
        let run_id = RunId::parse("abc123def456").unwrap();
        let b = RunBinding::new(Some(&store), "shop", "web", run_id, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(b.grant.is_none());
        let e = b.expected();
        assert_eq!(e.run_id, "abc123def456");
        let folder = b.location.folder();
        assert_eq!(e.keys["hdf.json"], format!("{folder}/hdf.json"));
        assert!(folder.starts_with("shop/web/") && folder.ends_with("-abc123def456"));
        let none = RunBinding {
            store_prefix: None,
            ..b
        };
        assert!(none.expected().keys.is_empty());
    }
}
