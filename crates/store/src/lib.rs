//! sidescan-store: the one object-store client of sidescan (the agent, the runner and
//! `sidescan-eval` all open stores here). Uploading a run's files: put-if-absent (never overwrite), checksum
//! verified by reading the object back, retried with exponential backoff.
//!
//! `s3://bucket/prefix` URLs take credentials and endpoint from the standard `AWS_*` environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`, and `AWS_CA_BUNDLE`: a PEM file of CAs trusted for the endpoint besides the
//! system's, as the AWS CLI reads it); `file:///path` URLs write to a local directory. Secrets are
//! never logged: only the URL the user gave (which carries none) appears in messages.

pub mod listing;
pub mod presign;

pub use listing::{AuditListing, LatestRun};
pub use presign::{ObjectGrant, PresignedClient, UploadGrant};

use object_store::aws::AmazonS3ConfigKey;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, Certificate, ClientOptions, ObjectStore, ObjectStoreExt, PutMode,
    PutOptions, PutPayload, RetryConfig,
};
use std::sync::Arc;
use std::time::Duration;

/// The environment variable naming a PEM bundle of CAs for the S3 endpoint.
pub const CA_BUNDLE_ENV: &str = "AWS_CA_BUNDLE";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{CA_BUNDLE_ENV} {path}: {reason}")]
    CaBundle { path: String, reason: String },
    #[error("object {key}: {source}")]
    Io {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error(
        "object {key} already exists with different content (sha256 {existing}, ours {ours}); \
         results are never overwritten"
    )]
    Conflict {
        key: String,
        existing: String,
        ours: String,
    },
    #[error("object {key} read back with sha256 {got}, expected {expected}")]
    Corrupted {
        key: String,
        expected: String,
        got: String,
    },
    /// A presigned request failed (the message never holds the URL: it carries a signature).
    #[error("object {key}: {reason}")]
    Http { key: String, reason: String },
    /// An upload grant that cannot be used.
    #[error("{origin}: {reason}")]
    Grant { origin: String, reason: String },
    /// A key that does not follow the results layout where it must.
    #[error("{key}: {reason}")]
    Layout { key: String, reason: String },
}

impl StoreError {
    /// True when the user's input is at fault (a malformed or unsupported URL), not the store.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, StoreError::BadUrl { .. } | StoreError::Layout { .. })
    }
}

/// An opened store and the key prefix its URL named.
#[derive(Debug, Clone)]
pub struct Store {
    pub url: String,
    pub inner: Arc<dyn ObjectStore>,
    pub prefix: String,
    /// Content types are stored where the backend supports object attributes (not `file://`).
    pub attributes: bool,
    /// S3 stores sign URLs (the run's presigned uploads); local ones cannot.
    pub signer: Option<Arc<dyn object_store::signer::Signer>>,
    /// S3 stores list page by page, from an offset ([`listing`]); local ones read a folder at
    /// once.
    pub pager: Option<Arc<object_store::aws::AmazonS3>>,
}

/// How hard to try before giving up on an object.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `n` (1-based): doubling from `first_delay`, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// Opens the store of one object's URL (`s3://bucket/key` or `file:///path`) and returns it with
/// the object's path in it: the evaluator's inputs, read with the same client (credentials,
/// endpoint, CA bundle) the runner and the agent write with.
pub fn open_object(url: &str) -> Result<(Store, ObjectPath), StoreError> {
    let bad = |reason: String| StoreError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    match parsed.scheme() {
        "file" => {
            let file = parsed
                .to_file_path()
                .map_err(|_| bad("not a local file URL".into()))?;
            let path = ObjectPath::from_absolute_path(&file).map_err(|e| bad(e.to_string()))?;
            let store = Store {
                url: "file:///".into(),
                inner: Arc::new(object_store::local::LocalFileSystem::new()),
                prefix: String::new(),
                attributes: false,
                signer: None,
                pager: None,
            };
            Ok((store, path))
        }
        "s3" | "s3a" => {
            let bucket = parsed.host_str().unwrap_or_default();
            let key = parsed.path().trim_start_matches('/');
            if key.is_empty() {
                return Err(bad("no object key (expected s3://bucket/key)".into()));
            }
            let path = ObjectPath::parse(key).map_err(|e| bad(e.to_string()))?;
            let store = open(&format!("{}://{bucket}", parsed.scheme()))?;
            Ok((store, path))
        }
        other => Err(bad(format!(
            "scheme {other:?} is not supported (use s3:// or file://)"
        ))),
    }
}

/// Opens `url` (`s3://bucket/prefix` or `file:///dir`).
pub fn open(url: &str) -> Result<Store, StoreError> {
    open_with(url, &S3Settings::default())
}

/// A spec's S3 client settings (`results.endpoint`, `region`, `allowHttp`), used where the
/// environment (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ALLOW_HTTP`) does not set them: a runner on a
/// laptop reaches the store at an address of its own. Credentials always come from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: bool,
    /// Static credentials read from files (the agent run by hand): used instead of the
    /// environment's, which every child process would inherit.
    pub credentials: Option<StaticCredentials>,
}

/// An access key pair. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

impl From<&sidescan_core::spec::Results> for S3Settings {
    fn from(results: &sidescan_core::spec::Results) -> Self {
        S3Settings {
            endpoint: results.endpoint.clone(),
            region: results.region.clone(),
            allow_http: results.allow_http,
            credentials: None,
        }
    }
}

/// Opens `url` with `settings` where the environment leaves them unset.
pub fn open_with(url: &str, settings: &S3Settings) -> Result<Store, StoreError> {
    let bad = |reason: String| StoreError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    match parsed.scheme() {
        "s3" | "s3a" => {
            let bucket = parsed.host_str().unwrap_or_default();
            if bucket.is_empty() {
                return Err(bad("no bucket name (expected s3://bucket/prefix)".into()));
            }
            // Our own retry loop backs off between attempts; the client's own retries would
            // multiply the wait when the store is down. Client options (AWS_ALLOW_HTTP, default
            // timeouts) stay as the environment set them, plus the CA bundle's roots.
            let mut builder = object_store::aws::AmazonS3Builder::from_env()
                .with_client_options(client_options_from_env()?)
                .with_url(format!("s3://{bucket}"))
                .with_retry(RetryConfig {
                    max_retries: 0,
                    ..RetryConfig::default()
                });
            let unset = |name: &str| std::env::var_os(name).is_none();
            if let Some(endpoint) = settings
                .endpoint
                .as_ref()
                .filter(|_| unset("AWS_ENDPOINT_URL"))
            {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(region) = settings.region.as_ref().filter(|_| unset("AWS_REGION")) {
                builder = builder.with_region(region);
            }
            if settings.allow_http && unset("AWS_ALLOW_HTTP") {
                builder = builder.with_allow_http(true);
            }
            if let Some(credentials) = &settings.credentials {
                builder = builder
                    .with_access_key_id(&credentials.access_key_id)
                    .with_secret_access_key(&credentials.secret_access_key);
            }
            let s3 = Arc::new(builder.build().map_err(|e| bad(e.to_string()))?);
            Ok(Store {
                url: url.to_string(),
                inner: s3.clone(),
                prefix: parsed.path().trim_matches('/').to_string(),
                attributes: true,
                signer: Some(s3.clone()),
                pager: Some(s3),
            })
        }
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|_| bad("not a local path".into()))?;
            std::fs::create_dir_all(&dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                .map_err(|e| bad(e.to_string()))?;
            Ok(Store {
                url: url.to_string(),
                inner: Arc::new(local),
                prefix: String::new(),
                attributes: false,
                signer: None,
                pager: None,
            })
        }
        other => Err(bad(format!(
            "scheme {other:?} is not supported (use s3:// or file://)"
        ))),
    }
}

/// The HTTP client options the `AWS_*` environment sets, plus the CAs of `AWS_CA_BUNDLE`
/// (object_store reads no CA bundle from the environment itself).
fn client_options_from_env() -> Result<ClientOptions, StoreError> {
    let mut options = ClientOptions::new();
    for (key, value) in std::env::vars() {
        if key.starts_with("AWS_")
            && let Ok(AmazonS3ConfigKey::Client(client_key)) =
                key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>()
        {
            options = options.with_config(client_key, value);
        }
    }
    if let Some(path) = std::env::var_os(CA_BUNDLE_ENV).filter(|p| !p.is_empty()) {
        let shown = path.to_string_lossy().into_owned();
        let pem = std::fs::read(&path).map_err(|e| StoreError::CaBundle {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        for certificate in ca_certificates(&pem).map_err(|reason| StoreError::CaBundle {
            path: shown.clone(),
            reason,
        })? {
            options = options.with_root_certificate(certificate);
        }
    }
    Ok(options)
}

/// The certificates of a PEM bundle; an error when it holds none.
pub fn ca_certificates(pem: &[u8]) -> Result<Vec<Certificate>, String> {
    let certificates = Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
    if certificates.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certificates)
}

/// A stored, verified object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub key: String,
    pub sha256: String,
    pub size: usize,
    /// False when an identical object was already there (an earlier attempt's response was lost).
    pub created: bool,
}

pub use sidescan_core::digest::sha256_hex;

impl Store {
    /// The full key of `relative` under the URL's prefix.
    pub fn full_key(&self, relative: &str) -> String {
        if self.prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{}/{relative}", self.prefix)
        }
    }

    /// Stores `bytes` at `key` unless it exists, then reads it back and compares the sha256.
    /// An existing object with the same content counts as stored; with other content it is a
    /// conflict. Transient failures are retried per `policy`.
    pub async fn put_verified(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
        policy: RetryPolicy,
    ) -> Result<Receipt, StoreError> {
        let ours = sha256_hex(bytes);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_put(key, bytes, content_type, &ours).await {
                Ok(receipt) => return Ok(receipt),
                Err(e @ (StoreError::Conflict { .. } | StoreError::BadUrl { .. })) => {
                    return Err(e);
                }
                Err(e) if attempt >= policy.attempts.max(1) => return Err(e),
                Err(e) => {
                    let delay = policy.delay(attempt);
                    tracing::warn!(
                        key,
                        attempt,
                        retry_in_ms = delay.as_millis() as u64,
                        error = %e,
                        "upload attempt failed"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn try_put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
        ours: &str,
    ) -> Result<Receipt, StoreError> {
        let path = ObjectPath::from(key);
        let io = |source| StoreError::Io {
            key: key.to_string(),
            source,
        };
        // Checked first as well as by the conditional put: some S3-compatible servers ignore
        // If-None-Match, and an object must never be overwritten.
        match self.inner.head(&path).await {
            Ok(_) => return self.existing(key, ours, bytes.len()).await,
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(io(e)),
        }
        let mut attributes = Attributes::new();
        if self.attributes {
            attributes.insert(Attribute::ContentType, content_type.to_string().into());
        }
        let options = PutOptions {
            mode: PutMode::Create,
            attributes,
            ..PutOptions::default()
        };
        match self
            .inner
            .put_opts(&path, PutPayload::from(bytes.to_vec()), options)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                return self.existing(key, ours, bytes.len()).await;
            }
            Err(e) => return Err(io(e)),
        }
        let got = self.read_sha256(key).await?;
        if got != ours {
            return Err(StoreError::Corrupted {
                key: key.to_string(),
                expected: ours.to_string(),
                got,
            });
        }
        Ok(Receipt {
            key: key.to_string(),
            sha256: got,
            size: bytes.len(),
            created: true,
        })
    }

    async fn existing(&self, key: &str, ours: &str, size: usize) -> Result<Receipt, StoreError> {
        let existing = self.read_sha256(key).await?;
        if existing == ours {
            Ok(Receipt {
                key: key.to_string(),
                sha256: existing,
                size,
                created: false,
            })
        } else {
            Err(StoreError::Conflict {
                key: key.to_string(),
                existing,
                ours: ours.to_string(),
            })
        }
    }

    async fn read_sha256(&self, key: &str) -> Result<String, StoreError> {
        Ok(sha256_hex(&self.get_bytes(key).await?))
    }

    /// The whole object at `key` (the full key, prefix included).
    pub async fn get_bytes(&self, key: &str) -> Result<bytes::Bytes, StoreError> {
        let io = |source| StoreError::Io {
            key: key.to_string(),
            source,
        };
        self.inner
            .get(&ObjectPath::from(key))
            .await
            .map_err(io)?
            .bytes()
            .await
            .map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_millis(200));
        assert_eq!(p.delay(2), Duration::from_millis(400));
        assert_eq!(p.delay(3), Duration::from_millis(800));
        assert_eq!(p.delay(10), Duration::from_secs(5));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn bad_urls_are_named() {
        let err = open("ftp://x/y").unwrap_err().to_string();
        assert!(
            err.contains("ftp://x/y") && err.contains("not supported"),
            "{err}"
        );
        assert!(
            open("s3:///prefix")
                .unwrap_err()
                .to_string()
                .contains("bucket")
        );
        assert!(open("not a url").is_err());
    }

    const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUcPhErGCwcg0kwnVVVZhJnNOKzJowCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQc2lkZXNjYW4gdGVzdCBDQTAgFw0yNjExMjgwODQ5MjlaGA8y
MTI2MTEwNDA4NDkyOVowGzEZMBcGA1UEAwwQc2lkZXNjYW4gdGVzdCBDQTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABOmPyrVJ1eouP8fNLu5qqoYQTNJI5vo8dpPl
Rm4TOBPIp5Bs5TPbRoGnGPrigSflB3GvEveacg4KkrESdMJ3C+qjUzBRMB0GA1Ud
DgQWBBSpDX7eTtoutaj40zK+YrqLQ5vEmDAfBgNVHSMEGDAWgBSpDX7eTtoutaj4
0zK+YrqLQ5vEmDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIGMr
oxIfIpM0gykb3Y2QEF+hrRW6S1WlX7WmUmtutbqKAiEA3LR4VjzWUEIEcsge1uzL
1TG+VLzq8bxPgS3ie6YEnK0=
-----END CERTIFICATE-----
";

    #[test]
    fn ca_bundles_hold_pem_certificates() {
        assert_eq!(ca_certificates(TEST_CA.as_bytes()).unwrap().len(), 1);
        let two = format!("{TEST_CA}{TEST_CA}");
        assert_eq!(ca_certificates(two.as_bytes()).unwrap().len(), 2);
        assert!(ca_certificates(b"").is_err());
        assert!(ca_certificates(b"not a certificate").is_err());
    }

    #[test]
    fn s3_prefix_comes_from_the_url_path() {
        let store = open("s3://bucket/scans/prod/").unwrap();
        assert_eq!(store.prefix, "scans/prod");
        assert_eq!(store.full_key("a/b.json"), "scans/prod/a/b.json");
    }

    #[tokio::test]
    async fn file_store_puts_once_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path()).unwrap();
        let store = open(url.as_str()).unwrap();
        let first = store
            .put_verified("ns/t/run/hdf.json", b"{}", "application/json", quick())
            .await
            .unwrap();
        assert!(first.created);
        assert_eq!(first.sha256, sha256_hex(b"{}"));
        assert_eq!(
            std::fs::read(dir.path().join("ns/t/run/hdf.json")).unwrap(),
            b"{}"
        );
        // Same content again: accepted, not rewritten.
        let again = store
            .put_verified("ns/t/run/hdf.json", b"{}", "application/json", quick())
            .await
            .unwrap();
        assert!(!again.created);
        // Other content: refused, the original stays.
        let err = store
            .put_verified("ns/t/run/hdf.json", b"[]", "application/json", quick())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join("ns/t/run/hdf.json")).unwrap(),
            b"{}"
        );
    }
}
