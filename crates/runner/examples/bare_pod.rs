//! The lifecycle of a bare pod of the scan pod's images, for `scripts/bench-orchestrator`: the
//! same target and scanner images, shared PID namespace and grace period, the scanner only
//! sleeping. Create until both containers have started, then delete the way the orchestrator
//! does (graceful, until the kubelet reports the containers stopped, then the object removed),
//! every wait by watching. Prints one JSON line of milliseconds.
//!
//! `cargo run -p sidescan-runner --example bare_pod -- NAMESPACE TARGET_IMAGE SCANNER_IMAGE [NAME]`
//! (`NAME`: the pod's, default `sidescan-bench-bare`, for several at once)

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use sidescan_core::Phase;
use sidescan_runner::orchestrator::cluster::{self, PodWatch};
use sidescan_runner::orchestrator::progress::{self, Progress};
use std::time::Duration;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ns, target, scanner, name) = match args.as_slice() {
        [ns, target, scanner] => (ns, target, scanner, "sidescan-bench-bare"),
        [ns, target, scanner, name] => (ns, target, scanner, name.as_str()),
        _ => anyhow::bail!("usage: bare_pod NAMESPACE TARGET_IMAGE SCANNER_IMAGE [NAME]"),
    };
    let (client, counter) = cluster::client(false).await?;
    let pods: Api<Pod> = Api::namespaced(client, ns);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "shareProcessNamespace": true,
            "hostNetwork": true,
            "automountServiceAccountToken": false,
            "terminationGracePeriodSeconds": sidescan_gen::context::SCAN_POD_GRACE_SECONDS,
            "containers": [
                {"name": "target", "image": target, "imagePullPolicy": "Never"},
                {"name": "sidescan-scanner", "image": scanner, "imagePullPolicy": "Never",
                 "command": ["/opt/sidescan/bin/sleep", "3600"]},
            ],
        },
    }))?;
    let deadline = || Instant::now() + Duration::from_secs(120);
    let mut watch = PodWatch::new(pods.clone(), name);
    watch
        .wait(
            Phase::Deploy,
            deadline(),
            120,
            |_| Some(Ok(())),
            |_| "list".into(),
        )
        .await?;
    let t0 = Instant::now();
    let created = pods.create(&PostParams::default(), &pod).await?;
    watch.follow(created);
    watch
        .wait(
            Phase::Deploy,
            deadline(),
            120,
            |p| match p.map(|p| progress::progress(p, "sidescan-scanner", "target")) {
                Some(Progress::Started) => Some(Ok(())),
                _ => None,
            },
            |_| "both containers started".into(),
        )
        .await?;
    let started = t0.elapsed();
    let t1 = Instant::now();
    let graceful =
        DeleteParams::default().grace_period(sidescan_gen::context::SCAN_POD_GRACE_SECONDS as u32);
    cluster::delete(&pods, name, &graceful).await?;
    watch
        .wait(
            Phase::Cleanup,
            deadline(),
            120,
            |p| match p {
                None => Some(Ok(())),
                Some(p) if progress::containers_stopped(p) => Some(Ok(())),
                Some(_) => None,
            },
            |_| "containers stopped".into(),
        )
        .await?;
    let stopped = t1.elapsed();
    cluster::delete(&pods, name, &DeleteParams::default().grace_period(0)).await?;
    watch
        .wait(
            Phase::Cleanup,
            deadline(),
            120,
            |p| p.is_none().then_some(Ok(())),
            |_| "gone".into(),
        )
        .await?;
    let gone = t1.elapsed();
    println!(
        "{}",
        serde_json::json!({
            "create_to_started_ms": started.as_millis() as u64,
            "delete_to_stopped_ms": stopped.as_millis() as u64,
            "delete_to_gone_ms": gone.as_millis() as u64,
            "total_ms": (started + gone).as_millis() as u64,
            "api_requests": counter.total(),
        })
    );
    Ok(())
}
