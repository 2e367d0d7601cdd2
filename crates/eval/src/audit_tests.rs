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
