//! `sidescan-e2e-probe`: an in-cluster client for the RBAC end-to-end test. It authenticates with
//! its pod's own ServiceAccount token, verifies the API server with the mounted `ca.crt`, tries a
//! few requests and prints one JSON line with the HTTP status (and message) of each. It judges
//! nothing: the test asserts on what it prints. Exit 0 when every request got an answer, 3 when
//! the API could not be reached.
//!
//! Run in place of the scanner (`scan ...` as its arguments, the scanner's interface), it is a
//! hostile scanner for the trust-boundary test: it writes a termination message that names
//! another run's objects (`sidescan_e2e::forged`) and exits 0, so the test can show the
//! orchestrator gives exit 3, never a verdict, for results that are not its run's.

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, Config};
use serde_json::{Value, json};

/// The HTTP status of a request's outcome and the API's message; other failures (TLS, network)
/// are infrastructure errors.
fn outcome<T>(result: Result<T, kube::Error>) -> anyhow::Result<Value> {
    match result {
        Ok(_) => Ok(json!({"code": 200})),
        Err(kube::Error::Api(status)) => {
            Ok(json!({"code": status.code, "message": status.message}))
        }
        Err(e) => Err(e).context("request did not get an API answer"),
    }
}

async fn probe() -> anyhow::Result<Value> {
    let namespace = std::env::var("POD_NAMESPACE").context("POD_NAMESPACE (downward API)")?;
    let name = std::env::var("POD_NAME").context("POD_NAME (downward API)")?;
    let config = Config::incluster().context("in-cluster configuration")?;
    let server = config.cluster_url.to_string();
    let client = Client::try_from(config).context("client")?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);

    let get_own_pod = outcome(pods.get(&name).await)?;
    let get_other_pod = outcome(pods.get("not-this-pod").await)?;
    let list_pods = outcome(pods.list(&ListParams::default().limit(1)).await)?;
    // POST .../pods/<name>/exec is `create` on pods/exec; authorization answers before any
    // protocol upgrade, so a plain request is enough to see the verdict.
    let exec = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/pods/{name}/exec"))
        .create(&PostParams::default(), Vec::new())
        .context("building the exec request")?;
    let create_pod_exec = outcome(client.request_text(exec).await)?;

    Ok(json!({
        "server": server,
        "get_own_pod": get_own_pod,
        "get_other_pod": get_other_pod,
        "list_pods": list_pods,
        "create_pod_exec": create_pod_exec,
    }))
}

/// The value after `flag` in the scanner's arguments.
fn flag(args: &[String], flag: &str) -> String {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default()
}

/// The hostile scanner: the forged message, and nothing stored.
fn forge() -> ! {
    let args: Vec<String> = std::env::args().collect();
    let store = flag(&args, "--store");
    let prefix = store
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, prefix)| prefix.trim_matches('/').to_string())
        .unwrap_or_default();
    let namespace = std::env::var("POD_NAMESPACE").unwrap_or_default();
    let message = sidescan_e2e::forged::message(
        &flag(&args, "--run-id"),
        &prefix,
        &namespace,
        &flag(&args, "--target-name"),
    );
    let path = "/dev/termination-log";
    if let Err(e) = std::fs::write(path, message) {
        eprintln!("sidescan-e2e-probe: {path}: {e}");
        std::process::exit(3);
    }
    std::process::exit(0);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("scan") {
        forge();
    }
    match probe().await {
        Ok(report) => println!("{report}"),
        Err(e) => {
            eprintln!("sidescan-e2e-probe: {e:#}");
            std::process::exit(3);
        }
    }
}
