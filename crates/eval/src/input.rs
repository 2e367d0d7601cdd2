//! Reading inputs: a path, `-` (stdin), or an object-store URL (`file://`, `s3://bucket/key`).

use std::io::Read;
use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use sidescan_core::ExitStatus;
use url::Url;

pub use sidescan_core::Failure;

/// Reads the whole input named by `spec`.
pub fn read_input(spec: &str) -> Result<Vec<u8>, Failure> {
    if spec == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| Failure::bad_input(format!("stdin: cannot read: {e}")))?;
        return Ok(buf);
    }
    if spec.contains("://") {
        return read_url(spec);
    }
    std::fs::read(spec)
        .map_err(|e| Failure::bad_input(format!("{spec}: cannot read: {}", io_reason(&e))))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

fn read_url(spec: &str) -> Result<Vec<u8>, Failure> {
    let url =
        Url::parse(spec).map_err(|e| Failure::bad_input(format!("{spec}: not a URL: {e}")))?;
    let (store, path) = store_for(spec, &url)?;
    runtime()?.block_on(async move {
        let got = store.get(&path).await.map_err(|e| store_failure(spec, e))?;
        let bytes = got.bytes().await.map_err(|e| store_failure(spec, e))?;
        Ok(bytes.to_vec())
    })
}

/// The store and object key a `file://` or `s3://` URL names: the store crate's client, so the
/// `AWS_*` environment (endpoint, `AWS_ALLOW_HTTP`, `AWS_CA_BUNDLE`) means what it means for the
/// runner and the agent.
pub(crate) fn store_for(
    spec: &str,
    url: &Url,
) -> Result<(Arc<dyn ObjectStore>, StorePath), Failure> {
    if !matches!(url.scheme(), "file" | "s3" | "s3a") {
        return Err(Failure::bad_input(format!(
            "{spec}: unsupported URL scheme {:?} (use a path, -, file:// or s3://)",
            url.scheme()
        )));
    }
    let (store, path) = sidescan_store::open_object(spec).map_err(|e| match e {
        sidescan_store::StoreError::BadUrl { reason, .. } => {
            Failure::bad_input(format!("{spec}: {reason}"))
        }
        other => Failure {
            status: ExitStatus::Infrastructure,
            message: format!("{spec}: {other}"),
        },
    })?;
    Ok((store.inner, path))
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

pub(crate) fn store_failure(spec: &str, e: object_store::Error) -> Failure {
    match e {
        object_store::Error::NotFound { .. } => {
            Failure::bad_input(format!("{spec}: no such object"))
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Failure::bad_input(format!(
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
