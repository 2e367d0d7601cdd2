//! A real Prometheus (Debian's) on loopback for the exporter tests: started with a scrape config
//! and rule files of the test's, queried through its HTTP API; `promtool` for the checks; the
//! exporter (`sidescan-runner exporter`, this tree's binary) on the host. Every wait polls a real
//! condition until a deadline; processes are killed when dropped.

use crate::env::required;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How to get the Prometheus variables.
pub const PROMETHEUS_HINT: &str =
    "install Prometheus with `eval \"$(scripts/install-prometheus)\"`";

/// `SIDESCAN_PROMETHEUS`.
pub fn prometheus_bin() -> PathBuf {
    PathBuf::from(required("SIDESCAN_PROMETHEUS", PROMETHEUS_HINT))
}

/// `SIDESCAN_PROMTOOL`.
pub fn promtool_bin() -> PathBuf {
    PathBuf::from(required("SIDESCAN_PROMTOOL", PROMETHEUS_HINT))
}

/// Runs `promtool ARGS` (stdin from `input` when given) and returns (success, stdout + stderr).
pub fn promtool(args: &[&str], dir: &Path, input: Option<&[u8]>) -> (bool, String) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(promtool_bin())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    if let Some(bytes) = input {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A port on 127.0.0.1 nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET `url`: status and body.
pub async fn get(url: &str, accept: Option<&str>) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let mut request = client.get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// Polls `check` every 200 ms until it gives a value; panics naming `what` after `timeout`.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `sidescan-runner exporter` on 127.0.0.1 (a port of its choosing), reading `store_url`.
pub struct Exporter {
    pub base: String,
    _child: Child,
}

impl Exporter {
    pub async fn start(runner: &Path, store_url: &str, extra: &[&str]) -> Exporter {
        let mut child = Command::new(runner)
            .args([
                "exporter",
                "--store-url",
                store_url,
                "--listen",
                "127.0.0.1:0",
                "--refresh-seconds",
                "10",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("sidescan-runner exporter");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // "exporter: http://127.0.0.1:PORT/metrics from ... every 10 s"
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the exporter's first line")
            .unwrap()
            .unwrap_or_default();
        let base = first
            .strip_prefix("exporter: ")
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.strip_suffix("/metrics"))
            .unwrap_or_else(|| panic!("no address in the exporter's first line: {first:?}"))
            .to_string();
        // Keep reading its stdout so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Exporter {
            base,
            _child: child,
        }
    }

    /// `host:port`.
    pub fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The metrics once a refresh has served `needle` (a metric name, a label set, ...).
    pub async fn metrics_with(&self, needle: &str) -> String {
        let url = format!("{}/metrics", self.base);
        poll(
            &format!("{needle} at {url}"),
            Duration::from_secs(120),
            || async {
                match get(&url, None).await {
                    Ok((200, body)) if body.contains(needle) => Some(body),
                    _ => None,
                }
            },
        )
        .await
    }
}

/// A Prometheus server on 127.0.0.1 with its own data directory.
pub struct Prometheus {
    pub base: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

/// One series of a query's result: labels and value.
pub type Series = (BTreeMap<String, String>, f64);

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`, path /metrics) every second as job
    /// `sidescan`, with `rule_files`, and waits until it is ready.
    pub async fn start(target: &str, rule_files: &[PathBuf]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("  - {}\n", p.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{}\
             scrape_configs:\n  - job_name: sidescan\n    static_configs:\n      - targets: ['{target}']\n",
            rules.concat()
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(prometheus_bin())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus");
        let ready = format!("{base}/-/ready");
        poll("Prometheus ready", Duration::from_secs(60), || async {
            matches!(get(&ready, None).await, Ok((200, _))).then_some(())
        })
        .await;
        Prometheus {
            base,
            _child: child,
            _dir: dir,
        }
    }

    /// An instant query's vector result.
    pub async fn query(&self, promql: &str) -> Vec<Series> {
        let url = format!(
            "{}/api/v1/query?query={}",
            self.base,
            percent_encode(promql)
        );
        let (status, body) = get(&url, None).await.expect("query");
        assert_eq!(status, 200, "{promql}: {body}");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        doc["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("{promql}: {body}"))
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect();
                let value = s["value"][1].as_str().unwrap().parse::<f64>().unwrap();
                (labels, value)
            })
            .collect()
    }

    /// Polls `promql` until it returns a series.
    pub async fn wait_for(&self, promql: &str) -> Vec<Series> {
        poll(
            &format!("Prometheus to return {promql}"),
            Duration::from_secs(120),
            || async {
                let got = self.query(promql).await;
                (!got.is_empty()).then_some(got)
            },
        )
        .await
    }

    /// The rules Prometheus loaded: (group, rule name, health).
    pub async fn rules(&self) -> Vec<(String, String, String)> {
        let (_, body) = get(&format!("{}/api/v1/rules", self.base), None)
            .await
            .expect("rules");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut out = Vec::new();
        for group in doc["data"]["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                out.push((
                    group["name"].as_str().unwrap_or_default().to_string(),
                    rule["name"].as_str().unwrap_or_default().to_string(),
                    rule["health"].as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        out
    }
}

/// Percent-encodes a query parameter (RFC 3986 unreserved characters pass).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
