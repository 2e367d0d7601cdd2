//! The previous run and the audit listing against the real S3 server (SeaweedFS; `scripts/dev-s3`):
//! the window search finds a recent run in one list request, passes over runs that never
//! finished, and falls back to the whole folder only when it must. Run with the server's
//! environment: `eval "$(scripts/dev-s3 env)"`, then `--ignored`.

use sidescan_store::{RetryPolicy, Store};
use std::time::Duration;

fn store() -> Store {
    let bucket =
        std::env::var("SIDESCAN_S3_BUCKET").expect("SIDESCAN_S3_BUCKET (scripts/dev-s3 env)");
    let unique = {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(std::time::SystemTime::now())
    };
    sidescan_store::open(&format!("s3://{bucket}/listing-tests/{unique:016x}")).unwrap()
}

async fn put(store: &Store, relative: &str) -> String {
    let key = store.full_key(relative);
    let policy = RetryPolicy {
        attempts: 2,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    store
        .put_verified(&key, b"{}", "application/json", policy)
        .await
        .unwrap();
    key
}

#[tokio::test]
#[ignore = "needs the S3 server (scripts/dev-s3)"]
async fn the_previous_run_is_found_from_the_layout_with_few_list_requests() {
    let store = store();
    let old = put(&store, "shop/web/20261001T000000Z-aaaaaa/hdf.json").await;
    let recent = put(&store, "shop/web/20261124T000000Z-bbbbbb/hdf.json").await;
    // Later, but never finished: no hdf.json.
    put(&store, "shop/web/20261125T000000Z-cccccc/metadata.json").await;
    let current = put(&store, "shop/web/20261126T000000Z-dddddd/hdf.json").await;
    put(&store, "shop/web/20261127T000000Z-eeeeee/hdf.json").await;
    put(&store, "shop/webx/20261125T000000Z-ffffff/hdf.json").await;

    // Within the window: one list request (its page holds the 4 run folders from 8 days before
    // on), the unfinished run probed first.
    let found = store.latest_run_before(&current).await.unwrap();
    assert_eq!(found.key.as_deref(), Some(recent.as_str()));
    assert_eq!(
        (
            found.search,
            found.list_requests,
            found.probes,
            found.listed
        ),
        ("window", 1, 2, 4),
        "{found:?}"
    );
    // Nothing finished in the 8 days before: the whole folder.
    let found = store.latest_run_before(&recent).await.unwrap();
    assert_eq!(found.key.as_deref(), Some(old.as_str()));
    assert_eq!(
        (found.search, found.list_requests),
        ("folder", 2),
        "{found:?}"
    );
    // The first run: nothing before it.
    let found = store.latest_run_before(&old).await.unwrap();
    assert_eq!(found.key, None);

    put(&store, "audits/audit-20261126-030000-aaaaaa/audit.json").await;
    put(
        &store,
        "audits/audit-20261127-030000-bbbbbb/targets/shop/x.json",
    )
    .await;
    let audits = store.list_audits().await.unwrap();
    assert_eq!(audits.list_requests, 1);
    assert_eq!(
        audits.folders,
        [
            store.full_key("audits/audit-20261126-030000-aaaaaa/"),
            store.full_key("audits/audit-20261127-030000-bbbbbb/"),
        ]
    );
}
