//! The audit's webhook (`notify.webhook` in the audit spec): at the end of an audit, the new
//! failures (target, control, title, severity) as a Slack-compatible message (`text` and
//! `blocks`) or a generic JSON document. The payloads are pure functions of `audit.json`
//! ([`new_failures`], [`slack`], [`json`]); [`send`] posts with bounded retries and never fails
//! the audit: its outcome is recorded. The URL is never logged or recorded, only its host.

use serde_json::{Value, json};
use sidescan_core::audit::record::AuditRecord;
use sidescan_core::audit::{Webhook, WebhookFormat, webhook_host};
use sidescan_core::history::NotificationOutcome;
use std::time::Duration;

/// One control that newly fails in one target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub target: String,
    pub control: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub severity: String,
}

/// Every new failure of the audit, by target then in profile order.
pub fn new_failures(audit: &AuditRecord) -> Vec<Notice> {
    audit
        .targets
        .iter()
        .filter_map(|t| t.baseline.as_ref().map(|c| (t, c)))
        .flat_map(|(t, c)| {
            c.delta.new_failures.iter().map(|f| Notice {
                target: t.id.clone(),
                control: f.control.clone(),
                title: f.title.clone(),
                severity: f.severity.clone(),
            })
        })
        .collect()
}

/// Slack allows 50 blocks and 3,000 characters of section text.
const MAX_TARGET_BLOCKS: usize = 40;
const MAX_SECTION_CHARS: usize = 2900;

fn headline(audit: &AuditRecord, failures: &[Notice]) -> String {
    let targets: std::collections::BTreeSet<&str> =
        failures.iter().map(|n| n.target.as_str()).collect();
    format!(
        "sidescan audit {}{}: {} new failure{} in {} target{}",
        audit.audit_id,
        audit
            .cluster
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default(),
        failures.len(),
        if failures.len() == 1 { "" } else { "s" },
        targets.len(),
        if targets.len() == 1 { "" } else { "s" },
    )
}

/// Slack's mrkdwn escapes.
fn mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (the notification and fallback) and `blocks`: a
/// header, one section per target listing its new failures, a context line with the report.
pub fn slack(audit: &AuditRecord, report: &str, failures: &[Notice]) -> Value {
    let text = headline(audit, failures);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": sidescan_core::audit::record::bounded(&text, 150)},
    })];
    let mut by_target: Vec<(&str, Vec<&Notice>)> = Vec::new();
    for n in failures {
        match by_target.last_mut() {
            Some((t, list)) if *t == n.target => list.push(n),
            _ => by_target.push((&n.target, vec![n])),
        }
    }
    let shown = by_target.len().min(MAX_TARGET_BLOCKS);
    for (target, list) in &by_target[..shown] {
        let mut body = format!("*{}*", mrkdwn(target));
        for n in list {
            let line = format!(
                "\n• `{}` ({}) {}",
                mrkdwn(&n.control),
                mrkdwn(&n.severity),
                mrkdwn(n.title.as_deref().unwrap_or(""))
            );
            if body.len() + line.len() > MAX_SECTION_CHARS {
                body.push_str("\n…");
                break;
            }
            body.push_str(line.trim_end());
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": body}}));
    }
    let mut context = format!("Report: {}", mrkdwn(report));
    if by_target.len() > shown {
        context = format!(
            "{} more target{} with new failures. {context}",
            by_target.len() - shown,
            if by_target.len() - shown == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({"text": text, "blocks": blocks})
}

/// The generic JSON body.
pub fn json(audit: &AuditRecord, report: &str, failures: &[Notice]) -> Value {
    json!({
        "source": "sidescan",
        "event": "new-failures",
        "audit_id": audit.audit_id,
        "cluster": audit.cluster,
        "started": audit.started,
        "finished": audit.finished,
        "report": report,
        "summary": headline(audit, failures),
        "new_failures": failures,
    })
}

/// The body for `format`.
pub fn payload(
    format: WebhookFormat,
    audit: &AuditRecord,
    report: &str,
    failures: &[Notice],
) -> Value {
    match format {
        WebhookFormat::Slack => slack(audit, report, failures),
        WebhookFormat::Json => json(audit, report, failures),
    }
}

/// How hard the webhook is tried: bounded, so an audit never waits on it for long.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    /// Per request.
    pub timeout: Duration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Whether a response status is worth another attempt (server errors, throttling, timeouts).
pub fn retryable(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// Posts `body`; retried with doubling delays on connection errors and retryable statuses. The
/// outcome names the host only; errors never carry the URL.
pub async fn send(
    webhook: &Webhook,
    body: &Value,
    new_failures: u64,
    policy: SendPolicy,
) -> NotificationOutcome {
    let mut outcome = NotificationOutcome {
        host: webhook_host(&webhook.url),
        format: webhook.format.as_str().to_string(),
        delivered: false,
        attempts: 0,
        status: None,
        error: None,
        new_failures,
    };
    let client = match reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            outcome.error = Some(format!("no HTTP client: {}", e.without_url()));
            return outcome;
        }
    };
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut delay = policy.first_delay;
    loop {
        outcome.attempts += 1;
        let sent = client
            .post(&webhook.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(bytes.clone())
            .send()
            .await;
        let again = match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                outcome.status = Some(status);
                if response.status().is_success() {
                    outcome.delivered = true;
                    outcome.error = None;
                    return outcome;
                }
                outcome.error = Some(format!("HTTP {status}"));
                retryable(status)
            }
            Err(e) => {
                outcome.error = Some(error_chain(e.without_url()));
                true
            }
        };
        if !again || outcome.attempts >= policy.attempts.max(1) {
            return outcome;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
}

/// The error and its causes on one line (reqwest names the cause in its source chain), short.
fn error_chain(e: reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    let text = parts.join(": ");
    sidescan_core::audit::record::bounded(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        300,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_core::audit::record::{TargetRecord, Totals, Verdict};
    use sidescan_core::history::{Comparison, Delta, NewFailure};

    fn target(id: &str, failures: &[(&str, &str)]) -> TargetRecord {
        TargetRecord {
            baseline: Some(Comparison {
                key: Some(format!("p/{id}/20261126T030000Z-abc123/hdf.json")),
                note: None,
                delta: Delta {
                    new_failures: failures
                        .iter()
                        .map(|(c, sev)| NewFailure {
                            control: c.to_string(),
                            title: Some(format!("title <of> {c}")),
                            severity: sev.to_string(),
                            findings: vec!["/usr/local/bin/helper".into()],
                        })
                        .collect(),
                    ..Delta::default()
                },
            }),
            ..TargetRecord::new(id, Verdict::Failed)
        }
    }

    fn audit(targets: Vec<TargetRecord>) -> AuditRecord {
        AuditRecord {
            audit_id: "audit-20261126-030000-abcdef".into(),
            cluster: Some("prod".into()),
            started: "2026-11-26T03:00:00Z".into(),
            finished: "2026-11-26T03:05:00Z".into(),
            store: "s3://b/p".into(),
            settings: Default::default(),
            totals: Totals::of(&targets),
            exit_code: 1,
            warnings: vec![],
            history: None,
            api_requests: None,
            targets,
        }
    }

    const REPORT: &str = "s3://b/p/audits/audit-20261126-030000-abcdef/report.html";

    #[test]
    fn new_failures_name_target_control_title_and_severity() {
        let a = audit(vec![
            target(
                "shop/deployment.web.app",
                &[("SIDESCAN-FS-003", "medium"), ("X-1", "high")],
            ),
            target("shop/deployment.api.app", &[]),
            TargetRecord::new("shop/pod.debug.main", Verdict::NotScanned),
        ]);
        let n = new_failures(&a);
        assert_eq!(
            n.iter()
                .map(|n| (n.target.as_str(), n.control.as_str()))
                .collect::<Vec<_>>(),
            [
                ("shop/deployment.web.app", "SIDESCAN-FS-003"),
                ("shop/deployment.web.app", "X-1")
            ]
        );
        let body = json(&a, REPORT, &n);
        assert_eq!(body["event"], "new-failures");
        assert_eq!(body["cluster"], "prod");
        assert_eq!(body["report"], REPORT);
        assert_eq!(
            body["new_failures"][0],
            serde_json::json!({"target": "shop/deployment.web.app", "control": "SIDESCAN-FS-003",
                               "title": "title <of> SIDESCAN-FS-003", "severity": "medium"})
        );
        assert_eq!(
            body["summary"],
            "sidescan audit audit-20261126-030000-abcdef (prod): 2 new failures in 1 target"
        );
        assert_eq!(payload(WebhookFormat::Json, &a, REPORT, &n), body);
    }

    #[test]
    fn slack_messages_have_text_and_bounded_blocks() {
        let a = audit(vec![target(
            "shop/deployment.web.app",
            &[("SIDESCAN-FS-003", "medium")],
        )]);
        let n = new_failures(&a);
        let msg = slack(&a, REPORT, &n);
        assert_eq!(
            msg["text"],
            "sidescan audit audit-20261126-030000-abcdef (prod): 1 new failure in 1 target"
        );
        let blocks = msg["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[1]["type"], "section");
        assert_eq!(
            blocks[1]["text"]["text"],
            "*shop/deployment.web.app*\n• `SIDESCAN-FS-003` (medium) title &lt;of&gt; SIDESCAN-FS-003"
        );
        assert_eq!(blocks[2]["type"], "context");
        assert!(
            blocks[2]["elements"][0]["text"]
                .as_str()
                .unwrap()
                .ends_with("report.html")
        );
        // Many targets, many controls: within Slack's limits.
        let many: Vec<TargetRecord> = (0..60)
            .map(|i| {
                let controls: Vec<(String, &str)> =
                    (0..200).map(|c| (format!("C-{c}"), "low")).collect();
                let refs: Vec<(&str, &str)> =
                    controls.iter().map(|(c, s)| (c.as_str(), *s)).collect();
                target(&format!("ns/deployment.w{i:02}.app"), &refs)
            })
            .collect();
        let a = audit(many);
        let msg = slack(&a, REPORT, &new_failures(&a));
        let blocks = msg["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50, "{}", blocks.len());
        assert!(blocks.iter().all(|b| {
            b["text"]["text"]
                .as_str()
                .is_none_or(|t| t.chars().count() <= 3000)
        }));
        let context = blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(context.starts_with("20 more targets"), "{context}");
    }

    #[test]
    fn only_server_errors_and_throttling_are_retried() {
        assert!(retryable(500) && retryable(503) && retryable(429) && retryable(408));
        assert!(!retryable(400) && !retryable(403) && !retryable(404));
    }

    #[tokio::test]
    async fn a_webhook_that_is_down_is_an_outcome_not_an_error() {
        // A port nothing listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let webhook = Webhook {
            url: format!("http://127.0.0.1:{port}/services/T0/B0/s3cr3t"),
            format: WebhookFormat::Slack,
        };
        let outcome = send(
            &webhook,
            &serde_json::json!({"text": "x"}),
            1,
            SendPolicy {
                attempts: 2,
                first_delay: Duration::from_millis(1),
                timeout: Duration::from_secs(2),
            },
        )
        .await;
        assert!(!outcome.delivered);
        assert_eq!(outcome.attempts, 2);
        assert_eq!(outcome.host, format!("127.0.0.1:{port}"));
        let error = outcome.error.unwrap();
        assert!(!error.contains("s3cr3t"), "{error}");
    }
}
