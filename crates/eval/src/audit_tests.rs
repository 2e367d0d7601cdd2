use super::*;
use crate::{hdf, html, summary, threshold, validate};
use sidescan_core::audit::record::{AuditSettings, Totals, VolumeNote};
use std::collections::BTreeMap;

const HDF: &str = r#"{"platform":{"name":"x","release":"1"},"statistics":{},"version":"5","profiles":[
 {"name":"baseline","sha256":"x","supports":[],"attributes":[],"groups":[],"controls":[
  {"id":"FS-001","title":"passwd <owned> by root","impact":0.7,"refs":[],"tags":{},"source_location":{},
   "results":[{"status":"failed","code_desc":"/etc/passwd mode","message":"expected 0644, got 0666 <&>","start_time":"t"}]},
  {"id":"FS-002","title":"no world-writable","impact":0.5,"refs":[],"tags":{},"source_location":{},
   "results":[{"status":"passed","code_desc":"walk","start_time":"t"}]},
  {"id":"SW-001","title":"no shells","impact":0.3,"refs":[],"tags":{},"source_location":{},
   "results":[{"status":"failed","code_desc":"/bin/sh","start_time":"t"}]}
 ]}]}"#;

fn record(id: &str, verdict: Verdict) -> TargetRecord {
    let (ns, rest) = id.split_once('/').unwrap();
    let mut parts = rest.splitn(3, '.');
    let kind = parts.next().unwrap();
    TargetRecord {
        namespace: ns.into(),
        kind: kind[..1].to_uppercase() + &kind[1..],
        workload: parts.next().unwrap().into(),
        container: parts.next().unwrap().into(),
        image: "localhost/sidescan-target-musl:dev".into(),
        image_digest: Some("sha256:abc".into()),
        running_digests: vec!["sha256:abc".into()],
        duration_ms: 1500,
        clone_namespace: Some("sidescan".into()),
        node: Some("localhost".into()),
        ..TargetRecord::new(id, verdict)
    }
}

fn audit() -> (AuditRecord, BTreeMap<String, Vec<FailedControl>>) {
    let hdf = hdf::parse(HDF.as_bytes()).unwrap();
    let s = summary::summarize(&hdf);
    let t = threshold::parse_threshold("compliance:\n  min: 80\n", "t.yml").unwrap();
    let v = validate::validate(&s, &t);
    let outcome = scan_outcome(&hdf, &s, Some(&v));
    let mut failed = record("shop/deployment.web.app", outcome.verdict);
    failed.compliance = Some(outcome.compliance);
    failed.counts = Some(outcome.counts);
    failed.failed_by_severity = Some(outcome.failed_by_severity);
    failed.violations = outcome.violations.clone();
    failed.result_keys.insert(
        "hdf.json".into(),
        "scans/shop/deployment.web.app/x/hdf.json".into(),
    );
    failed.volumes_not_scanned = vec![VolumeNote {
        name: "data".into(),
        kind: "persistentVolumeClaim".into(),
        reason: "not shared".into(),
    }];
    let mut passed = record(
        "tools/statefulset.<script>alert(1)</script>.db",
        Verdict::Passed,
    );
    passed.compliance = Some(100);
    passed.failed_by_severity = Some(Default::default());
    let mut missing = record("shop/pod.debug.main", Verdict::NotScanned);
    missing.reason =
        Some("image pull failed: ErrImageNeverPull (attempt 1); same (attempt 2)".into());
    missing.attempts = 2;
    let targets = vec![failed, passed, missing];
    let totals = Totals::of(&targets);
    let record = AuditRecord {
        audit_id: "audit-20261126-030000-abcdef".into(),
        cluster: Some("dev".into()),
        started: "2026-11-26T03:00:00Z".into(),
        finished: "2026-11-26T03:02:00Z".into(),
        store: "s3://audits/prod".into(),
        settings: AuditSettings {
            scanner_image: "sidescan-scanner:0.1.0".into(),
            backend: "builtin".into(),
            thresholds: Some("t.yml".into()),
            run: "hold".into(),
            placement: "scan-namespace".into(),
            concurrency: 4,
            kinds: vec!["Deployment".into()],
            ..AuditSettings::default()
        },
        exit_code: totals.exit_status().code(),
        api_requests: None,
        totals,
        warnings: vec!["namespace gone does not exist".into()],
        history: None,
        targets,
    };
    let details = BTreeMap::from([(
        "shop/deployment.web.app".to_string(),
        outcome.failed_controls,
    )]);
    (record, details)
}

#[test]
fn scan_outcome_counts_and_bounds_failed_controls() {
    let hdf = hdf::parse(HDF.as_bytes()).unwrap();
    let s = summary::summarize(&hdf);
    let outcome = scan_outcome(&hdf, &s, None);
    assert_eq!(outcome.verdict, Verdict::Passed, "no thresholds: passes");
    assert_eq!(outcome.compliance, 33);
    assert_eq!((outcome.counts.passed, outcome.counts.failed), (1, 2));
    assert_eq!(
        (
            outcome.failed_by_severity.high,
            outcome.failed_by_severity.low
        ),
        (1, 1)
    );
    assert_eq!(outcome.failed_controls.len(), 2);
    assert_eq!(
        outcome.failed_controls[0].messages,
        ["/etc/passwd mode: expected 0644, got 0666 <&>"]
    );
    let t = threshold::parse_threshold("failed:\n  high:\n    max: 0\n", "t.yml").unwrap();
    let v = validate::validate(&s, &t);
    let outcome = scan_outcome(&hdf, &s, Some(&v));
    assert_eq!(outcome.verdict, Verdict::Failed);
    assert_eq!(outcome.violations.len(), 1);
}

#[test]
fn summary_lists_every_target_worst_first() {
    let (audit, _) = audit();
    let md = summary_markdown(&audit);
    assert!(md.starts_with("## ⚠️ sidescan audit `audit-20261126-030000-abcdef`: 3 targets, 1 passed, 1 failed, 1 not scanned"), "{md}");
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with("| ⚠️") || l.starts_with("| ❌") || l.starts_with("| ✅"))
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(
        rows[0].contains("ErrImageNeverPull") && rows[1].contains("web") && rows[2].contains("✅")
    );
    assert!(md.contains("> warning: namespace gone does not exist"));
}

#[test]
fn junit_has_a_test_case_per_target() {
    let (audit, _) = audit();
    let xml = junit(&audit);
    assert_eq!(xml.matches("<testcase ").count(), 3);
    assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""));
    assert!(xml.contains("classname=\"shop.deployment.web\" name=\"app\" time=\"1.500\""));
    assert!(xml.contains("<error message=\"image pull failed"));
    assert!(xml.contains("&lt;script&gt;"), "escaped");
    assert!(!xml.contains("<script>"));
}

#[test]
fn html_is_self_contained_with_one_row_per_target() {
    let (audit, details) = audit();
    let page = html::fleet(&audit, &details, &BTreeMap::new());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_eq!(page.matches("<tbody class=\"target\"").count(), 3);
    assert!(
        page.contains("default-src 'none'"),
        "a CSP that loads nothing"
    );
    for external in [
        "src=", "href=", "@import", "url(", "<link", "http://", "https://",
    ] {
        assert!(!page.contains(external), "{external} in the page");
    }
    assert!(
        !page.contains("<script>alert(1)"),
        "workload names are escaped"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        page.contains("expected 0644, got 0666 &lt;&amp;&gt;"),
        "messages shown, escaped"
    );
    assert!(page.contains("Not scanned: image pull failed"));
    assert!(page.contains("Volumes not scanned: data (persistentVolumeClaim)"));
    assert!(page.contains("<option value=\"shop\">shop</option>"));
    assert!(page.contains("data-verdict=\"not-scanned\""));
}

#[test]
fn html_for_one_result_is_the_same_page() {
    let hdf = hdf::parse(HDF.as_bytes()).unwrap();
    let s = summary::summarize(&hdf);
    let page = html::single(&hdf, &s, None, "hdf.json", None);
    assert_eq!(page.matches("<tbody class=\"target\"").count(), 1);
    assert!(page.contains("FS-001") && page.contains("SW-001"));
    assert!(page.contains("no thresholds: every scanned target passes"));
}

/// The audit of `audit()` compared with earlier results: web gained a setuid finding and lost a
/// key, with a trend of three audits (the second not scanned).
fn audit_with_history() -> AuditRecord {
    use sidescan_core::history::{
        AuditHistory, Comparison, Delta, DeltaCounts, FindingChange, Gate, HistoryTotals,
        NewFailure, NotificationOutcome, TrendPoint,
    };
    let (mut audit, _) = audit();
    let web = &mut audit.targets[0];
    web.baseline = Some(Comparison {
        key: Some("scans/shop/deployment.web.app/20261125T030000Z-aaaaaa/hdf.json".into()),
        note: None,
        delta: Delta {
            counts: DeltaCounts {
                newly_failed: 1,
                fixed: 1,
                new_failures: 1,
                ..DeltaCounts::default()
            },
            newly_failed: vec!["SIDESCAN-FS-003".into()],
            fixed: vec!["SIDESCAN-KEY-001".into()],
            findings: vec![FindingChange {
                control: "SIDESCAN-FS-003".into(),
                added: vec!["/usr/local/bin/helper".into()],
                removed: vec![],
            }],
            new_failures: vec![NewFailure {
                control: "SIDESCAN-FS-003".into(),
                title: Some("No setuid <or> setgid executables".into()),
                severity: "medium".into(),
                findings: vec!["/usr/local/bin/helper".into()],
            }],
            ..Delta::default()
        },
    });
    let point = |id: &str, c: Option<u64>| TrendPoint {
        audit_id: id.into(),
        started: "2026-11-24T03:00:00Z".into(),
        compliance: c,
    };
    web.trend = vec![
        point("audit-20261124-030000-aaaaaa", Some(60)),
        point("audit-20261125-030000-bbbbbb", None),
        point("audit-20261126-030000-abcdef", web.compliance),
    ];
    let comparisons: Vec<_> = audit
        .targets
        .iter()
        .filter_map(|t| t.baseline.clone())
        .collect();
    audit.history = Some(AuditHistory {
        baseline: "latest".into(),
        gate: Gate::NewFailures,
        trend_length: 10,
        trend_audits: vec![
            "audit-20261124-030000-aaaaaa".into(),
            "audit-20261125-030000-bbbbbb".into(),
        ],
        totals: HistoryTotals::of(&comparisons),
        warnings: vec![],
        notification: Some(NotificationOutcome {
            host: "hooks.example.com".into(),
            format: "slack".into(),
            delivered: false,
            attempts: 3,
            status: Some(503),
            error: Some("HTTP 503".into()),
            new_failures: 1,
        }),
    });
    audit
}

#[test]
fn summary_shows_new_and_fixed_counts_and_trends() {
    let md = summary_markdown(&audit_with_history());
    assert!(
        md.contains("**Since the last results** (latest): 1 new failure in 1 target, 1 newly failed and 1 fixed control; 1 target compared"),
        "{md}"
    );
    assert!(md.contains("Gate: new failures only"), "{md}");
    assert!(
        md.contains(
            "Webhook to hooks.example.com (slack): not delivered after 3 attempts: HTTP 503."
        ),
        "{md}"
    );
    assert!(md.contains("| New | Fixed | Trend | Note |"), "{md}");
    let web = md.lines().find(|l| l.contains("Deployment web")).unwrap();
    assert!(web.contains("| 1 | 1 | ▅·▃ 60→33% |"), "{web}");
    assert!(
        md.contains("### New failures\n\n- `shop/deployment.web.app`: `SIDESCAN-FS-003` (medium) No setuid <or> setgid executables: `/usr/local/bin/helper`"),
        "{md}"
    );
    // Without history the table is the one it was.
    let (plain, _) = audit();
    assert!(!summary_markdown(&plain).contains("| Trend |"));
}

#[test]
fn html_draws_each_trend_and_the_changes() {
    let audit = audit_with_history();
    let page = html::fleet(&audit, &BTreeMap::new(), &BTreeMap::new());
    assert_eq!(page.matches("<svg class=\"trend\"").count(), 1);
    let svg = &page[page.find("<svg class=\"trend\"").unwrap()..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert!(svg.contains("data-points=\"3\""), "{svg}");
    assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
    assert_eq!(svg.matches("class=\"na\"").count(), 1, "{svg}");
    assert!(
        svg.contains("<polyline points=\"4.0,12.8 116.0,18.7\"/>"),
        "{svg}"
    );
    assert!(page.contains("<b id=\"new-failures\">1</b>new failures"));
    assert!(page.contains("<b id=\"fixed\">1</b>fixed"));
    assert!(page.contains("data-new=\"1\" data-fixed=\"1\""));
    assert!(page.contains("colspan=\"14\""));
    assert!(page.contains("No setuid &lt;or&gt; setgid executables"));
    assert!(page.contains("<code>/usr/local/bin/helper</code>"));
    assert!(page.contains("Fixed: SIDESCAN-KEY-001"));
    assert!(page.contains("webhook hooks.example.com: not delivered (HTTP 503)"));
    for external in ["src=", "href=", "url(", "http://", "https://"] {
        assert!(!page.contains(external), "{external} in the page");
    }
    // Targets without a trend: a dash, not an empty drawing.
    assert_eq!(html::trend_svg(&[]), "–");
}
