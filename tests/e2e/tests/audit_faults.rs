//! Batch audits when things go wrong, on the local cluster and S3 server: a target whose image
//! cannot be pulled and a target that exits at once are reported as not scanned with what
//! happened (after their retry), the others are scanned; an audit runner stopped by SIGTERM
//! cleans up and a SIGKILLed one leaves clones that the resumed audit removes; the resumed audit
//! skips what is stored and completes with every target, nothing lost or left behind.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::ListParams;
use kube::{Api, Client};
use sidescan_core::audit::record::{AuditRecord, Verdict};
use sidescan_e2e::audit::{get, list, runner_bin, s3, spec_yaml, store_secret};
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::workloads;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

/// `sidescan-runner audit --spec <spec> [--resume <id>]`.
fn audit_command(spec: &std::path::Path, resume: Option<&str>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(runner_bin());
    command.args(["audit", "--spec"]).arg(spec);
    if let Some(id) = resume {
        command.args(["--resume", id]);
    }
    command
}

async fn leftovers(client: &Client, ns: &str, audit_id: &str) -> usize {
    let sel = format!("sidescan.io/audit-id={audit_id}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    pods.list(&ListParams::default().labels(&sel))
        .await
        .unwrap()
        .items
        .len()
        + maps
            .list(&ListParams::default().labels(&sel))
            .await
            .unwrap()
            .items
            .len()
}

async fn available(client: &Client, ns: &str, name: &str) {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    wait_for(&deployments, name, "available", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.available_replicas)
            == Some(1)
    })
    .await;
}

fn write_spec(dir: &std::path::Path, ns: &str, prefix: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("audit.yaml");
    std::fs::write(
        &path,
        spec_yaml(
            ns,
            prefix,
            &format!("select: {{namespaces: [{ns}]}}\n{extra}"),
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn unpullable_and_exiting_targets_are_reported_and_the_rest_scanned() {
    with_temp_ns("audit-faults", |client, ns| async move {
        store_secret(&client, &ns).await;
        workloads::deployment(&client, &ns, "ok", 1, &[("app", "target-distroless")]).await;
        // An image this cluster does not have (never pulled): ErrImageNeverPull.
        workloads::bare_pod(&client, &ns, "ghost", &[("app", "target-missing")]).await;
        // A container whose command exits at once (run: entrypoint keeps the workload's command).
        let mut quitter = workloads::template("quitter", &[("app", "target-glibc")]);
        quitter["metadata"]["name"] = "quitter".into();
        quitter["spec"]["restartPolicy"] = "Never".into();
        quitter["spec"]["containers"][0]["command"] =
            serde_json::json!(["/bin/bash", "-c", "exit 0"]);
        Api::<Pod>::namespaced(client.clone(), &ns)
            .create(
                &Default::default(),
                &serde_json::from_value::<Pod>(quitter).unwrap(),
            )
            .await
            .unwrap();
        available(&client, &ns, "ok").await;

        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-audit-faults/{ns}");
        let spec = write_spec(
            dir.path(),
            &ns,
            &prefix,
            "target: {run: entrypoint}\ntargetDeadlineSeconds: 45\nretries: 1\n",
        );
        let out = audit_command(&spec, None).output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(3), "a target was not scanned");
        let audit_id = stdout.split_whitespace().nth(1).unwrap().to_string();
        let s3 = s3();
        let audit: AuditRecord = serde_json::from_slice(
            &get(&s3, &format!("{prefix}/audits/{audit_id}/audit.json"))
                .await
                .unwrap(),
        )
        .unwrap();
        let target = |w: &str| audit.targets.iter().find(|t| t.workload == w).unwrap();
        assert_ne!(
            target("ok").verdict,
            Verdict::NotScanned,
            "{:?}",
            target("ok").reason
        );
        for (workload, why) in [
            ("ghost", "ErrImageNeverPull"),
            ("quitter", "target container exited"),
        ] {
            let t = target(workload);
            assert_eq!(t.verdict, Verdict::NotScanned, "{workload}");
            assert_eq!(t.attempts, 2, "{workload}: retried once");
            let reason = t.reason.clone().unwrap_or_default();
            assert!(reason.contains(why), "{workload}: {reason}");
        }
        assert_eq!(audit.exit_code, 3);
        assert_eq!(leftovers(&client, &ns, &audit_id).await, 0);
    })
    .await;
}

/// Reads the audit's stdout until `n` targets have finished; returns the audit id.
async fn until_finished(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    n: usize,
    id: &mut Option<String>,
) {
    let mut done = 0;
    while done < n {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the audit ended early");
        eprintln!("audit: {line}");
        if id.is_none() {
            *id = line
                .strip_prefix("audit ")
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_string);
        }
        if line.starts_with("PASSED ")
            || line.starts_with("FAILED ")
            || line.starts_with("NOT SCANNED ")
        {
            done += 1;
        }
    }
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn a_killed_audit_resumes_without_losing_or_leaving_anything() {
    with_temp_ns("audit-resume", |client, ns| async move {
        store_secret(&client, &ns).await;
        let names = ["a", "b", "c", "d", "e", "f"];
        for (i, name) in names.iter().enumerate() {
            let image = ["target-distroless", "target-musl", "target-glibc"][i % 3];
            workloads::deployment(&client, &ns, name, 1, &[("app", image)]).await;
        }
        for name in names {
            available(&client, &ns, name).await;
        }
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-audit-resume/{ns}");
        let spec = write_spec(dir.path(), &ns, &prefix, "concurrency: 1\n");
        let start = |resume: Option<&str>| {
            audit_command(&spec, resume)
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        };

        // 1. SIGTERM after two targets: the runner cleans up and writes no audit files.
        let mut child = start(None);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut id = None;
        until_finished(&mut lines, 2, &mut id).await;
        let audit_id = id.clone().expect("audit id");
        let pid = child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(3), "interrupted");
        assert_eq!(
            leftovers(&client, &ns, &audit_id).await,
            0,
            "SIGTERM cleaned up"
        );
        let s3 = s3();
        let folder = format!("{prefix}/audits/{audit_id}");
        assert!(get(&s3, &format!("{folder}/audit.json")).await.is_none());
        let stored = list(&s3, &format!("{folder}/targets/")).await.len();
        assert!(stored >= 2, "progress records: {stored}");

        // 2. Resumed, then SIGKILL while a clone exists: nothing can clean up.
        let mut child = start(Some(&audit_id));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        until_finished(&mut lines, 1, &mut None).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let sel = format!("sidescan.io/audit-id={audit_id}");
        wait_for_clone(&pods, &sel).await;
        child.kill().await.unwrap();
        child.wait().await.unwrap();

        // 3. Resumed again: the leftovers are removed, the stored targets skipped, the rest done.
        let out = audit_command(&spec, Some(&audit_id))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(matches!(out.status.code(), Some(0 | 1)), "{stdout}");
        assert!(stdout.contains("resuming:"), "{stdout}");
        let audit: AuditRecord =
            serde_json::from_slice(&get(&s3, &format!("{folder}/audit.json")).await.unwrap())
                .unwrap();
        assert_eq!(audit.targets.len(), names.len());
        assert!(
            audit
                .targets
                .iter()
                .all(|t| t.verdict != Verdict::NotScanned)
        );
        assert!(
            audit.targets.iter().filter(|t| t.resumed).count() >= 3,
            "skipped what was stored"
        );
        assert_eq!(
            list(&s3, &format!("{folder}/targets/")).await.len(),
            names.len()
        );
        for t in &audit.targets {
            assert!(
                get(&s3, &t.result_keys["hdf.json"]).await.is_some(),
                "{}",
                t.id
            );
        }
        assert_eq!(leftovers(&client, &ns, &audit_id).await, 0, "nothing left");
        // A completed audit is never written again.
        let again = audit_command(&spec, Some(&audit_id))
            .output()
            .await
            .unwrap();
        assert_eq!(again.status.code(), out.status.code());
        assert!(String::from_utf8_lossy(&again.stdout).contains("was complete"));
    })
    .await;
}

/// Watches until a clone of the audit exists.
async fn wait_for_clone(pods: &Api<Pod>, selector: &str) {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let mut stream = watcher(pods.clone(), watcher::Config::default().labels(selector))
        .default_backoff()
        .applied_objects()
        .boxed();
    tokio::time::timeout(sidescan_e2e::harness::WAIT, stream.next())
        .await
        .expect("a clone within the wait")
        .expect("watch ended")
        .expect("watch failed");
}
