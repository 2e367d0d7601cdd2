//! Presigned uploads: what a scan pod gets instead of store credentials.
//!
//! The workflow that creates a scan pod (the orchestrator, the audit runner) holds the store's
//! credentials; it signs, for exactly the objects of that one run, a `PUT` that the store accepts
//! only as a create (`If-None-Match: *` is part of the signature) and a `GET` for the read-back,
//! valid for the run's deadline. A stolen grant reaches that run's own objects and nothing else,
//! and cannot overwrite what the scanner stored. The scanner uploads with a plain HTTPS client
//! ([`PresignedClient`]) and never sees a key.

use crate::{RetryPolicy, Store, StoreError, sha256_hex};
use object_store::path::Path as ObjectPath;
use object_store::signer::{HeaderValue, Method, SignedUrlOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The presigned requests of one object.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectGrant {
    /// The object's full key (for the termination summary and logs; carries no secret).
    pub key: String,
    /// The content type the `PUT` must send (signed).
    pub content_type: String,
    pub put: String,
    pub get: String,
}

/// The URLs carry signatures: never printed whole.
impl std::fmt::Debug for ObjectGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectGrant")
            .field("key", &self.key)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// A run's grant: one entry per result file name (`hdf.json`, `metadata.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadGrant {
    /// The store URL the keys belong to (no credentials).
    pub store: String,
    /// When the signatures expire (RFC 3339).
    pub expires: String,
    pub objects: BTreeMap<String, ObjectGrant>,
}

impl UploadGrant {
    /// Parses a grant (the JSON the workflow put in the scanner's environment); the error names
    /// `origin` and never echoes the text.
    pub fn parse(text: &str, origin: &str) -> Result<UploadGrant, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Grant {
            origin: origin.to_string(),
            reason: format!("not an upload grant: {}", e.classify_name()),
        })
    }

    /// The grant of `file`, or an error naming what is missing.
    pub fn object(&self, file: &str) -> Result<&ObjectGrant, StoreError> {
        self.objects.get(file).ok_or_else(|| StoreError::Grant {
            origin: self.store.clone(),
            reason: format!("no presigned upload for {file}"),
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

trait ClassifyName {
    fn classify_name(&self) -> String;
}

impl ClassifyName for serde_json::Error {
    /// The kind and place of a JSON error, without the offending text (it may hold a URL).
    fn classify_name(&self) -> String {
        format!(
            "{:?} error at line {} column {}",
            self.classify(),
            self.line(),
            self.column()
        )
    }
}

impl Store {
    /// Signs a create-only `PUT` and a `GET` for each `(file name, full key, content type)`,
    /// valid for `expires_in`. Only S3 stores sign.
    pub async fn presign_run(
        &self,
        files: &[(&str, String, &str)],
        expires_in: Duration,
    ) -> Result<UploadGrant, StoreError> {
        let signer = self.signer.as_ref().ok_or_else(|| StoreError::BadUrl {
            url: self.url.clone(),
            reason: "presigned uploads need an s3:// store".into(),
        })?;
        let io = |key: &str, source| StoreError::Io {
            key: key.to_string(),
            source,
        };
        let mut objects = BTreeMap::new();
        for (file, key, content_type) in files {
            let path = ObjectPath::from(key.as_str());
            let content = HeaderValue::from_str(content_type).map_err(|e| StoreError::Grant {
                origin: self.url.clone(),
                reason: format!("content type {content_type:?}: {e}"),
            })?;
            let create_only = SignedUrlOptions::new()
                .with_signed_header(http::header::IF_NONE_MATCH, HeaderValue::from_static("*"))
                .with_signed_header(http::header::CONTENT_TYPE, content);
            let put = signer
                .signed_url_opts(Method::PUT, &path, expires_in, &create_only)
                .await
                .map_err(|e| io(key, e))?;
            let get = signer
                .signed_url(Method::GET, &path, expires_in)
                .await
                .map_err(|e| io(key, e))?;
            objects.insert(
                file.to_string(),
                ObjectGrant {
                    key: key.clone(),
                    content_type: content_type.to_string(),
                    put: put.to_string(),
                    get: get.to_string(),
                },
            );
        }
        let expires = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::try_from(expires_in).unwrap_or_default())
            .unwrap_or(jiff::Timestamp::MAX);
        Ok(UploadGrant {
            store: self.url.clone(),
            expires: expires.to_string(),
            objects,
        })
    }
}

/// The scanner's side: uploads through a grant with a plain HTTPS client (the CAs of
/// `AWS_CA_BUNDLE` trusted besides the system's, as for the store itself).
#[derive(Debug, Clone)]
pub struct PresignedClient {
    http: reqwest::Client,
}

/// What one request to a presigned URL gave.
enum Answer {
    Ok(bytes::Bytes),
    Missing,
    Exists,
}

impl PresignedClient {
    pub fn new() -> Result<PresignedClient, StoreError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120));
        if let Some(path) = std::env::var_os(crate::CA_BUNDLE_ENV).filter(|p| !p.is_empty()) {
            let shown = path.to_string_lossy().into_owned();
            let pem = std::fs::read(&path).map_err(|e| StoreError::CaBundle {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| StoreError::CaBundle {
                    path: shown.clone(),
                    reason: e.to_string(),
                })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| StoreError::Http {
            key: "(client)".into(),
            reason: e.to_string(),
        })?;
        Ok(PresignedClient { http })
    }

    /// Checks a grant works before the scan: the `GET` of `object` is signed correctly and the
    /// object does not exist yet.
    pub async fn preflight(&self, object: &ObjectGrant) -> Result<(), StoreError> {
        match self.get(object).await? {
            Answer::Missing => Ok(()),
            Answer::Ok(_) | Answer::Exists => Err(StoreError::Http {
                key: object.key.clone(),
                reason: "already exists before the scan ran".into(),
            }),
        }
    }

    /// Stores `bytes` through the grant unless the object exists, then reads it back and
    /// compares the sha256 (the same contract as [`Store::put_verified`]).
    pub async fn put_verified(
        &self,
        object: &ObjectGrant,
        bytes: &[u8],
        policy: RetryPolicy,
    ) -> Result<crate::Receipt, StoreError> {
        let ours = sha256_hex(bytes);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_put(object, bytes, &ours).await {
                Ok(receipt) => return Ok(receipt),
                Err(e @ StoreError::Conflict { .. }) => return Err(e),
                Err(e) if attempt >= policy.attempts.max(1) => return Err(e),
                Err(e) => {
                    let delay = policy.delay(attempt);
                    tracing::warn!(key = %object.key, attempt, retry_in_ms = delay.as_millis() as u64, error = %e, "upload attempt failed");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn try_put(
        &self,
        object: &ObjectGrant,
        bytes: &[u8],
        ours: &str,
    ) -> Result<crate::Receipt, StoreError> {
        let receipt = |sha256: String, created| crate::Receipt {
            key: object.key.clone(),
            sha256,
            size: bytes.len(),
            created,
        };
        let existing = |got: String| {
            if got == ours {
                Ok(receipt(got, false))
            } else {
                Err(StoreError::Conflict {
                    key: object.key.clone(),
                    existing: got,
                    ours: ours.to_string(),
                })
            }
        };
        // Checked first as well as by the conditional put: some S3-compatible servers ignore
        // If-None-Match, and an object must never be overwritten.
        if let Answer::Ok(body) = self.get(object).await? {
            return existing(sha256_hex(&body));
        }
        let response = self
            .http
            .put(&object.put)
            .header(http::header::IF_NONE_MATCH, "*")
            .header(http::header::CONTENT_TYPE, &object.content_type)
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(|e| http_error(&object.key, "PUT", &e))?;
        match response.status().as_u16() {
            200..=299 => {}
            409 | 412 => {
                let Answer::Ok(body) = self.get(object).await? else {
                    return Err(StoreError::Http {
                        key: object.key.clone(),
                        reason: "the store refused the create and the object cannot be read".into(),
                    });
                };
                return existing(sha256_hex(&body));
            }
            status => {
                return Err(StoreError::Http {
                    key: object.key.clone(),
                    reason: format!("PUT answered HTTP {status}"),
                });
            }
        }
        let Answer::Ok(body) = self.get(object).await? else {
            return Err(StoreError::Http {
                key: object.key.clone(),
                reason: "stored, but not readable back".into(),
            });
        };
        let got = sha256_hex(&body);
        if got != ours {
            return Err(StoreError::Corrupted {
                key: object.key.clone(),
                expected: ours.to_string(),
                got,
            });
        }
        Ok(receipt(got, true))
    }

    async fn get(&self, object: &ObjectGrant) -> Result<Answer, StoreError> {
        let response = self
            .http
            .get(&object.get)
            .send()
            .await
            .map_err(|e| http_error(&object.key, "GET", &e))?;
        match response.status().as_u16() {
            200 => {
                let body = response
                    .bytes()
                    .await
                    .map_err(|e| http_error(&object.key, "GET", &e))?;
                Ok(Answer::Ok(body))
            }
            404 => Ok(Answer::Missing),
            412 => Ok(Answer::Exists),
            status => Err(StoreError::Http {
                key: object.key.clone(),
                reason: format!("GET answered HTTP {status}"),
            }),
        }
    }
}

/// A transport error without the URL (reqwest's message includes it, signature and all).
fn http_error(key: &str, method: &str, e: &reqwest::Error) -> StoreError {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    StoreError::Http {
        key: key.to_string(),
        reason: format!("{method} {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> UploadGrant {
        UploadGrant {
            store: "s3://bucket/scans".into(),
            expires: "2026-12-07T13:00:00Z".into(),
            objects: BTreeMap::from([(
                "hdf.json".to_string(),
                ObjectGrant {
                    key: "scans/ns/web/20261207T120000Z-abc123/hdf.json".into(),
                    content_type: "application/json".into(),
                    put: "https://s3.test/bucket/k?X-Amz-Signature=secret".into(),
                    get: "https://s3.test/bucket/k?X-Amz-Signature=secret2".into(),
                },
            )]),
        }
    }

    #[test]
    fn grants_round_trip_and_never_show_their_signatures() {
        let g = grant();
        assert_eq!(UploadGrant::parse(&g.to_json(), "env").unwrap(), g);
        let shown = format!("{g:?}");
        assert!(!shown.contains("Signature"), "{shown}");
        let err = g.object("metadata.json").unwrap_err().to_string();
        assert!(
            err.contains("no presigned upload for metadata.json"),
            "{err}"
        );
        let bad = UploadGrant::parse("{\"store\": \"https://x?X-Amz-Signature=s\"", "env")
            .unwrap_err()
            .to_string();
        assert!(bad.starts_with("env: not an upload grant"), "{bad}");
        assert!(!bad.contains("Signature"), "{bad}");
    }

    #[tokio::test]
    async fn a_local_store_cannot_presign() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::from_directory_path(dir.path())
            .unwrap()
            .to_string();
        let store = crate::open(&url).unwrap();
        let err = store
            .presign_run(
                &[("hdf.json", "k".into(), "application/json")],
                Duration::from_secs(60),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("need an s3:// store"), "{err}");
    }
}
