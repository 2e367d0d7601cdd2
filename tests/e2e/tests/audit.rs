//! Batch audits end to end on the local cluster and S3 server: the audit runner (the real binary,
//! from "a laptop" with the kubeconfig) scans every container of Deployments, a StatefulSet, a
//! DaemonSet, a CronJob and a bare pod (distroless, musl and glibc images) in clones; the test
//! reads every result back from S3 itself and checks it with sidescan-eval and the real SAF CLI;
//! a Service selecting one Deployment never lists a clone; the workloads' own pods keep their UIDs
//! and restart counts; nothing of the audit is left; report.html renders in headless Chromium.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images` (this tree's
//! runner), `SIDESCAN_SAF_BIN`, chromium; see docs/dev-environment.md.

// One Chromium launcher for every report-page test.
#[path = "../../../crates/eval/tests/common/chromium.rs"]
mod chromium;

use chromium::{artifacts, run_chromium};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Pod};
use kube::api::ListParams;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use sidescan_core::audit::record::{AuditRecord, Verdict};
use sidescan_e2e::audit::{get, list, runner_bin, s3, spec_yaml, store_secret, workload_pods};
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::workloads;
use std::collections::BTreeSet;
use std::process::Command;

const THRESHOLDS: &str = "failed:\n  critical:\n    max: 0\n  high:\n    max: 0\n";

async fn fleet(client: &Client, ns: &str) {
    let v1 = workloads::cronjob_v1(client).await;
    workloads::deployment(client, ns, "web", 2, &[("app", "target-distroless")]).await;
    workloads::deployment(
        client,
        ns,
        "api",
        1,
        &[("api", "target-musl"), ("proxy", "target-glibc")],
    )
    .await;
    workloads::statefulset(client, ns, "db", &[("pg", "target-glibc")]).await;
    workloads::daemonset(client, ns, "agent", &[("agent", "target-musl")]).await;
    workloads::cronjob(client, ns, "nightly", &[("run", "target-distroless")], v1).await;
    workloads::bare_pod(client, ns, "debug", &[("main", "target-musl")]).await;
    workloads::service(client, ns, "web", "web").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    for (name, replicas) in [("web", 2), ("api", 1)] {
        wait_for(
            &deployments,
            name,
            "available",
            move |d: Option<&Deployment>| {
                d.and_then(|d| d.status.as_ref())
                    .and_then(|s| s.available_replicas)
                    == Some(replicas)
            },
        )
        .await;
    }
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server, images, the SAF CLI and chromium (scripts/test-all)"]
async fn an_audit_scans_every_container_and_leaves_the_workloads_alone() {
    with_temp_ns("audit", |client, ns| async move {
        let saf = std::env::var("SIDESCAN_SAF_BIN").expect("SIDESCAN_SAF_BIN: run scripts/install-saf");
        store_secret(&client, &ns).await;
        fleet(&client, &ns).await;
        let before = workload_pods(&client, &ns, "app.kubernetes.io/part-of!=sidescan").await;

        // Every address the web Service ever lists while the audit runs.
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        let watch = {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut stream = watcher(endpoints, watcher::Config::default().fields("metadata.name=web"))
                    .default_backoff()
                    .applied_objects()
                    .boxed();
                while let Some(Ok(ep)) = stream.next().await {
                    for subset in ep.subsets.iter().flatten() {
                        for a in subset.addresses.iter().flatten().chain(subset.not_ready_addresses.iter().flatten()) {
                            if let Some(name) = a.target_ref.as_ref().and_then(|r| r.name.clone()) {
                                seen.lock().unwrap().insert(name);
                            }
                        }
                    }
                }
            })
        };

        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-audit/{ns}");
        std::fs::write(dir.path().join("thresholds.yml"), THRESHOLDS).unwrap();
        let spec = spec_yaml(
            &ns,
            &prefix,
            &format!("select: {{namespaces: [{ns}]}}\nplacement: {{mode: workload-namespace}}\n\
                      thresholds: {{file: thresholds.yml}}\nconcurrency: 3\ntargetDeadlineSeconds: 90\n"),
        );
        std::fs::write(dir.path().join("audit.yaml"), spec).unwrap();
        // Async, so the Endpoints watch above keeps running during the audit.
        let out = tokio::process::Command::new(runner_bin())
            .args(["audit", "--spec"])
            .arg(dir.path().join("audit.yaml"))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!("{stdout}\n{stderr}");
        let audit_id = stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("audit "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no audit id in: {stdout}"))
            .to_string();
        watch.abort();

        // audit.json, read back by the test: every container, each with its results.
        let s3 = s3();
        let folder = format!("{prefix}/audits/{audit_id}");
        let audit: AuditRecord =
            serde_json::from_slice(&get(&s3, &format!("{folder}/audit.json")).await.expect("audit.json")).unwrap();
        assert_eq!(Some(audit.exit_code as i32), out.status.code(), "the exit code is the audit's");
        let ids: BTreeSet<String> = audit.targets.iter().map(|t| t.id.clone()).collect();
        let expected: BTreeSet<String> = [
            "deployment.web.app", "deployment.api.api", "deployment.api.proxy", "statefulset.db.pg",
            "daemonset.agent.agent", "cronjob.nightly.run", "pod.debug.main",
        ]
        .iter()
        .map(|s| format!("{ns}/{s}"))
        .collect();
        assert_eq!(ids, expected);
        for name in ["summary.md", "junit.xml", "report.html"] {
            assert!(get(&s3, &format!("{folder}/{name}")).await.is_some(), "{name}");
        }
        let thresholds_path = dir.path().join("thresholds.yml");
        let thresholds = sidescan_eval::threshold::parse_threshold(THRESHOLDS, "t").unwrap();
        for target in &audit.targets {
            assert_ne!(target.verdict, Verdict::NotScanned, "{}: {:?}", target.id, target.reason);
            let hdf_key = &target.result_keys["hdf.json"];
            assert!(hdf_key.starts_with(&format!("{prefix}/{ns}/")), "{hdf_key}");
            let hdf_bytes = get(&s3, hdf_key).await.expect("hdf.json");
            let hdf = sidescan_eval::hdf::parse(&hdf_bytes).unwrap();
            let summary = sidescan_eval::summary::summarize(&hdf);
            let ours = sidescan_eval::validate::validate(&summary, &thresholds).passed();
            assert_eq!(ours, target.verdict == Verdict::Passed, "{}", target.id);
            assert_eq!(Some(summary.compliance), target.compliance, "{}", target.id);
            // The real SAF CLI agrees.
            let file = dir.path().join("hdf.json");
            std::fs::write(&file, &hdf_bytes).unwrap();
            let saf_out = Command::new(&saf)
                .args(["validate", "threshold", "-i"])
                .arg(&file)
                .arg("-T")
                .arg(&thresholds_path)
                .output()
                .unwrap();
            assert_eq!(saf_out.status.success(), ours, "saf on {}: {}", target.id, String::from_utf8_lossy(&saf_out.stderr));
            let metadata: serde_json::Value =
                serde_json::from_slice(&get(&s3, &target.result_keys["metadata.json"]).await.unwrap()).unwrap();
            assert_eq!(metadata["audit"]["audit_id"], audit_id.as_str());
            assert_eq!(metadata["audit"]["container"], target.container.as_str());
            assert!(target.image_digest.is_some(), "{}", target.id);
        }
        // glibc has a shell: its target fails; distroless has none.
        let verdict = |id: &str| audit.targets.iter().find(|t| t.id.ends_with(id)).unwrap().verdict;
        assert_eq!(verdict("deployment.web.app"), Verdict::Passed);

        // Nothing selected a clone, nothing of the workloads changed, nothing is left.
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty(), "the Service listed the web pods");
        assert!(seen.iter().all(|n| n.starts_with("web-")), "{seen:?}");
        assert_eq!(workload_pods(&client, &ns, "app.kubernetes.io/part-of!=sidescan").await, before, "the workloads' pods were touched");
        let sel = format!("sidescan.io/audit-id={audit_id}");
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        assert!(pods.list(&ListParams::default().labels(&sel)).await.unwrap().items.is_empty());
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        assert!(maps.list(&ListParams::default().labels(&sel)).await.unwrap().items.is_empty());
        assert!(list(&s3, &format!("{folder}/targets/")).await.len() == 7);

        // report.html from the bucket, in a real browser.
        let page = dir.path().join("report.html");
        std::fs::write(&page, get(&s3, &format!("{folder}/report.html")).await.unwrap()).unwrap();
        let url = format!("file://{}", page.display());
        let (dom, stderr) = run_chromium(&["--dump-dom"], &url);
        let html_tag = &dom[dom.find("<html").unwrap()..];
        let html_tag = &html_tag[..html_tag.find('>').unwrap()];
        assert!(html_tag.contains("data-ready=\"1\"") && !html_tag.contains("data-errors"), "script failed: {html_tag}");
        assert!(!stderr.lines().any(|l| l.contains(":CONSOLE")), "console: {stderr}");
        assert_eq!(dom.matches("<tbody class=\"target\"").count(), 7);
        let shot = artifacts().join("e2e-audit-report.png");
        run_chromium(&["--window-size=1400,1600", &format!("--screenshot={}", shot.display())], &url);
        assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));
    })
    .await;
}
