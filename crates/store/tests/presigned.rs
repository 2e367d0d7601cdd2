//! Presigned uploads against the real S3 server (SeaweedFS, SigV4 enforced; `scripts/dev-s3`):
//! the grant stores each object once, never overwrites, and reaches nothing but its own objects.
//! Run with the server's environment: `eval "$(scripts/dev-s3 env)"`, then `--ignored`.

use sidescan_store::{PresignedClient, RetryPolicy, StoreError};
use std::time::Duration;

fn bucket_url() -> String {
    let bucket =
        std::env::var("SIDESCAN_S3_BUCKET").expect("SIDESCAN_S3_BUCKET (scripts/dev-s3 env)");
    format!("s3://{bucket}/presign-tests")
}

fn unique() -> String {
    format!("{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    }
}

#[tokio::test]
#[ignore = "needs the S3 server (scripts/dev-s3)"]
async fn a_grant_stores_once_never_overwrites_and_reaches_only_its_objects() {
    let store = sidescan_store::open(&bucket_url()).unwrap();
    let run = unique();
    let key = |file: &str| store.full_key(&format!("ns/web/20261207T120000Z-{run}/{file}"));
    let grant = store
        .presign_run(
            &[
                ("hdf.json", key("hdf.json"), "application/json"),
                ("metadata.json", key("metadata.json"), "application/json"),
            ],
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    let client = PresignedClient::new().unwrap();
    let hdf = grant.object("hdf.json").unwrap();

    client.preflight(hdf).await.unwrap();
    let first = client
        .put_verified(hdf, b"{\"a\":1}", quick())
        .await
        .unwrap();
    assert!(first.created);
    // What the store holds, read with the credentials, is what was uploaded.
    let stored = store.get_bytes(&hdf.key).await.unwrap();
    assert_eq!(&stored[..], b"{\"a\":1}");
    // The same bytes again: stored already, not rewritten.
    let again = client
        .put_verified(hdf, b"{\"a\":1}", quick())
        .await
        .unwrap();
    assert!(!again.created);
    // Other bytes: a conflict, and the object is unchanged.
    let err = client
        .put_verified(hdf, b"{\"a\":2}", quick())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(&store.get_bytes(&hdf.key).await.unwrap()[..], b"{\"a\":1}");
    // Preflight now sees the object.
    assert!(client.preflight(hdf).await.is_err());

    let http = reqwest::Client::new();
    // The PUT without the signed If-None-Match header is refused (the grant is create-only).
    let plain = http
        .put(&grant.object("metadata.json").unwrap().put)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status().as_u16(), 403, "a PUT without If-None-Match");
    // The grant's signature does not reach another key of the bucket.
    let other = grant.object("metadata.json").unwrap().put.replace(
        &format!("{run}/metadata.json"),
        &format!("{run}/other.json"),
    );
    let forged = http
        .put(other)
        .header("if-none-match", "*")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403, "a PUT to another key");
    let listed = store
        .get_bytes(&key("other.json"))
        .await
        .expect_err("nothing was written at the other key");
    assert!(listed.to_string().contains("other.json"));
}

#[tokio::test]
#[ignore = "needs the S3 server (scripts/dev-s3)"]
async fn an_expired_grant_is_refused() {
    let store = sidescan_store::open(&bucket_url()).unwrap();
    let key = store.full_key(&format!("expiry/{}/hdf.json", unique()));
    let grant = store
        .presign_run(
            &[("hdf.json", key, "application/json")],
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let client = PresignedClient::new().unwrap();
    let err = client
        .put_verified(grant.object("hdf.json").unwrap(), b"{}", quick())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(
        !err.contains("Signature"),
        "the message must not carry the URL: {err}"
    );
}
