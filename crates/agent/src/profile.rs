//! Profiles from URLs: `s3://bucket/key`, `file:///path` and `https://host/path` (through
//! `object_store`), fetched into the scan's scratch directory before the scan, bounded in size,
//! and checked against `--profile-sha256` (required for `https://`, where nothing else vouches
//! for the content). CINC Auditor runs `.tar.gz`/`.tgz`/`.zip` archives directly, so the fetched
//! file keeps its name.

use crate::cinc::ProfileSource;
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Default for `--profile-max-bytes`: 64 MiB, far above any real profile archive.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Why a profile could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The user's value is wrong (exit 2).
    #[error("--profile {url}: {reason}")]
    Bad { url: String, reason: String },
    /// The store or server could not deliver it (exit 3).
    #[error("--profile {url}: {reason}")]
    Fetch { url: String, reason: String },
}

impl ProfileError {
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ProfileError::Bad { .. })
    }
}

/// Where a URL's object lives: the store to open and the key in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, key: String },
    File { path: PathBuf },
    Https { base: String, key: String },
}

/// Tells a URL from a path: only these schemes are URLs; anything else is a local path.
pub fn source(value: &str) -> ProfileSource {
    let lower = value.to_ascii_lowercase();
    let is_url = ["s3://", "file://", "https://", "http://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    if is_url {
        ProfileSource::Url(value.to_string())
    } else {
        ProfileSource::Path(PathBuf::from(value))
    }
}

/// Parses a profile URL and checks what must go with it (pure).
pub fn locate(url: &str, sha256: Option<&str>) -> Result<Location, ProfileError> {
    let bad = |reason: &str| ProfileError::Bad {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    if let Some(hash) = sha256
        && (hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad("--profile-sha256 must be 64 hexadecimal digits"));
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let key = parsed.path().trim_start_matches('/').to_string();
    let location = match parsed.scheme() {
        "s3" => {
            let bucket = parsed.host_str().unwrap_or_default().to_string();
            if bucket.is_empty() || key.is_empty() {
                return Err(bad("expected s3://bucket/key"));
            }
            Location::S3 { bucket, key }
        }
        "file" => {
            let path = parsed.to_file_path().map_err(|_| bad("not a local path"))?;
            Location::File { path }
        }
        "https" => {
            if sha256.is_none() {
                return Err(bad("an https:// profile needs --profile-sha256"));
            }
            if key.is_empty() {
                return Err(bad("no path in the URL"));
            }
            let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
            let base = match parsed.port() {
                Some(port) => format!("https://{host}:{port}"),
                None => format!("https://{host}"),
            };
            Location::Https { base, key }
        }
        "http" => return Err(bad("plain http:// is not accepted; use https://")),
        other => return Err(bad(&format!("scheme {other:?} is not supported"))),
    };
    let name = file_name(&location);
    if !archive_name(&name) && !matches!(location, Location::File { .. }) {
        return Err(bad(
            "a fetched profile must be an archive (.tar.gz, .tgz or .zip)",
        ));
    }
    Ok(location)
}

fn file_name(location: &Location) -> String {
    let key = match location {
        Location::S3 { key, .. } | Location::Https { key, .. } => key.as_str(),
        Location::File { path } => path.to_str().unwrap_or_default(),
    };
    key.rsplit('/').next().unwrap_or_default().to_string()
}

/// Archives CINC Auditor reads directly.
pub fn archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".tar.gz", ".tgz", ".zip"]
        .iter()
        .any(|ext| lower.ends_with(ext) && lower.len() > ext.len())
}

/// A fetched object's digest differs from `--profile-sha256`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sha256 is {got}, --profile-sha256 says {expected}")]
pub struct DigestMismatch {
    pub expected: String,
    pub got: String,
}

/// Checks a fetched object's digest (pure).
pub fn verify_sha256(expected: Option<&str>, got: &str) -> Result<(), DigestMismatch> {
    match expected {
        Some(want) if !want.eq_ignore_ascii_case(got) => Err(DigestMismatch {
            expected: want.to_ascii_lowercase(),
            got: got.to_string(),
        }),
        _ => Ok(()),
    }
}

/// A `file://` URL naming a directory is used where it is (no fetch): a directory profile.
/// Everything else is fetched into `dir` (created) and the local path returned.
pub async fn fetch(
    url: &str,
    sha256: Option<&str>,
    max_bytes: u64,
    dir: &Path,
    s3: &sidescan_store::S3Settings,
) -> Result<PathBuf, ProfileError> {
    let location = locate(url, sha256)?;
    let bad = |reason: String| ProfileError::Bad {
        url: url.to_string(),
        reason,
    };
    let failed = |reason: String| ProfileError::Fetch {
        url: url.to_string(),
        reason,
    };
    let (store, key): (Arc<dyn ObjectStore>, ObjectPath) = match &location {
        Location::File { path } => {
            if path.is_dir() {
                if sha256.is_some() {
                    return Err(bad(
                        "--profile-sha256 applies to archives, not to a directory".into(),
                    ));
                }
                return Ok(path.clone());
            }
            if !archive_name(&file_name(&location)) {
                return Err(bad(
                    "a profile file must be an archive (.tar.gz, .tgz or .zip)".into(),
                ));
            }
            let key = ObjectPath::from_absolute_path(path).map_err(|e| bad(e.to_string()))?;
            (Arc::new(object_store::local::LocalFileSystem::new()), key)
        }
        Location::S3 { bucket, key } => {
            // The store crate's client: the credentials the agent took in, the CA bundle.
            let store = sidescan_store::open_with(&format!("s3://{bucket}"), s3)
                .map_err(|e| bad(e.to_string()))?;
            (store.inner, ObjectPath::from(key.as_str()))
        }
        Location::Https { base, key } => {
            let http = object_store::http::HttpBuilder::new()
                .with_url(base.clone())
                .build()
                .map_err(|e| bad(e.to_string()))?;
            (Arc::new(http), ObjectPath::from(key.as_str()))
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    let dest = dir.join(file_name(&location));
    let get = tokio::time::timeout(Duration::from_secs(60), store.get(&key))
        .await
        .map_err(|_| failed("no answer within 60 s".into()))?;
    let result = match get {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(bad("no such object".into()));
        }
        Err(e) => return Err(failed(e.to_string())),
    };
    if result.meta.size > max_bytes {
        return Err(bad(format!(
            "{} bytes, more than --profile-max-bytes {max_bytes}",
            result.meta.size
        )));
    }
    let mut out =
        std::fs::File::create(&dest).map_err(|e| failed(format!("{}: {e}", dest.display())))?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| failed(e.to_string()))?;
        size += chunk.len() as u64;
        if size > max_bytes {
            drop(out);
            let _ = std::fs::remove_file(&dest);
            return Err(bad(format!(
                "more than --profile-max-bytes {max_bytes} bytes"
            )));
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .map_err(|e| failed(format!("{}: {e}", dest.display())))?;
    }
    out.sync_all()
        .map_err(|e| failed(format!("{}: {e}", dest.display())))?;
    let got = hex::encode(hasher.finalize());
    if let Err(mismatch) = verify_sha256(sha256, &got) {
        let _ = std::fs::remove_file(&dest);
        return Err(bad(mismatch.to_string()));
    }
    tracing::info!(url, bytes = size, sha256 = %got, "profile fetched");
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn paths_and_urls_are_told_apart() {
        assert_eq!(
            source("profiles/base"),
            ProfileSource::Path("profiles/base".into())
        );
        assert_eq!(
            source("S3://b/p.tar.gz"),
            ProfileSource::Url("S3://b/p.tar.gz".into())
        );
        assert!(matches!(source("https://x/p.zip"), ProfileSource::Url(_)));
    }

    #[test]
    fn locations_from_urls() {
        assert_eq!(
            locate("s3://bucket/profiles/base-1.0.tar.gz", None).unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                key: "profiles/base-1.0.tar.gz".into()
            }
        );
        assert_eq!(
            locate("https://example.org:8443/p/base.zip", Some(HASH)).unwrap(),
            Location::Https {
                base: "https://example.org:8443".into(),
                key: "p/base.zip".into()
            }
        );
        assert_eq!(
            locate("file:///srv/profiles/base", None).unwrap(),
            Location::File {
                path: "/srv/profiles/base".into()
            }
        );
    }

    #[test]
    fn what_is_refused() {
        let reason = |url: &str, hash: Option<&str>| locate(url, hash).unwrap_err().to_string();
        assert!(reason("https://example.org/p.tar.gz", None).contains("needs --profile-sha256"));
        assert!(reason("http://example.org/p.tar.gz", Some(HASH)).contains("https://"));
        assert!(reason("s3://bucket/p.tar.gz", Some("abc")).contains("64 hexadecimal"));
        assert!(reason("s3://bucket/", None).contains("s3://bucket/key"));
        assert!(reason("s3://bucket/profile.rb", None).contains("archive"));
        assert!(reason("ftp://host/p.tar.gz", None).contains("not supported"));
    }

    #[test]
    fn digests_are_compared_case_insensitively() {
        assert_eq!(verify_sha256(None, HASH), Ok(()));
        assert_eq!(verify_sha256(Some(&HASH.to_uppercase()), HASH), Ok(()));
        assert!(
            verify_sha256(Some(&"0".repeat(64)), HASH)
                .unwrap_err()
                .to_string()
                .contains(HASH)
        );
    }

    #[tokio::test]
    async fn file_urls_are_fetched_bounded_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("base.tar.gz");
        std::fs::write(&archive, b"test").unwrap();
        let url = url::Url::from_file_path(&archive).unwrap().to_string();
        let scratch = dir.path().join("scratch");
        let got = fetch(
            &url,
            Some(HASH),
            1024,
            &scratch,
            &sidescan_store::S3Settings::default(),
        )
        .await
        .unwrap();
        assert_eq!(got, scratch.join("base.tar.gz"));
        assert_eq!(std::fs::read(&got).unwrap(), b"test");

        let wrong = "0".repeat(64);
        let err = fetch(
            &url,
            Some(&wrong),
            1024,
            &dir.path().join("s2"),
            &sidescan_store::S3Settings::default(),
        )
        .await
        .unwrap_err();
        assert!(
            err.is_bad_input() && err.to_string().contains(HASH),
            "{err}"
        );
        assert!(!dir.path().join("s2/base.tar.gz").exists());

        let err = fetch(
            &url,
            None,
            3,
            &dir.path().join("s3"),
            &sidescan_store::S3Settings::default(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("--profile-max-bytes 3"), "{err}");

        let missing = url.replace("base.tar.gz", "none.tar.gz");
        let err = fetch(
            &missing,
            None,
            1024,
            &dir.path().join("s4"),
            &sidescan_store::S3Settings::default(),
        )
        .await
        .unwrap_err();
        assert!(err.is_bad_input(), "{err}");

        // A directory URL is used in place.
        let url = url::Url::from_directory_path(dir.path())
            .unwrap()
            .to_string();
        let got = fetch(
            &url,
            None,
            1024,
            &dir.path().join("s5"),
            &sidescan_store::S3Settings::default(),
        )
        .await
        .unwrap();
        assert_eq!(got, dir.path());
    }
}
