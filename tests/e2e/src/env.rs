//! The environment the tests run in. A test that needs a service fails (never silently passes)
//! when the service's variables are missing.

/// How to get the cluster variables.
pub const CLUSTER_HINT: &str =
    "start the cluster with `scripts/dev-cluster up`, then `eval \"$(scripts/dev-cluster env)\"`";
/// How to get the S3 variables.
pub const S3_HINT: &str =
    "start the S3 server with `scripts/dev-s3 up`, then `eval \"$(scripts/dev-s3 env)\"`";

/// The value of `name`; panics (failing the test) with `hint` when it is unset or empty.
pub fn required(name: &str, hint: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!("{name} is not set: {hint}"),
    }
}

/// `SIDESCAN_E2E_KEEP=1` keeps each test's namespace for inspection.
pub fn keep_namespaces() -> bool {
    std::env::var("SIDESCAN_E2E_KEEP").is_ok_and(|v| v == "1")
}

/// The name of an image that `scripts/build-images` imports into the cluster.
pub fn image(name: &str) -> String {
    format!("localhost/sidescan-{name}:dev")
}
