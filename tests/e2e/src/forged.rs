//! A result of another run, for the trust-boundary test: what a hostile scanner (the e2e probe run
//! in the scanner's place) claims as its own run's. The test stores these bytes at these keys
//! beforehand, so an orchestrator that trusted the termination message would find them whole
//! (digests match, thresholds pass) and report a verdict.

use sidescan_core::digest::sha256_hex;

/// The other run's folder name.
pub const RUN_FOLDER: &str = "20200101T000000Z-forged0000";

/// A small HDF result every threshold of the examples passes.
pub const HDF: &str = r#"{"platforms":[{"name":"forged","release":"1"}],"version":"5.22.3","statistics":{"duration":0.1},"profiles":[{"name":"forged","version":"1","sha256":"0","title":"forged","supports":[],"attributes":[],"groups":[],"status":"loaded","controls":[{"id":"FORGED-1","title":"always passes","desc":"d","descriptions":[],"impact":0.5,"refs":[],"tags":{},"code":"","source_location":{"ref":"","line":1},"results":[{"status":"passed","code_desc":"ok","run_time":0.1,"start_time":"2020-01-01T00:00:00Z"}]}]}]}"#;

/// The other run's `metadata.json`.
pub fn metadata(namespace: &str, target: &str) -> String {
    serde_json::json!({
        "run_id": "forged0000",
        "namespace": namespace,
        "target": target,
        "started": "2020-01-01T00:00:00Z",
        "finished": "2020-01-01T00:00:01Z",
        "backend": "builtin",
    })
    .to_string()
}

/// The keys of the other run's two files under the store's `prefix`.
pub fn keys(prefix: &str, namespace: &str, target: &str) -> [(&'static str, String); 2] {
    let folder = format!("{prefix}/{namespace}/{target}/{RUN_FOLDER}");
    [
        ("hdf.json", format!("{folder}/hdf.json")),
        ("metadata.json", format!("{folder}/metadata.json")),
    ]
}

/// The termination message a hostile scanner of run `run_id` writes: this run's id, the other
/// run's objects with their true digests, outcome "stored".
pub fn message(run_id: &str, prefix: &str, namespace: &str, target: &str) -> String {
    let metadata = metadata(namespace, target);
    let objects: Vec<serde_json::Value> = keys(prefix, namespace, target)
        .iter()
        .zip([HDF.as_bytes(), metadata.as_bytes()])
        .map(|((file, key), bytes)| {
            serde_json::json!({"file": file, "key": key, "sha256": sha256_hex(bytes),
                "size": bytes.len()})
        })
        .collect();
    serde_json::json!({
        "outcome": "stored",
        "run_id": run_id,
        "backend": "builtin",
        "counts": {"passed": 1},
        "objects": objects,
    })
    .to_string()
}
