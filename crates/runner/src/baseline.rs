//! The result a run is compared with (`--baseline latest|KEY`), found and read in the object
//! store: `latest` is the previous run of the same namespace and target, found from the results
//! layout by [`sidescan_store::Store::latest_run_before`] (the search `sidescan-eval diff --base
//! latest` makes); a KEY is a run's `hdf.json` (or its folder) as a key in the results store's
//! bucket or as a URL. Shared by `scan` and `audit`.

use crate::Error;
use sidescan_core::ResultFile;
use sidescan_core::history::BaselineRequest;
use sidescan_core::layout::{is_run_folder, parse_run_key};
use sidescan_store::{LatestRun, Store};

/// A baseline as found: its key (or URL) and bytes, or why there is none.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub key: Option<String>,
    pub hdf: Option<Vec<u8>>,
    /// Why there is no baseline.
    pub note: Option<String>,
    /// What the `latest` search took.
    pub lookup: Option<LatestRun>,
}

/// Where a KEY points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A full key in the results store's bucket.
    Key(String),
    /// An object elsewhere, read with the environment's credentials.
    Url(String),
}

/// The `hdf.json` a KEY names: a run folder gets `/hdf.json`; a URL of the results store's
/// bucket becomes a key in it (so the spec's endpoint and region apply).
pub fn locate(store_url: &str, key: &str) -> Located {
    let hdf = |k: &str| {
        let trimmed = k.trim_end_matches('/');
        let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
        if k.ends_with('/') || is_run_folder(last) {
            format!("{trimmed}/{}", ResultFile::Hdf.file_name())
        } else {
            k.to_string()
        }
    };
    let bucket_of = |url: &str| {
        url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "s3" | "s3a"))
            .and_then(|u| u.host_str().map(str::to_string))
    };
    if key.contains("://") {
        match (bucket_of(key), bucket_of(store_url)) {
            (Some(theirs), Some(ours)) if theirs == ours => {
                let path = url::Url::parse(key)
                    .map(|u| u.path().trim_start_matches('/').to_string())
                    .unwrap_or_default();
                Located::Key(hdf(&path))
            }
            _ => Located::Url(hdf(key)),
        }
    } else {
        Located::Key(hdf(key.trim_start_matches('/')))
    }
}

/// The object at a URL (`s3://bucket/key`, `file:///path`), read with the environment's
/// credentials.
pub async fn read_url(url: &str) -> Result<Vec<u8>, Error> {
    let (store, path) = sidescan_store::open_object(url)?;
    match store.get_optional(path.as_ref()).await? {
        Some(bytes) => Ok(bytes.to_vec()),
        None => Err(Error::Baseline {
            key: url.to_string(),
            reason: "no such object".into(),
        }),
    }
}

/// The baseline of the run whose `hdf.json` is `current` (a full key in `store`).
pub async fn find(store: &Store, request: &BaselineRequest, current: &str) -> Result<Found, Error> {
    match request {
        BaselineRequest::Latest => {
            let lookup = store.latest_run_before(current).await?;
            let Some(key) = lookup.key.clone() else {
                let what = parse_run_key(current)
                    .map(|r| format!("{}/{}", r.namespace, r.target))
                    .unwrap_or_else(|| current.to_string());
                return Ok(Found {
                    note: Some(format!(
                        "no earlier run of {what} in the store: every failure counts as new"
                    )),
                    lookup: Some(lookup),
                    ..Found::default()
                });
            };
            let hdf = store.get_bytes(&key).await?.to_vec();
            Ok(Found {
                key: Some(key),
                hdf: Some(hdf),
                note: None,
                lookup: Some(lookup),
            })
        }
        BaselineRequest::Key(given) => {
            let missing = |key: &str| Error::Baseline {
                key: key.to_string(),
                reason: "no such object".into(),
            };
            match locate(&store.url, given) {
                Located::Key(key) => match store.get_optional(&key).await? {
                    Some(bytes) => Ok(Found {
                        key: Some(key),
                        hdf: Some(bytes.to_vec()),
                        ..Found::default()
                    }),
                    None => Err(missing(&key)),
                },
                Located::Url(url) => Ok(Found {
                    hdf: Some(read_url(&url).await?),
                    key: Some(url),
                    ..Found::default()
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_urls_name_an_hdf_json() {
        let store = "s3://bucket/scans";
        assert_eq!(
            locate(store, "scans/ns/web/20261126T152045Z-abc123/hdf.json"),
            Located::Key("scans/ns/web/20261126T152045Z-abc123/hdf.json".into())
        );
        assert_eq!(
            locate(store, "scans/ns/web/20261126T152045Z-abc123/"),
            Located::Key("scans/ns/web/20261126T152045Z-abc123/hdf.json".into())
        );
        assert_eq!(
            locate(store, "s3://bucket/scans/ns/web/20261126T152045Z-abc123"),
            Located::Key("scans/ns/web/20261126T152045Z-abc123/hdf.json".into())
        );
        assert_eq!(
            locate(store, "s3://other/x/hdf.json"),
            Located::Url("s3://other/x/hdf.json".into())
        );
        assert_eq!(
            locate("file:///tmp/results/", "file:///tmp/results/a.json"),
            Located::Url("file:///tmp/results/a.json".into())
        );
    }

    #[tokio::test]
    async fn latest_and_given_baselines_are_read_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let run = |folder: &str| {
            let d = dir.path().join("p/ns/web").join(folder);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("hdf.json"), folder.as_bytes()).unwrap();
            format!("p/ns/web/{folder}/hdf.json")
        };
        let first = run("20261120T000000Z-aaaaaa");
        let second = run("20261121T000000Z-bbbbbb");
        let store =
            sidescan_store::open(url::Url::from_directory_path(dir.path()).unwrap().as_str())
                .unwrap();
        let found = find(&store, &BaselineRequest::Latest, &second)
            .await
            .unwrap();
        assert_eq!(found.key.as_deref(), Some(first.as_str()));
        assert_eq!(found.hdf.as_deref(), Some(&b"20261120T000000Z-aaaaaa"[..]));
        let none = find(&store, &BaselineRequest::Latest, &first)
            .await
            .unwrap();
        assert_eq!((none.key, none.hdf), (None, None));
        assert!(none.note.unwrap().contains("no earlier run of ns/web"));
        let given = find(
            &store,
            &BaselineRequest::Key("p/ns/web/20261121T000000Z-bbbbbb/".into()),
            &first,
        )
        .await
        .unwrap();
        assert_eq!(given.key.as_deref(), Some(second.as_str()));
        let err = find(
            &store,
            &BaselineRequest::Key("p/ns/web/nope/hdf.json".into()),
            &first,
        )
        .await
        .unwrap_err();
        assert_eq!(err.exit_status(), sidescan_core::ExitStatus::BadInput);
        assert!(err.to_string().contains("p/ns/web/nope/hdf.json"), "{err}");
    }
}
