//! What changed since the last results, end to end on the local cluster and S3 server, with the
//! runner built from this tree:
//!
//! - two audits of a workload whose start changes between them (`target.run: entrypoint`: the
//!   Deployment's own command, in the scanner image, which has busybox, creates a private key in
//!   the first version and a setuid file in the second): `sidescan-eval diff` and the audit's
//!   delta name exactly those two controls and paths, `--fail-on-new` exits 1 on the change and 0
//!   when nothing new fails, and a listener in the test gets the webhook with the new failure;
//! - a webhook that is down: the audit's exit code is the one it would have been, the failure is
//!   recorded;
//! - three audits: report.html draws each target's trend (three points) in headless Chromium;
//! - `sidescan-runner scan --fail-on-new`: the first run (no earlier one) fails, the second
//!   passes although its thresholds are not met, and evaluation.json records the baseline.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`, chromium.

#[path = "../../../crates/eval/tests/common/chromium.rs"]
mod chromium;

use chromium::{artifacts, run_chromium};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use sidescan_core::audit::record::AuditRecord;
use sidescan_e2e::audit::{eval_bin, get, runner_bin, s3, spec_yaml, store_secret};
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{wait_for, with_temp_ns};
use sidescan_e2e::workloads;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "SIDESCAN-KEY-001";
const SETID: &str = "SIDESCAN-FS-003";
const KEY_PATH: &str = "/srv/app.key";
const SETID_PATH: &str = "/usr/local/bin/helper";
/// The part of the webhook URL that stands for its secret: never in any output.
const SECRET: &str = "s3cr3t-T0K3N";

/// The workload's command: busybox from the scanner image, files made at start, then it waits.
fn command(script: &str) -> Value {
    json!([
        "/opt/sidescan/bin/busybox",
        "sh",
        "-c",
        format!("export PATH=/opt/sidescan/bin; {script}; exec sleep 86400")
    ])
}

/// Version 1 leaves a private key in the image's file system.
fn with_key() -> Value {
    command(&format!(
        "mkdir -p /srv && printf '%s\\n' '-----BEGIN PRIVATE KEY-----' \
         'MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA' '-----END PRIVATE KEY-----' > {KEY_PATH}"
    ))
}

/// Version 2 has no key but a setuid file.
fn with_setuid() -> Value {
    command(&format!(
        "mkdir -p /usr/local/bin && : > {SETID_PATH} && chmod 4755 {SETID_PATH}"
    ))
}

async fn web_deployment(client: &Client, ns: &str, command: Value) {
    let mut template = workloads::template("web", &[("app", "scanner")]);
    template["spec"]["containers"][0]["command"] = command;
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }))
    .unwrap();
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    api.create(&PostParams::default(), &d).await.unwrap();
    wait_available(&api, "web").await;
}

async fn wait_available(api: &Api<Deployment>, name: &str) {
    wait_for(api, name, "available", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
            s.available_replicas == Some(1)
                && s.updated_replicas == Some(1)
                && s.replicas == Some(1)
                && s.observed_generation.is_some()
                && d.and_then(|d| d.metadata.generation) == s.observed_generation
        })
    })
    .await;
}

/// What one `sidescan-runner audit` did.
struct Audit {
    code: i32,
    stdout: String,
    stderr: String,
    record: AuditRecord,
    folder: String,
}

async fn audit(dir: &Path, name: &str, spec: &str, args: &[&str], prefix: &str) -> Audit {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, spec).unwrap();
    let out = tokio::process::Command::new(runner_bin())
        .args(["audit", "--spec"])
        .arg(&path)
        .args(args)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!(
        "--- audit {name}: exit {:?}\n{stdout}\n{stderr}",
        out.status.code()
    );
    let id = stdout
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("audit "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no audit id in: {stdout}"))
        .to_string();
    let folder = format!("{prefix}/audits/{id}");
    let bytes = get(&s3(), &format!("{folder}/audit.json"))
        .await
        .unwrap_or_else(|| panic!("{folder}/audit.json not stored"));
    Audit {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr,
        record: serde_json::from_slice(&bytes).unwrap(),
        folder,
    }
}

/// A webhook receiver on loopback: every request's path and JSON body.
struct Listener {
    port: u16,
    got: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn start() -> Listener {
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let got = got.clone();
            tokio::spawn(async move {
                while let Ok((mut conn, _)) = socket.accept().await {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Headers, then Content-Length bytes of body.
                    let (head_end, length) = loop {
                        let n = conn.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break (None, 0);
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (Some(i + 4), length);
                        }
                    };
                    let Some(start) = head_end else { continue };
                    while buf.len() < start + length {
                        let n = conn.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let line = String::from_utf8_lossy(&buf[..start]).into_owned();
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let body = serde_json::from_slice(&buf[start..(start + length).min(buf.len())])
                        .unwrap_or(Value::Null);
                    got.lock().unwrap().push((path, body));
                    let _ = conn
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        )
                        .await;
                }
            })
        };
        Listener { port, got, task }
    }

    fn received(&self) -> Vec<(String, Value)> {
        self.got.lock().unwrap().clone()
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn webhook(port: u16, format: &str) -> String {
    format!(
        "notify: {{webhook: {{url: 'http://127.0.0.1:{port}/hooks/T000/{SECRET}', format: {format}}}}}\n"
    )
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|c| {
            c.get("id")
                .or_else(|| c.get("control").and_then(|c| c.get("id")))
                .unwrap_or(c)
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn two_audits_of_a_changed_workload_name_exactly_the_changed_controls_and_gate_on_them() {
    with_temp_ns("history", |client, ns| async move {
        store_secret(&client, &ns).await;
        web_deployment(&client, &ns, with_key()).await;
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-history/{ns}");
        let listener = Listener::start().await;
        let base = format!(
            "select: {{namespaces: [{ns}]}}\ntarget: {{run: entrypoint}}\nconcurrency: 1\n\
             targetDeadlineSeconds: 120\n"
        );
        let spec = spec_yaml(
            &ns,
            &prefix,
            &format!("{base}{}", webhook(listener.port, "json")),
        );
        let target = format!("{ns}/deployment.web.app");

        // 1. The first audit: nothing earlier, so every failure is new (and the key fails).
        let first = audit(dir.path(), "first", &spec, &["--fail-on-new"], &prefix).await;
        assert_eq!(first.code, 1, "no earlier run: every failure is new");
        let t1 = first
            .record
            .targets
            .iter()
            .find(|t| t.id == target)
            .expect("web audited");
        let c1 = t1.baseline.as_ref().expect("compared");
        assert_eq!(c1.key, None);
        assert!(
            c1.note
                .as_deref()
                .unwrap()
                .contains("every failure counts as new"),
            "{c1:?}"
        );
        assert!(
            c1.delta.new_failures.iter().any(|f| f.control == KEY),
            "{c1:?}"
        );
        assert!(
            first.stdout.contains("1 without an earlier run"),
            "{}",
            first.stdout
        );
        let k1 = t1.result_keys["hdf.json"].clone();
        assert_eq!(
            listener.received().len(),
            1,
            "the first audit's new failures were sent"
        );

        // 2. The workload changes: no key, a setuid file.
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        deployments
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "app", "command": with_setuid()}]}}}})),
            )
            .await
            .unwrap();
        wait_available(&deployments, "web").await;
        let second = audit(dir.path(), "second", &spec, &["--fail-on-new"], &prefix).await;
        assert_eq!(second.code, 1, "the setuid file newly fails");
        assert_eq!(second.record.exit_code, 1);
        let t2 = second
            .record
            .targets
            .iter()
            .find(|t| t.id == target)
            .unwrap();
        let k2 = t2.result_keys["hdf.json"].clone();
        let c2 = t2.baseline.as_ref().expect("compared");
        assert_eq!(
            c2.key.as_deref(),
            Some(k1.as_str()),
            "compared with the first audit's run"
        );
        let d = &c2.delta;
        assert_eq!(d.newly_failed, [SETID]);
        assert_eq!(d.fixed, [KEY]);
        assert!(d.new.is_empty() && d.removed.is_empty(), "{d:?}");
        let mut changes: Vec<(String, Vec<String>, Vec<String>)> = d
            .findings
            .iter()
            .map(|f| (f.control.clone(), f.added.clone(), f.removed.clone()))
            .collect();
        changes.sort();
        assert_eq!(
            changes,
            [
                (SETID.to_string(), vec![SETID_PATH.to_string()], vec![]),
                (KEY.to_string(), vec![], vec![KEY_PATH.to_string()]),
            ]
        );
        assert_eq!(d.new_failures.len(), 1);
        assert_eq!(d.new_failures[0].control, SETID);
        assert_eq!(d.new_failures[0].findings, [SETID_PATH]);
        let h = second.record.history.as_ref().unwrap();
        assert_eq!((h.totals.new_failures, h.totals.fixed), (1, 1));

        // The webhook got exactly the new failure.
        let received = listener.received();
        assert_eq!(received.len(), 2, "{received:?}");
        let (path, body) = &received[1];
        assert_eq!(path, &format!("/hooks/T000/{SECRET}"));
        assert_eq!(body["audit_id"], second.record.audit_id.as_str());
        assert_eq!(
            body["new_failures"],
            json!([{"target": target, "control": SETID,
                    "title": d.new_failures[0].title, "severity": "medium"}])
        );
        let n = h.notification.as_ref().unwrap();
        assert!(
            n.delivered && n.attempts == 1 && n.status == Some(200),
            "{n:?}"
        );
        assert_eq!(n.host, format!("127.0.0.1:{}", listener.port));
        for text in [&first.stdout, &first.stderr, &second.stdout, &second.stderr] {
            assert!(
                !text.contains(SECRET),
                "the webhook's secret was logged: {text}"
            );
        }
        let stored = get(&s3(), &format!("{}/audit.json", second.folder))
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains(SECRET));
        let summary = String::from_utf8(
            get(&s3(), &format!("{}/summary.md", second.folder))
                .await
                .unwrap(),
        )
        .unwrap();
        assert!(
            summary.contains(&format!("`{target}`: `{SETID}` (medium)")),
            "{summary}"
        );

        // sidescan-eval diff says the same, with --base latest found from the layout.
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        let out = std::process::Command::new(eval_bin())
            .args([
                "diff",
                "--base",
                "latest",
                "--input",
                &format!("s3://{bucket}/{k2}"),
                "--format",
                "json",
                "--fail-on-new",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["base"], format!("s3://{bucket}/{k1}"), "{stderr}");
        assert!(
            stderr.contains("window search") && stderr.contains("1 list request,"),
            "{stderr}"
        );
        assert_eq!(ids(&j["diff"]["newly_failed"]), [SETID]);
        assert_eq!(ids(&j["diff"]["fixed"]), [KEY]);
        for key in [
            "newly_errored",
            "other_status_changes",
            "new_controls",
            "removed_controls",
        ] {
            assert_eq!(j["diff"][key], json!([]), "{key}");
        }
        let findings: Vec<(String, Value, Value)> = j["diff"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["control"]["id"].as_str().unwrap().to_string(),
                    f["added"].clone(),
                    f["removed"].clone(),
                )
            })
            .collect();
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(
            findings.contains(&(
                SETID.into(),
                json!([{"kind": "path", "value": SETID_PATH}]),
                json!([])
            )),
            "{findings:?}"
        );
        assert!(
            findings.contains(&(
                KEY.into(),
                json!([]),
                json!([{"kind": "path", "value": KEY_PATH}])
            )),
            "{findings:?}"
        );

        // 3. Nothing changed: --fail-on-new passes and nothing is sent.
        let third = audit(dir.path(), "third", &spec, &["--fail-on-new"], &prefix).await;
        assert_eq!(third.code, 0, "nothing newly fails");
        let t3 = third
            .record
            .targets
            .iter()
            .find(|t| t.id == target)
            .unwrap();
        let c3 = t3.baseline.as_ref().unwrap();
        assert_eq!(c3.key.as_deref(), Some(k2.as_str()));
        assert!(
            c3.delta.new_failures.is_empty() && c3.delta.newly_failed.is_empty(),
            "{c3:?}"
        );
        assert!(
            third
                .record
                .history
                .as_ref()
                .unwrap()
                .notification
                .is_none()
        );
        assert_eq!(
            listener.received().len(),
            2,
            "no webhook without new failures"
        );
        // The trend of the third audit holds the three.
        let trend: Vec<&str> = t3.trend.iter().map(|p| p.audit_id.as_str()).collect();
        assert_eq!(
            trend,
            [
                first.record.audit_id.as_str(),
                second.record.audit_id.as_str(),
                third.record.audit_id.as_str()
            ]
        );
        listener.task.abort();
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn a_webhook_that_is_down_leaves_the_exit_code_alone() {
    with_temp_ns("histhook", |client, ns| async move {
        store_secret(&client, &ns).await;
        workloads::deployment(&client, &ns, "api", 1, &[("proxy", "target-glibc")]).await;
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-history/{ns}");
        let port = closed_port();
        let spec = spec_yaml(
            &ns,
            &prefix,
            &format!(
                "select: {{namespaces: [{ns}]}}\ntargetDeadlineSeconds: 120\n{}",
                webhook(port, "slack")
            ),
        );
        // No thresholds, no gate: the audit passes, whatever the webhook does.
        let ran = audit(dir.path(), "down", &spec, &[], &prefix).await;
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert_eq!(ran.record.exit_code, 0);
        let h = ran.record.history.as_ref().unwrap();
        let n = h.notification.as_ref().expect("the webhook was tried");
        assert!(!n.delivered, "{n:?}");
        assert_eq!(n.attempts, 3);
        assert_eq!(n.host, format!("127.0.0.1:{port}"));
        assert_eq!(n.format, "slack");
        assert!(n.new_failures > 0, "a first audit: every failure is new");
        assert!(
            ran.stderr.contains(&format!(
                "webhook 127.0.0.1:{port} (slack): not delivered after 3 attempts"
            )),
            "{}",
            ran.stderr
        );
        assert!(!ran.stderr.contains(SECRET) && !ran.stdout.contains(SECRET));
        let stored = get(&s3(), &format!("{}/audit.json", ran.folder))
            .await
            .unwrap();
        assert!(!String::from_utf8_lossy(&stored).contains(SECRET));
        // Same again with --fail-on-new: 1 from the gate (every failure is new), not from the
        // webhook.
        let gated = audit(
            dir.path(),
            "gated",
            &spec_yaml(
                &ns,
                &format!("{prefix}/gated"),
                &format!(
                    "select: {{namespaces: [{ns}]}}\ntargetDeadlineSeconds: 120\n{}",
                    webhook(port, "slack")
                ),
            ),
            &["--fail-on-new"],
            &format!("{prefix}/gated"),
        )
        .await;
        assert_eq!(gated.code, 1);
        assert!(
            !gated
                .record
                .history
                .as_ref()
                .unwrap()
                .notification
                .as_ref()
                .unwrap()
                .delivered
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server, images and chromium (scripts/test-all)"]
async fn three_audits_draw_each_targets_trend_in_report_html() {
    with_temp_ns("histtrend", |client, ns| async move {
        store_secret(&client, &ns).await;
        workloads::deployment(&client, &ns, "web", 1, &[("app", "target-distroless")]).await;
        workloads::deployment(&client, &ns, "api", 1, &[("api", "target-musl")]).await;
        let dir = tempfile::tempdir().unwrap();
        let prefix = format!("e2e-history/{ns}");
        let spec = spec_yaml(
            &ns,
            &prefix,
            &format!("select: {{namespaces: [{ns}]}}\ntargetDeadlineSeconds: 120\n"),
        );
        let mut last = None;
        for name in ["one", "two", "three"] {
            let ran = audit(dir.path(), name, &spec, &["--trend", "10"], &prefix).await;
            assert_eq!(ran.code, 0, "{}", ran.stderr);
            last = Some(ran);
        }
        let last = last.unwrap();
        assert_eq!(last.record.targets.len(), 2);
        for t in &last.record.targets {
            assert_eq!(t.trend.len(), 3, "{}: {:?}", t.id, t.trend);
        }
        assert_eq!(last.record.history.as_ref().unwrap().trend_audits.len(), 2);

        let page = dir.path().join("report.html");
        std::fs::write(
            &page,
            get(&s3(), &format!("{}/report.html", last.folder))
                .await
                .unwrap(),
        )
        .unwrap();
        let url = format!("file://{}", page.display());
        let (dom, stderr) = run_chromium(&["--dump-dom"], &url);
        let html_tag = &dom[dom.find("<html").unwrap()..];
        let html_tag = &html_tag[..html_tag.find('>').unwrap()];
        assert!(
            html_tag.contains("data-ready=\"1\"") && !html_tag.contains("data-errors"),
            "script failed: {html_tag}"
        );
        assert!(
            !stderr.lines().any(|l| l.contains(":CONSOLE")),
            "console: {stderr}"
        );
        let svgs: Vec<&str> = dom
            .split("<svg class=\"trend\"")
            .skip(1)
            .map(|s| &s[..s.find("</svg>").unwrap()])
            .collect();
        assert_eq!(svgs.len(), 2, "one trend per target");
        for svg in svgs {
            assert!(svg.contains("data-points=\"3\""), "{svg}");
            assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
            assert!(svg.contains("<polyline"), "{svg}");
        }
        let shot = artifacts().join("e2e-history-trend.png");
        let _ = std::fs::remove_file(&shot);
        run_chromium(
            &[
                "--window-size=1600,1000",
                &format!("--screenshot={}", shot.display()),
            ],
            &url,
        );
        assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));
        eprintln!("screenshot: {}", shot.display());
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn a_scan_with_fail_on_new_fails_first_then_passes_against_its_previous_run() {
    with_temp_ns("histscan", |client, ns| async move {
        let access = required("AWS_ACCESS_KEY_ID", S3_HINT);
        let secret = required("AWS_SECRET_ACCESS_KEY", S3_HINT);
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        sidescan_e2e::scan::create_store_secret(&client, &ns, &access, &secret).await;
        let store = format!("s3://{bucket}/e2e-history-scan");
        let scan = |report: &'static str| {
            let dir = std::env::temp_dir();
            let ns = ns.clone();
            let store = store.clone();
            async move {
                let report = dir.join(format!("{ns}-{report}.json"));
                let out = tokio::process::Command::new(runner_bin())
                    .arg("scan")
                    .arg("--values")
                    .arg(sidescan_e2e::scan::dev_values())
                    .args([
                        "--namespace",
                        &ns,
                        "--pod-name",
                        "hist",
                        "--profile",
                        "builtin",
                        "--store",
                        &store,
                        "--fail-on-new",
                    ])
                    .arg("--report-json")
                    .arg(&report)
                    .output()
                    .await
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
                eprintln!(
                    "--- scan: exit {:?}\n{stdout}\n{}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                );
                let json: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
                let _ = std::fs::remove_file(&report);
                (out.status.code(), stdout, json)
            }
        };
        // The glibc target fails the gate.yml thresholds; with --fail-on-new only new failures
        // count.
        let (code, stdout, first) = scan("first").await;
        assert_eq!(code, Some(1), "no earlier run: every failure is new");
        assert!(stdout.contains("baseline: none ("), "{stdout}");
        assert_eq!(first["gate"], "new-failures");
        assert_eq!(first["baseline"]["key"], Value::Null);
        let hdf1 = first["hdf_url"].as_str().unwrap().to_string();
        let (code, stdout, second) = scan("second").await;
        assert_eq!(code, Some(0), "nothing newly fails: {stdout}");
        assert_eq!(
            second["thresholds"]["passed"], false,
            "the thresholds are still not met"
        );
        let key1 = hdf1.strip_prefix(&format!("s3://{bucket}/")).unwrap();
        assert_eq!(second["baseline"]["key"], key1);
        // evaluation.json in the store records the same.
        let hdf2 = second["hdf_url"].as_str().unwrap();
        let eval_key = hdf2
            .strip_prefix(&format!("s3://{bucket}/"))
            .unwrap()
            .replace("hdf.json", "evaluation.json");
        let evaluation: Value =
            serde_json::from_slice(&get(&s3(), &eval_key).await.unwrap()).unwrap();
        assert_eq!(evaluation["verdict"], "no-new-failures");
        assert_eq!(evaluation["gate"], "new-failures");
        assert_eq!(evaluation["baseline"]["requested"], "latest");
        assert_eq!(evaluation["baseline"]["key"], key1);
        assert_eq!(evaluation["baseline"]["new_failures"], false);
        assert_eq!(evaluation["baseline"]["delta"]["counts"]["new_failures"], 0);
        assert_eq!(evaluation["thresholds"]["passed"], false);
    })
    .await;
}
