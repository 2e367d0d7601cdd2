//! OpenMetrics text of audits and scans: an audit's `metrics.prom` ([`audit_metrics`]) and the
//! families the exporter serves ([`audit_families`], [`scan_families`], rendered together by
//! [`render`]). Pure: records in, text out.
//!
//! Every family is a gauge (the same text is valid Prometheus text format 0.0.4 and OpenMetrics
//! 1.0, and `promtool check metrics` reads it); families are sorted by name and samples by their
//! labels, so the same records always give the same bytes. Label values are escaped (`\\`, `"`,
//! newline); empty label values are left out (Prometheus treats them as absent anyway). The text
//! ends with `# EOF`.

use sidescan_core::audit::record::{AuditRecord, SeverityCounts, TargetRecord, Verdict};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One sample: its labels (name, value) in the order written, and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// A gauge family: name, help text and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    pub fn push(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push(Sample { labels, value });
    }
}

/// The severities failed controls are counted by, as label values.
pub const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

fn by_severity(counts: &SeverityCounts) -> [(&'static str, u64); 4] {
    [
        ("critical", counts.critical),
        ("high", counts.high),
        ("medium", counts.medium),
        ("low", counts.low),
    ]
}

/// Escapes a label value (OpenMetrics and Prometheus text format alike).
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{value}")
    }
}

/// The labels of a sample that are written: those with a value.
fn written(sample: &Sample) -> impl Iterator<Item = &(&'static str, String)> {
    sample.labels.iter().filter(|(_, v)| !v.is_empty())
}

/// Renders families as OpenMetrics text: families merged by name and sorted, samples sorted by
/// labels (a second sample with the same labels is dropped: a family never repeats a series),
/// `# EOF` last. The families are borrowed: nothing but the text is allocated per sample.
pub fn render<'a>(families: impl IntoIterator<Item = &'a Family>) -> String {
    let mut merged: BTreeMap<&'static str, (&'static str, Vec<&'a Sample>)> = BTreeMap::new();
    for family in families {
        merged
            .entry(family.name)
            .or_insert_with(|| (family.help, Vec::new()))
            .1
            .extend(family.samples.iter());
    }
    let mut out = String::new();
    for (name, (help, mut samples)) in merged {
        samples.sort_by(|a, b| written(a).cmp(written(b)));
        samples.dedup_by(|b, a| written(a).eq(written(b)));
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for sample in samples {
            out.push_str(name);
            let mut first = true;
            for (k, v) in written(sample) {
                out.push(if first { '{' } else { ',' });
                first = false;
                let _ = write!(out, "{k}=\"{}\"", escape_label_value(v));
            }
            if !first {
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(sample.value));
        }
    }
    out.push_str("# EOF\n");
    out
}

/// A not-scanned target's reason, as a label value from a small fixed set (the reason itself is
/// free text: one series per distinct message would have no bound). The last attempt decides.
pub fn not_scanned_reason(reason: &str) -> &'static str {
    let last = reason
        .rsplit_once("; attempt ")
        .map_or(reason, |(_, last)| last);
    let has = |needles: &[&str]| needles.iter().any(|n| last.contains(n));
    if has(&[
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
    ]) {
        "image-pull"
    } else if has(&["nodes are available", "Unschedulable", "FailedScheduling"]) {
        "unschedulable"
    } else if has(&["deadline of"]) {
        "deadline"
    } else if has(&["the target container exited"]) {
        "target-exited"
    } else if has(&["presigning", "upload", "reading ", "the store"]) {
        "store"
    } else if has(&["the scanner", "installing hold", "cannot start"]) {
        "scanner"
    } else if has(&["creating the clone"]) {
        "clone-create"
    } else if has(&[
        "clones do not run",
        "pod template",
        "Windows containers",
        "security.mode",
        "security context",
        "sidescan uses",
        "no profile ConfigMap",
    ]) {
        "refused"
    } else {
        "other"
    }
}

/// Seconds since the epoch of an RFC 3339 time, when it parses.
fn epoch_seconds(rfc3339: &str) -> Option<f64> {
    rfc3339
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond() as f64 / 1000.0)
}

/// The labels that name a target: cluster, namespace, workload kind and name, container, image.
fn target_labels(cluster: &str, t: &TargetRecord) -> Vec<(&'static str, String)> {
    vec![
        ("cluster", cluster.to_string()),
        ("namespace", t.namespace.clone()),
        ("kind", t.kind.clone()),
        ("workload", t.workload.clone()),
        ("container", t.container.clone()),
        ("image", t.image.clone()),
    ]
}

fn with(
    mut labels: Vec<(&'static str, String)>,
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    labels.push((name, value.to_string()));
    labels
}

/// The families of one audit. `cluster` overrides the audit's own `clusterName` (the exporter's
/// `--cluster`).
pub fn audit_families(audit: &AuditRecord, cluster: Option<&str>) -> Vec<Family> {
    let cluster = cluster
        .or(audit.cluster.as_deref())
        .unwrap_or_default()
        .to_string();
    let c = || vec![("cluster", cluster.clone())];
    let mut info = Family::gauge(
        "sidescan_audit_info",
        "The latest audit: its id (always 1).",
    );
    info.push(with(c(), "audit_id", &audit.audit_id), 1.0);
    let mut success = Family::gauge(
        "sidescan_audit_success",
        "1 when the audit's exit code is 0 (every target scanned and passed), else 0.",
    );
    success.push(c(), if audit.exit_code == 0 { 1.0 } else { 0.0 });
    let mut exit_code = Family::gauge(
        "sidescan_audit_exit_code",
        "The audit's exit code: 0 passed, 1 a threshold not met, 3 a target not scanned.",
    );
    exit_code.push(c(), f64::from(audit.exit_code));
    let mut families = vec![info, success, exit_code];
    let started = epoch_seconds(&audit.started);
    let finished = epoch_seconds(&audit.finished);
    if let (Some(s), Some(f)) = (started, finished) {
        let mut duration = Family::gauge(
            "sidescan_audit_duration_seconds",
            "Wall time of the audit, from its start to its files.",
        );
        duration.push(c(), (f - s).max(0.0));
        families.push(duration);
    }
    if let Some(f) = finished {
        let mut at = Family::gauge(
            "sidescan_audit_finished_timestamp_seconds",
            "When the audit finished (seconds since the epoch).",
        );
        at.push(c(), f);
        families.push(at);
    }
    if let Some(requests) = audit.api_requests {
        let mut api = Family::gauge(
            "sidescan_audit_api_requests",
            "Kubernetes API requests the audit runner made.",
        );
        api.push(c(), requests as f64);
        families.push(api);
    }
    let mut targets = Family::gauge(
        "sidescan_audit_targets",
        "Targets of the audit by verdict (passed, failed, not-scanned).",
    );
    for (verdict, n) in [
        (Verdict::Passed, audit.totals.passed),
        (Verdict::Failed, audit.totals.failed),
        (Verdict::NotScanned, audit.totals.not_scanned),
    ] {
        targets.push(with(c(), "verdict", verdict.as_str()), n as f64);
    }
    families.push(targets);

    let mut compliance = Family::gauge(
        "sidescan_target_compliance_ratio",
        "Compliance of a scanned target in the latest audit (0 to 1): passed controls over assessed controls.",
    );
    let mut met = Family::gauge(
        "sidescan_target_threshold_met",
        "1 when a scanned target met every threshold in the latest audit, 0 when one was not met.",
    );
    let mut failed = Family::gauge(
        "sidescan_target_failed_controls",
        "Failed controls of a scanned target in the latest audit, by severity.",
    );
    let mut duration = Family::gauge(
        "sidescan_target_scan_duration_seconds",
        "Time from a target's first clone to its verdict in the latest audit (retries included).",
    );
    let mut not_scanned = Family::gauge(
        "sidescan_target_not_scanned",
        "1 for a target the latest audit could not scan, labelled by the reason's class.",
    );
    let mut reasons: BTreeMap<&'static str, u64> = BTreeMap::new();
    for t in &audit.targets {
        let labels = target_labels(&cluster, t);
        duration.push(labels.clone(), t.duration_ms as f64 / 1000.0);
        match t.verdict {
            Verdict::NotScanned => {
                let reason = not_scanned_reason(t.reason.as_deref().unwrap_or_default());
                *reasons.entry(reason).or_default() += 1;
                not_scanned.push(with(labels, "reason", reason), 1.0);
            }
            verdict => {
                if let Some(c) = t.compliance {
                    compliance.push(labels.clone(), c as f64 / 100.0);
                }
                met.push(
                    labels.clone(),
                    if verdict == Verdict::Passed { 1.0 } else { 0.0 },
                );
                if let Some(s) = &t.failed_by_severity {
                    for (severity, n) in by_severity(s) {
                        failed.push(with(labels.clone(), "severity", severity), n as f64);
                    }
                }
            }
        }
    }
    let mut by_reason = Family::gauge(
        "sidescan_audit_not_scanned_targets",
        "Targets the latest audit could not scan, by the reason's class.",
    );
    for (reason, n) in reasons {
        by_reason.push(with(c(), "reason", reason), n as f64);
    }
    families.extend([by_reason, compliance, met, failed, duration, not_scanned]);
    families
}

/// `metrics.prom`: the audit's families as OpenMetrics text.
pub fn audit_metrics(audit: &AuditRecord) -> String {
    render(&audit_families(audit, None))
}

/// The latest stored scan of one namespace/target, as the exporter reads it back from the run's
/// files (`metadata.json`, and `evaluation.json` or `hdf.json`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanSample {
    pub namespace: String,
    /// The `<target>` folder (`<kind>.<workload>.<container>` for an audit's scans).
    pub target: String,
    pub kind: String,
    pub workload: String,
    pub container: String,
    pub image: String,
    /// The run's start (its folder's timestamp), seconds since the epoch.
    pub started: f64,
    pub duration_seconds: Option<f64>,
    pub compliance: Option<u64>,
    /// Known when the run was evaluated against thresholds (`evaluation.json`).
    pub threshold_met: Option<bool>,
    pub failed_by_severity: Option<SeverityCounts>,
}

/// The families of the latest scan of each namespace/target.
pub fn scan_families<'a>(
    samples: impl IntoIterator<Item = &'a ScanSample>,
    cluster: &str,
) -> Vec<Family> {
    let mut at = Family::gauge(
        "sidescan_scan_timestamp_seconds",
        "Start of the latest stored scan of a target (seconds since the epoch).",
    );
    let mut compliance = Family::gauge(
        "sidescan_scan_compliance_ratio",
        "Compliance of the latest stored scan of a target (0 to 1).",
    );
    let mut met = Family::gauge(
        "sidescan_scan_threshold_met",
        "1 when the latest stored scan of a target met its thresholds, 0 when not (evaluated scans only).",
    );
    let mut failed = Family::gauge(
        "sidescan_scan_failed_controls",
        "Failed controls of the latest stored scan of a target, by severity.",
    );
    let mut duration = Family::gauge(
        "sidescan_scan_duration_seconds",
        "Duration of the latest stored scan of a target, as the scanner recorded it.",
    );
    for s in samples {
        let labels = vec![
            ("cluster", cluster.to_string()),
            ("namespace", s.namespace.clone()),
            ("target", s.target.clone()),
            ("kind", s.kind.clone()),
            ("workload", s.workload.clone()),
            ("container", s.container.clone()),
            ("image", s.image.clone()),
        ];
        at.push(labels.clone(), s.started);
        if let Some(c) = s.compliance {
            compliance.push(labels.clone(), c as f64 / 100.0);
        }
        if let Some(m) = s.threshold_met {
            met.push(labels.clone(), if m { 1.0 } else { 0.0 });
        }
        if let Some(f) = &s.failed_by_severity {
            for (severity, n) in by_severity(f) {
                failed.push(with(labels.clone(), "severity", severity), n as f64);
            }
        }
        if let Some(d) = s.duration_seconds {
            duration.push(labels, d);
        }
    }
    vec![at, compliance, met, failed, duration]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_core::audit::record::{Counts, Totals};

    fn target(ns: &str, name: &str, verdict: Verdict) -> TargetRecord {
        TargetRecord {
            namespace: ns.into(),
            kind: "Deployment".into(),
            workload: name.into(),
            container: "app".into(),
            image: "nginx:1.27".into(),
            duration_ms: 5500,
            ..TargetRecord::new(format!("{ns}/deployment.{name}.app"), verdict)
        }
    }

    fn scanned(ns: &str, name: &str, verdict: Verdict, compliance: u64) -> TargetRecord {
        TargetRecord {
            compliance: Some(compliance),
            counts: Some(Counts::default()),
            failed_by_severity: Some(SeverityCounts {
                critical: 0,
                high: 1,
                medium: 2,
                low: 0,
            }),
            ..target(ns, name, verdict)
        }
    }

    fn audit(targets: Vec<TargetRecord>) -> AuditRecord {
        AuditRecord {
            audit_id: "audit-20261128-101108-b5ps53".into(),
            cluster: Some("prod".into()),
            started: "2026-11-28T10:11:08Z".into(),
            finished: "2026-11-28T10:11:30.5Z".into(),
            store: "s3://b/scans".into(),
            settings: Default::default(),
            totals: Totals::of(&targets),
            exit_code: Totals::of(&targets).exit_status().code(),
            api_requests: Some(41),
            history: None,
            warnings: vec![],
            targets,
        }
    }

    #[test]
    fn an_audit_renders_every_family_sorted_and_ends_with_eof() {
        let mut ghost = target("shop", "ghost", Verdict::NotScanned);
        ghost.reason = Some(
            "attempt 1: deadline of 90 s passed: stayed pending; attempt 2: container app cannot start: ErrImageNeverPull: never pull"
                .into(),
        );
        let text = audit_metrics(&audit(vec![
            scanned("shop", "web", Verdict::Passed, 88),
            scanned("shop", "db", Verdict::Failed, 63),
            ghost,
        ]));
        let expected = r#"# HELP sidescan_audit_api_requests Kubernetes API requests the audit runner made.
# TYPE sidescan_audit_api_requests gauge
sidescan_audit_api_requests{cluster="prod"} 41
# HELP sidescan_audit_duration_seconds Wall time of the audit, from its start to its files.
# TYPE sidescan_audit_duration_seconds gauge
sidescan_audit_duration_seconds{cluster="prod"} 22.5
# HELP sidescan_audit_exit_code The audit's exit code: 0 passed, 1 a threshold not met, 3 a target not scanned.
# TYPE sidescan_audit_exit_code gauge
sidescan_audit_exit_code{cluster="prod"} 3
# HELP sidescan_audit_finished_timestamp_seconds When the audit finished (seconds since the epoch).
# TYPE sidescan_audit_finished_timestamp_seconds gauge
sidescan_audit_finished_timestamp_seconds{cluster="prod"} 1795860690.5
# HELP sidescan_audit_info The latest audit: its id (always 1).
# TYPE sidescan_audit_info gauge
sidescan_audit_info{cluster="prod",audit_id="audit-20261128-101108-b5ps53"} 1
# HELP sidescan_audit_not_scanned_targets Targets the latest audit could not scan, by the reason's class.
# TYPE sidescan_audit_not_scanned_targets gauge
sidescan_audit_not_scanned_targets{cluster="prod",reason="image-pull"} 1
# HELP sidescan_audit_success 1 when the audit's exit code is 0 (every target scanned and passed), else 0.
# TYPE sidescan_audit_success gauge
sidescan_audit_success{cluster="prod"} 0
# HELP sidescan_audit_targets Targets of the audit by verdict (passed, failed, not-scanned).
# TYPE sidescan_audit_targets gauge
sidescan_audit_targets{cluster="prod",verdict="failed"} 1
sidescan_audit_targets{cluster="prod",verdict="not-scanned"} 1
sidescan_audit_targets{cluster="prod",verdict="passed"} 1
"#;
        assert!(text.starts_with(expected), "{text}");
        let web = r#"{cluster="prod",namespace="shop",kind="Deployment",workload="web",container="app",image="nginx:1.27"}"#;
        let db = r#"{cluster="prod",namespace="shop",kind="Deployment",workload="db",container="app",image="nginx:1.27"}"#;
        let ghost = r#"{cluster="prod",namespace="shop",kind="Deployment",workload="ghost",container="app",image="nginx:1.27",reason="image-pull"}"#;
        for line in [
            format!("sidescan_target_compliance_ratio{web} 0.88"),
            format!("sidescan_target_compliance_ratio{db} 0.63"),
            format!("sidescan_target_threshold_met{web} 1"),
            format!("sidescan_target_threshold_met{db} 0"),
            format!(
                "sidescan_target_failed_controls{} 1",
                db.replace('}', ",severity=\"high\"}")
            ),
            format!("sidescan_target_scan_duration_seconds{web} 5.5"),
            format!("sidescan_target_not_scanned{ghost} 1"),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        // The not-scanned target has no compliance, verdict or counts.
        assert!(!text.contains("sidescan_target_compliance_ratio{cluster=\"prod\",namespace=\"shop\",kind=\"Deployment\",workload=\"ghost\""));
        assert!(text.ends_with("\n# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
        // Families are sorted and each appears once.
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
        // db sorts before web inside a family.
        let db_at = text
            .find(&format!("sidescan_target_compliance_ratio{db}"))
            .unwrap();
        let web_at = text
            .find(&format!("sidescan_target_compliance_ratio{web}"))
            .unwrap();
        assert!(db_at < web_at);
    }

    #[test]
    fn the_same_records_give_the_same_bytes_whatever_their_order() {
        let a = audit(vec![
            scanned("shop", "web", Verdict::Passed, 88),
            scanned("tools", "ci", Verdict::Failed, 10),
        ]);
        let mut b = a.clone();
        b.targets.reverse();
        assert_eq!(audit_metrics(&a), audit_metrics(&b));
    }

    #[test]
    fn label_values_are_escaped_and_empty_ones_left_out() {
        let mut t = scanned("shop", "web", Verdict::Passed, 100);
        t.image = "reg\\istry/\"odd\"\nimage".into();
        let mut a = audit(vec![t]);
        a.cluster = None;
        let text = audit_metrics(&a);
        assert!(
            text.contains(
                r#"sidescan_target_compliance_ratio{namespace="shop",kind="Deployment",workload="web",container="app",image="reg\\istry/\"odd\"\nimage"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("sidescan_audit_success 1\n"), "{text}");
        assert!(!text.contains("cluster="), "{text}");
        // The exporter's --cluster names the cluster when the audit does not.
        let named = render(&audit_families(&a, Some("east")));
        assert!(
            named.contains("sidescan_audit_success{cluster=\"east\"} 1\n"),
            "{named}"
        );
    }

    #[test]
    fn duplicate_series_are_written_once_and_values_are_openmetrics_numbers() {
        let mut f = Family::gauge("x_seconds", "x");
        f.push(vec![("a", "1".into())], 2.0);
        f.push(vec![("a", "1".into())], 3.0);
        f.push(vec![("a", "2".into())], f64::NAN);
        f.push(vec![("a", "3".into())], f64::INFINITY);
        f.push(vec![("a", "4".into())], 0.25);
        assert_eq!(
            render([&f]),
            "# HELP x_seconds x\n# TYPE x_seconds gauge\nx_seconds{a=\"1\"} 2\nx_seconds{a=\"2\"} NaN\n\
             x_seconds{a=\"3\"} +Inf\nx_seconds{a=\"4\"} 0.25\n# EOF\n"
        );
        assert_eq!(render(&[]), "# EOF\n");
    }

    #[test]
    fn reasons_fall_into_a_few_classes_by_the_last_attempt() {
        for (reason, class) in [
            ("container app cannot start: ErrImagePull: x", "image-pull"),
            (
                "deadline of 90 s passed: stayed pending: 0/3 nodes are available: 3 node(s) had taint",
                "unschedulable",
            ),
            (
                "deadline of 90 s passed: the scan did not finish",
                "deadline",
            ),
            (
                "attempt 1: deadline of 90 s passed: x; attempt 2: presigning the clone's uploads: y",
                "store",
            ),
            (
                "the target container exited (Error, exit code 1) before it was scanned",
                "target-exited",
            ),
            ("the scanner exited 3 without a summary", "scanner"),
            ("creating the clone in ns: forbidden", "clone-create"),
            (
                "security.mode same-uid: the pod template names no non-root runAsUser",
                "refused",
            ),
            (
                "Windows containers cannot be scanned (no shared /proc)",
                "refused",
            ),
            ("something new", "other"),
            ("", "other"),
        ] {
            assert_eq!(not_scanned_reason(reason), class, "{reason}");
        }
    }

    #[test]
    fn scans_render_their_latest_sample() {
        let s = ScanSample {
            namespace: "shop".into(),
            target: "deployment.web.app".into(),
            kind: "Deployment".into(),
            workload: "web".into(),
            container: "app".into(),
            image: "nginx:1.27".into(),
            started: 1_796_811_068.0,
            duration_seconds: Some(1.25),
            compliance: Some(50),
            threshold_met: Some(false),
            failed_by_severity: Some(SeverityCounts::default()),
        };
        let bare = ScanSample {
            namespace: "default".into(),
            target: "nginx".into(),
            started: 1_796_811_000.0,
            ..ScanSample::default()
        };
        let text = render(&scan_families([&s, &bare], "dev"));
        let labels = r#"{cluster="dev",namespace="shop",target="deployment.web.app",kind="Deployment",workload="web",container="app",image="nginx:1.27"}"#;
        for line in [
            format!("sidescan_scan_timestamp_seconds{labels} 1796811068"),
            format!("sidescan_scan_compliance_ratio{labels} 0.5"),
            format!("sidescan_scan_threshold_met{labels} 0"),
            format!("sidescan_scan_duration_seconds{labels} 1.25"),
            r#"sidescan_scan_timestamp_seconds{cluster="dev",namespace="default",target="nginx"} 1796811000"#.to_string(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert_eq!(text.matches("sidescan_scan_failed_controls{").count(), 4);
        assert_eq!(text.matches("sidescan_scan_compliance_ratio{").count(), 1);
    }
}
