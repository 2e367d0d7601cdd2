//! End-to-end tests against the local S3 server: `scripts/dev-s3 up`, then
//! `eval "$(scripts/dev-s3 env)"`. Every store gets an explicit endpoint and credentials.

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sidescan_e2e::env::{S3_HINT, required};

fn store(secret: &str) -> AmazonS3 {
    AmazonS3Builder::new()
        .with_endpoint(required("AWS_ENDPOINT_URL", S3_HINT))
        .with_region(required("AWS_REGION", S3_HINT))
        .with_bucket_name(required("SIDESCAN_S3_BUCKET", S3_HINT))
        .with_access_key_id(required("AWS_ACCESS_KEY_ID", S3_HINT))
        .with_secret_access_key(secret)
        .with_allow_http(true)
        .build()
        .expect("an S3 store from the dev-s3 variables")
}

#[tokio::test]
#[ignore = "needs the S3 server: scripts/dev-s3 up"]
async fn object_round_trip_through_the_s3_server() {
    let s3 = store(&required("AWS_SECRET_ACCESS_KEY", S3_HINT));
    let prefix = format!("e2e/{:016x}", rand::random::<u64>());
    let key = Path::from(format!("{prefix}/hdf.json"));
    let body = format!("{{\"profiles\":[],\"nonce\":\"{prefix}\"}}").into_bytes();

    s3.put(&key, PutPayload::from(body.clone()))
        .await
        .expect("put");
    let got = s3
        .get(&key)
        .await
        .expect("get")
        .bytes()
        .await
        .expect("read body");
    assert_eq!(got.as_ref(), body.as_slice());
    let meta = s3.head(&key).await.expect("head");
    assert_eq!(meta.size, body.len() as u64);
    let listed: Vec<_> =
        futures::TryStreamExt::try_collect(s3.list(Some(&Path::from(prefix.as_str()))))
            .await
            .expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|m| m.location.clone())
            .collect::<Vec<_>>(),
        vec![key.clone()]
    );

    s3.delete(&key).await.expect("delete");
    assert!(
        matches!(
            s3.get(&key).await,
            Err(object_store::Error::NotFound { .. })
        ),
        "object still there after delete"
    );
}

#[tokio::test]
#[ignore = "needs the S3 server: scripts/dev-s3 up"]
async fn s3_server_refuses_a_wrong_secret() {
    let s3 = store("not-the-secret");
    let key = Path::from(format!("e2e/{:016x}/refused", rand::random::<u64>()));
    let err = s3
        .put(&key, PutPayload::from_static(b"x"))
        .await
        .expect_err("a request signed with a wrong secret must be refused");
    let text = err.to_string();
    assert!(
        text.contains("403")
            || text.contains("SignatureDoesNotMatch")
            || text.contains("AccessDenied"),
        "{text}"
    );
}
