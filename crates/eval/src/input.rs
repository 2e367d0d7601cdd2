//! Reading inputs: a path, `-` (stdin), or an object-store URL (`file://`, `s3://bucket/key`).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use sidescan_core::ExitStatus;
use url::Url;

/// An error with the exit status it maps to.
#[derive(Debug)]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
}

impl Failure {
    pub(crate) fn bad(message: String) -> Self {
        Failure {
            status: ExitStatus::BadInput,
            message,
        }
    }
}

/// Reads the whole input named by `spec`.
pub fn read_input(spec: &str) -> Result<Vec<u8>, Failure> {
    if spec == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::bad(format!("stdin: cannot read: {e}")))?;
        return Ok(buf);
    }
    if spec.contains("://") {
        return read_url(spec);
    }
    std::fs::read(spec).map_err(|e| Failure::bad(format!("{spec}: cannot read: {}", io_reason(&e))))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

fn read_url(spec: &str) -> Result<Vec<u8>, Failure> {
    let url = Url::parse(spec).map_err(|e| Failure::bad(format!("{spec}: not a URL: {e}")))?;
    let (store, path) = store_for(spec, &url)?;
    runtime()?.block_on(async move {
        let got = store.get(&path).await.map_err(|e| store_failure(spec, e))?;
        let bytes = got.bytes().await.map_err(|e| store_failure(spec, e))?;
        Ok(bytes.to_vec())
    })
}

/// The store and object key a `file://` or `s3://` URL names.
pub(crate) fn store_for(
    spec: &str,
    url: &Url,
) -> Result<(Arc<dyn ObjectStore>, StorePath), Failure> {
    Ok(match url.scheme() {
        "file" => {
            let file = url
                .to_file_path()
                .map_err(|_| Failure::bad(format!("{spec}: not a local file URL")))?;
            let path = StorePath::from_absolute_path(&file)
                .map_err(|e| Failure::bad(format!("{spec}: {e}")))?;
            (Arc::new(LocalFileSystem::new()), path)
        }
        "s3" | "s3a" => {
            let bucket = url
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| Failure::bad(format!("{spec}: no bucket in the URL")))?;
            let key = url.path().trim_start_matches('/');
            if key.is_empty() {
                return Err(Failure::bad(format!("{spec}: no object key in the URL")));
            }
            let store = s3_store(bucket).map_err(|e| Failure::bad(format!("{spec}: {e}")))?;
            let path = StorePath::parse(key).map_err(|e| Failure::bad(format!("{spec}: {e}")))?;
            (Arc::new(store), path)
        }
        other => {
            return Err(Failure::bad(format!(
                "{spec}: unsupported URL scheme {other:?} (use a path, -, file:// or s3://)"
            )));
        }
    })
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            status: ExitStatus::Infrastructure,
            message: format!("cannot start the I/O runtime: {e}"),
        })
}

/// S3 from the usual AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
/// AWS_ENDPOINT_URL, AWS_ALLOW_HTTP, ...), with short timeouts so an unreachable store fails fast.
fn s3_store(bucket: &str) -> object_store::Result<object_store::aws::AmazonS3> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
        builder = builder.with_endpoint(endpoint);
    }
    let allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    builder
        .with_client_options(
            ClientOptions::new()
                .with_allow_http(allow_http)
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(60)),
        )
        .with_retry(RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(15),
            ..RetryConfig::default()
        })
        .build()
}

pub(crate) fn store_failure(spec: &str, e: object_store::Error) -> Failure {
    match e {
        object_store::Error::NotFound { .. } => Failure::bad(format!("{spec}: no such object")),
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Failure::bad(format!(
            "{spec}: access denied: {}",
            one_line(&e.to_string())
        )),
        other => Failure {
            status: ExitStatus::Infrastructure,
            message: format!(
                "{spec}: storage unreachable: {}",
                one_line(&other.to_string())
            ),
        },
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
