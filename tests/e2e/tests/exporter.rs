//! The exporter with a real Prometheus: a real audit of two Deployments on the local cluster
//! (the runner from this tree, from "a laptop"), results and `metrics.prom` in the local S3
//! server; `sidescan-runner exporter` on the host reading that prefix; Debian's Prometheus on
//! 127.0.0.1 scraping it and evaluating the alerting rules of examples/prometheus. The test asks
//! Prometheus's HTTP API for each workload's compliance and compares it with `audit.json`;
//! `promtool` checks the exporter's output and the rules and runs the rules' unit tests.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images` (the scanner and
//! target images), `eval "$(scripts/install-prometheus)"`.

use sidescan_core::audit::record::{AuditRecord, Verdict};
use sidescan_e2e::audit::{get, runner_bin, spec_yaml, store_secret};
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::prometheus::{Exporter, Prometheus, poll, promtool};
use sidescan_e2e::workloads;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

const THRESHOLDS: &str = "failed:\n  critical:\n    max: 0\n  high:\n    max: 0\n";

fn examples() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/prometheus"
    ))
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server, images and Prometheus (scripts/test-all)"]
async fn prometheus_scrapes_the_exporter_and_reads_each_workloads_compliance_from_the_audit() {
    with_temp_ns("exporter", |client, ns| async move {
        store_secret(&client, &ns).await;
        // distroless passes the thresholds; glibc (a shell) fails them.
        workloads::deployment(&client, &ns, "web", 1, &[("app", "target-distroless")]).await;
        workloads::deployment(&client, &ns, "db", 1, &[("pg", "target-glibc")]).await;
        let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(client.clone(), &ns);
        for name in ["web", "db"] {
            wait_for(&deployments, name, "available", |d: Option<&k8s_openapi::api::apps::v1::Deployment>| {
                d.and_then(|d| d.status.as_ref()).and_then(|s| s.available_replicas) == Some(1)
            })
            .await;
        }

        // A real audit, from this machine with the kubeconfig.
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-exporter/{ns}");
        std::fs::write(dir.path().join("thresholds.yml"), THRESHOLDS).unwrap();
        let spec = spec_yaml(
            &ns,
            &prefix,
            &format!("select: {{namespaces: [{ns}]}}\nplacement: {{mode: workload-namespace}}\n\
                      thresholds: {{file: thresholds.yml}}\nconcurrency: 2\ntargetDeadlineSeconds: 90\n"),
        );
        std::fs::write(dir.path().join("audit.yaml"), spec).unwrap();
        let out = tokio::process::Command::new(runner_bin())
            .args(["audit", "--spec"])
            .arg(dir.path().join("audit.yaml"))
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let audit_id = stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("audit "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or_else(|| panic!("no audit id in: {stdout}"))
            .to_string();

        // audit.json and metrics.prom, read back: the file is the audit's rendering.
        let s3 = sidescan_e2e::audit::s3();
        let folder = format!("{prefix}/audits/{audit_id}");
        let audit: AuditRecord =
            serde_json::from_slice(&get(&s3, &format!("{folder}/audit.json")).await.expect("audit.json")).unwrap();
        assert_eq!(audit.targets.len(), 2, "{:?}", audit.targets);
        assert!(audit.api_requests.is_some_and(|n| n > 0), "API requests recorded");
        let stored = get(&s3, &format!("{folder}/metrics.prom")).await.expect("metrics.prom");
        assert_eq!(String::from_utf8(stored.clone()).unwrap(), sidescan_eval::metrics::audit_metrics(&audit));
        let (ok, lint) = promtool(&["check", "metrics"], dir.path(), Some(&stored));
        assert!(ok && lint.trim().is_empty(), "promtool check metrics on metrics.prom: {lint}");
        let failed: BTreeSet<String> = audit
            .targets
            .iter()
            .filter(|t| t.verdict == Verdict::Failed)
            .map(|t| t.workload.clone())
            .collect();
        assert_eq!(failed, BTreeSet::from(["db".to_string()]), "{:?}", audit.targets);

        // The exporter on the host, reading the test's prefix (list and get only).
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        let exporter = Exporter::start(&runner_bin(), &format!("s3://{bucket}/{prefix}"), &[]).await;
        let text = exporter.metrics_with("sidescan_target_compliance_ratio{").await;
        let (ok, lint) = promtool(&["check", "metrics"], dir.path(), Some(text.as_bytes()));
        assert!(ok && lint.trim().is_empty(), "promtool check metrics on /metrics: {lint}\n{text}");
        assert!(text.ends_with("# EOF\n"));
        let (status, _) = sidescan_e2e::prometheus::get(&format!("{}/healthz", exporter.base), None).await.unwrap();
        assert_eq!(status, 200);

        // Prometheus scrapes it every second and evaluates the example rules.
        let rules = examples().join("sidescan-rules.yml");
        let prometheus = Prometheus::start(exporter.address(), &[rules]).await;
        for target in &audit.targets {
            let promql = format!(
                "sidescan_target_compliance_ratio{{namespace=\"{ns}\",workload=\"{}\",container=\"{}\"}}",
                target.workload, target.container
            );
            let got = prometheus.wait_for(&promql).await;
            let expected = target.compliance.expect("scanned") as f64 / 100.0;
            eprintln!("{promql} = {} (audit.json: compliance {:?})", got[0].1, target.compliance);
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!(got[0].1, expected, "{promql}");
            assert_eq!(got[0].0["cluster"], "dev");
            assert_eq!(got[0].0["kind"], "Deployment");
            assert_eq!(got[0].0["image"], target.image);
            // The latest stored scan of the same target (its hdf.json, summarized) agrees.
            let scan = prometheus
                .wait_for(&format!(
                    "sidescan_scan_compliance_ratio{{namespace=\"{ns}\",workload=\"{}\"}}",
                    target.workload
                ))
                .await;
            assert_eq!(scan[0].1, expected, "{:?}", scan[0].0);
        }
        let up = prometheus.wait_for("up{job=\"sidescan\"}").await;
        assert_eq!(up[0].1, 1.0);
        let refreshed = prometheus.wait_for("sidescan_exporter_last_refresh_success").await;
        assert_eq!(refreshed[0].1, 1.0);
        let exit = prometheus.wait_for("sidescan_audit_exit_code").await;
        assert_eq!(exit[0].1, f64::from(audit.exit_code));

        // The rules are loaded and evaluated; the alerts that fire are the audit's failures.
        poll("every rule evaluated", Duration::from_secs(60), || async {
            let rules = prometheus.rules().await;
            (rules.len() == 8 && rules.iter().all(|(_, _, health)| health == "ok")).then_some(())
        })
        .await;
        let firing = prometheus
            .wait_for(&format!("ALERTS{{alertname=\"SidescanTargetBelowThreshold\",namespace=\"{ns}\"}}"))
            .await;
        let alerted: BTreeSet<String> = firing.iter().map(|(l, _)| l["workload"].clone()).collect();
        assert_eq!(alerted, failed);
        let audit_failed = prometheus.wait_for("ALERTS{alertname=\"SidescanAuditFailed\"}").await;
        assert_eq!(audit_failed[0].0["cluster"], "dev");
        assert_ne!(audit.exit_code, 0);
    })
    .await;
}

#[test]
#[ignore = "needs promtool (eval \"$(scripts/install-prometheus)\")"]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let dir = examples();
    let (ok, out) = promtool(&["check", "rules", "sidescan-rules.yml"], &dir, None);
    assert!(ok && out.contains("SUCCESS: 8 rules found"), "{out}");
    let (ok, out) = promtool(&["test", "rules", "sidescan-rules.test.yml"], &dir, None);
    assert!(ok && out.contains("SUCCESS"), "{out}");
    // The PrometheusRule's groups, as a rules file.
    let rule: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(dir.join("sidescan-prometheusrule.yaml")).unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("operator-rules.yml");
    std::fs::write(&file, serde_json::to_string(&rule["spec"]).unwrap()).unwrap();
    let (ok, out) = promtool(
        &["check", "rules", file.to_str().unwrap()],
        tmp.path(),
        None,
    );
    assert!(ok && out.contains("SUCCESS: 8 rules found"), "{out}");
}

fn yaml(name: &str) -> serde_json::Value {
    serde_saphyr::from_str(&std::fs::read_to_string(examples().join(name)).unwrap()).unwrap()
}

#[test]
fn the_prometheus_rule_holds_the_rules_file_and_every_metric_the_rules_use_is_served() {
    let rules = yaml("sidescan-rules.yml");
    let operator = yaml("sidescan-prometheusrule.yaml");
    assert_eq!(operator["kind"], "PrometheusRule");
    assert_eq!(operator["spec"]["groups"], rules["groups"]);

    // Every family the exporter can serve: an audit with every kind of target, a scan, health.
    let audit: AuditRecord = serde_json::from_value(serde_json::json!({
        "audit_id": "audit-20261128-101108-b5ps53", "cluster": "dev",
        "started": "2026-11-28T10:11:08Z", "finished": "2026-11-28T10:11:30Z", "store": "s3://b/p",
        "settings": {"scanner_image": "s", "backend": "builtin", "run": "hold",
                     "placement": "scan-namespace", "concurrency": 4},
        "totals": {"targets": 2, "passed": 1, "failed": 0, "not_scanned": 1},
        "exit_code": 3, "api_requests": 9,
        "targets": [
            {"id": "shop/deployment.web.app", "namespace": "shop", "kind": "Deployment", "workload": "web",
             "container": "app", "image": "i", "verdict": "passed", "compliance": 90,
             "failed_by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0},
             "attempts": 1, "duration_ms": 1},
            {"id": "shop/pod.x.app", "namespace": "shop", "kind": "Pod", "workload": "x", "container": "app",
             "image": "i", "verdict": "not-scanned", "reason": "deadline of 9 s passed", "attempts": 2,
             "duration_ms": 1},
        ],
    }))
    .unwrap();
    let scan = sidescan_eval::metrics::ScanSample {
        namespace: "shop".into(),
        target: "web".into(),
        started: 1.0,
        duration_seconds: Some(1.0),
        compliance: Some(1),
        threshold_met: Some(true),
        failed_by_severity: Some(Default::default()),
        ..Default::default()
    };
    let health = sidescan_runner::exporter::Health {
        last_success: Some(1.0),
        ..Default::default()
    };
    let mut families = sidescan_eval::metrics::audit_families(&audit, None);
    families.extend(sidescan_eval::metrics::scan_families([&scan], "dev"));
    families.extend(sidescan_runner::exporter::health_families(&health));
    let served: BTreeSet<&str> = families.iter().map(|f| f.name).collect();

    let mut used = BTreeSet::new();
    for rule in rules["groups"][0]["rules"].as_array().unwrap() {
        let expr = rule["expr"].as_str().unwrap();
        for (i, _) in expr.match_indices("sidescan_") {
            let name: String = expr[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            used.insert(name);
        }
    }
    assert!(used.len() >= 7, "{used:?}");
    for name in &used {
        assert!(
            served.contains(name.as_str()),
            "{name} is not served: {served:?}"
        );
    }
}
