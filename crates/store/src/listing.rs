//! Listings the results layout makes cheap: the previous run of a target before a given run
//! (`--base latest`, `--baseline latest`), and the audits under `<prefix>/audits/` (trends).
//!
//! Run folders are `<UTC timestamp>-<run id>`, so they sort by time and a run's folder name says
//! where the runs before it are. On S3, the search lists the target's run folders from the run's
//! timestamp minus [`WINDOW`] (`start-after`, with a delimiter) and stops at the run itself: one
//! list request whenever a finished run is that recent (and fewer than 1,000 runs are), however
//! many runs the target has, then one `HEAD` of the latest run's file. Only when none of them
//! finished does it list the whole folder (1,000 run folders a request). The choices are
//! `sidescan_core::layout`'s pure functions; this module lists and probes.

use object_store::ObjectStoreExt;
use object_store::list::{PaginatedListOptions, PaginatedListStore as _};
use object_store::path::Path as ObjectPath;
use sidescan_core::layout::{at_or_after, list_offset, parse_run_key, run_started, runs_before};

use crate::{Store, StoreError};

/// Keys (or common prefixes) S3 returns per list request (ListObjectsV2 `max-keys`).
pub const PAGE: usize = 1000;

/// How far before a run the first listing starts: long enough for daily and weekly schedules
/// (with jitter), short enough that a page holds the window of a target scanned on every commit.
pub const WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(8 * 24);

/// The previous run, and what it took to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestRun {
    /// The previous run's file (full key), `None` when there is no earlier finished run.
    pub key: Option<String>,
    /// Entries listed: run folders (and objects beside them) in the window, then in the whole
    /// folder.
    pub listed: usize,
    /// List requests sent (a local store reads a folder in one call).
    pub list_requests: usize,
    /// Files checked for existence after the folder listing, latest run first.
    pub probes: usize,
    /// `window` (found among the runs of [`WINDOW`] before) or `folder` (the whole folder).
    pub search: &'static str,
}

/// The audits under `<prefix>/audits/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditListing {
    /// Audit folder keys (`<prefix>/audits/<audit id>/`), ascending.
    pub folders: Vec<String>,
    pub list_requests: usize,
}

impl Store {
    /// The `file` of the latest run of the same namespace and target before the run whose file
    /// `key` names (a full key in the results layout: `<prefix>/<namespace>/<target>/<UTC
    /// timestamp>-<run id>/<file>`). Runs that never finished (no such file) are passed over.
    pub async fn latest_run_before(&self, key: &str) -> Result<LatestRun, StoreError> {
        let run = parse_run_key(key).ok_or_else(|| StoreError::Layout {
            key: key.to_string(),
            reason: "not a result file in the layout \
                     <prefix>/<namespace>/<target>/<UTC timestamp>-<run id>/<file>"
                .into(),
        })?;
        let io = |source| StoreError::Io {
            key: run.target_folder(),
            source,
        };
        let mut found = LatestRun {
            key: None,
            listed: 0,
            list_requests: 0,
            probes: 0,
            search: "window",
        };
        let mut probed: Vec<String> = Vec::new();
        if let (Some(pager), Some(started)) = (&self.pager, run_started(run.folder)) {
            // The run folders of the window, ascending (`start-after` and a delimiter: 1,000
            // run folders a request); stop at the run itself.
            let since = started.saturating_sub(WINDOW).unwrap_or(started);
            let mut options = PaginatedListOptions {
                offset: Some(list_offset(&run, since)),
                delimiter: Some("/".into()),
                ..PaginatedListOptions::default()
            };
            let mut folders = Vec::new();
            loop {
                let page = pager
                    .list_paginated(Some(&run.target_folder()), options.clone())
                    .await
                    .map_err(io)?;
                found.list_requests += 1;
                found.listed += page.result.common_prefixes.len() + page.result.objects.len();
                let mut past = false;
                for prefix in &page.result.common_prefixes {
                    let folder = format!("{prefix}/");
                    if at_or_after(&run, &folder) {
                        past = true;
                        break;
                    }
                    folders.push(folder);
                }
                match page.page_token {
                    Some(token) if !past => options.page_token = Some(token),
                    _ => break,
                }
            }
            if let Some(key) = self.probe(&run, &folders, &mut probed, &mut found).await? {
                found.key = Some(key);
                return Ok(found);
            }
        }
        // The whole folder: every run folder, then the latest with the file (those the window
        // probed are not probed again).
        found.search = "folder";
        let folders = self.run_folders(&run.target_folder(), &mut found).await?;
        found.key = self.probe(&run, &folders, &mut probed, &mut found).await?;
        Ok(found)
    }

    /// The `file` of the latest run before `run` among `folders` that has one, checked latest
    /// first (a run that never finished has none); `probed` are skipped and extended.
    async fn probe(
        &self,
        run: &sidescan_core::RunKey<'_>,
        folders: &[String],
        probed: &mut Vec<String>,
        counts: &mut LatestRun,
    ) -> Result<Option<String>, StoreError> {
        for candidate in runs_before(run, folders) {
            if probed.iter().any(|p| p == candidate) {
                continue;
            }
            probed.push(candidate.to_string());
            counts.probes += 1;
            let object = format!("{candidate}/{}", run.file);
            match self.inner.head(&ObjectPath::from(object.as_str())).await {
                Ok(_) => return Ok(Some(object)),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(source) => {
                    return Err(StoreError::Io {
                        key: object,
                        source,
                    });
                }
            }
        }
        Ok(None)
    }

    /// The sub-folders of `folder` (with a trailing slash), one delimiter listing.
    async fn run_folders(
        &self,
        folder: &str,
        counts: &mut LatestRun,
    ) -> Result<Vec<String>, StoreError> {
        let (folders, objects, requests) = self.list_folders(folder).await?;
        counts.listed += folders.len() + objects;
        counts.list_requests += requests;
        Ok(folders)
    }

    /// Common prefixes under `folder` (`a/b/`), the number of objects beside them, and the list
    /// requests it took.
    async fn list_folders(&self, folder: &str) -> Result<(Vec<String>, usize, usize), StoreError> {
        let io = |source| StoreError::Io {
            key: folder.to_string(),
            source,
        };
        match &self.pager {
            Some(pager) => {
                let mut options = PaginatedListOptions {
                    delimiter: Some("/".into()),
                    ..PaginatedListOptions::default()
                };
                let (mut folders, mut objects, mut requests) = (Vec::new(), 0, 0);
                loop {
                    let page = pager
                        .list_paginated(Some(folder), options.clone())
                        .await
                        .map_err(io)?;
                    requests += 1;
                    objects += page.result.objects.len();
                    folders.extend(page.result.common_prefixes.iter().map(|p| format!("{p}/")));
                    match page.page_token {
                        Some(token) => options.page_token = Some(token),
                        None => break,
                    }
                }
                Ok((folders, objects, requests))
            }
            None => {
                let path = ObjectPath::from(folder.trim_end_matches('/'));
                let listing = self.inner.list_with_delimiter(Some(&path)).await;
                let listing = match listing {
                    Ok(l) => l,
                    // A local folder that does not exist yet: nothing in it.
                    Err(object_store::Error::NotFound { .. }) => return Ok((vec![], 0, 1)),
                    Err(source) => return Err(io(source)),
                };
                let mut folders: Vec<String> = listing
                    .common_prefixes
                    .iter()
                    .map(|p| format!("{p}/"))
                    .collect();
                folders.sort();
                Ok((folders, listing.objects.len(), 1))
            }
        }
    }

    /// The audit folders under `<prefix>/audits/`: one delimiter listing (1,000 audits a request
    /// on S3).
    pub async fn list_audits(&self) -> Result<AuditListing, StoreError> {
        let folder = self.full_key("audits/");
        let (folders, _, list_requests) = self.list_folders(&folder).await?;
        Ok(AuditListing {
            folders,
            list_requests,
        })
    }

    /// The object at `key` (full key), `None` when it does not exist.
    pub async fn get_optional(&self, key: &str) -> Result<Option<bytes::Bytes>, StoreError> {
        match self.get_bytes(key).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StoreError::Io {
                source: object_store::Error::NotFound { .. },
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(dir: &std::path::Path) -> Store {
        crate::open(url::Url::from_directory_path(dir).unwrap().as_str()).unwrap()
    }

    #[tokio::test]
    async fn the_latest_finished_run_of_a_local_store() {
        let dir = tempfile::tempdir().unwrap();
        for (folder, files) in [
            (
                "20261120T000000Z-aaaaaa",
                &["hdf.json", "metadata.json"][..],
            ),
            ("20261125T000000Z-bbbbbb", &["metadata.json"][..]),
            ("20261126T152045Z-mmmmmm", &["hdf.json"][..]),
        ] {
            let d = dir.path().join("p/ns/t").join(folder);
            std::fs::create_dir_all(&d).unwrap();
            for f in files {
                std::fs::write(d.join(f), b"{}").unwrap();
            }
        }
        let store = local(dir.path());
        let found = store
            .latest_run_before("p/ns/t/20261126T152045Z-mmmmmm/hdf.json")
            .await
            .unwrap();
        assert_eq!(
            found.key.as_deref(),
            Some("p/ns/t/20261120T000000Z-aaaaaa/hdf.json")
        );
        assert_eq!(
            (
                found.listed,
                found.list_requests,
                found.probes,
                found.search
            ),
            (3, 1, 2, "folder")
        );
        let first = store
            .latest_run_before("p/ns/t/20261120T000000Z-aaaaaa/hdf.json")
            .await
            .unwrap();
        assert_eq!(first.key, None);
        let none = store
            .latest_run_before("p/ns/other/20261120T000000Z-aaaaaa/hdf.json")
            .await
            .unwrap();
        assert_eq!((none.key, none.listed), (None, 0));
        let err = store.latest_run_before("p/hdf.json").await.unwrap_err();
        assert!(err.is_bad_input(), "{err}");
    }

    #[tokio::test]
    async fn audits_are_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        for id in [
            "audit-20261120-030000-aaaaaa",
            "audit-20261121-030000-bbbbbb",
        ] {
            let d = dir.path().join("audits").join(id);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("audit.json"), b"{}").unwrap();
        }
        let store = local(dir.path());
        let listing = store.list_audits().await.unwrap();
        assert_eq!(
            listing.folders,
            [
                "audits/audit-20261120-030000-aaaaaa/",
                "audits/audit-20261121-030000-bbbbbb/"
            ]
        );
        assert_eq!(listing.list_requests, 1);
        assert!(
            store
                .get_optional("audits/audit-20261120-030000-aaaaaa/audit.json")
                .await
                .unwrap()
                .is_some()
        );
        assert!(store.get_optional("audits/x.json").await.unwrap().is_none());
        let empty = local(tempfile::tempdir().unwrap().path());
        assert!(empty.list_audits().await.unwrap().folders.is_empty());
    }
}
