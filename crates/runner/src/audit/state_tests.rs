use super::*;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::json;
use sidescan_core::audit::WorkloadKind;
use sidescan_core::audit::record::SeverityCounts;

fn target(ns: &str, name: &str) -> Target {
    Target {
        namespace: ns.into(),
        kind: WorkloadKind::Deployment,
        workload: name.into(),
        workload_uid: None,
        container: "app".into(),
        image: "img:1".into(),
        template: PodTemplateSpec::default(),
        service_account_pull_secrets: vec![],
        running_digests: vec!["sha256:run".into()],
    }
}

fn scanned(t: &Target, verdict: Verdict) -> TargetRecord {
    TargetRecord {
        verdict,
        reason: None,
        attempts: 1,
        compliance: Some(75),
        failed_by_severity: Some(SeverityCounts {
            critical: 0,
            high: 2,
            medium: 1,
            low: 0,
        }),
        ..not_scanned(t, &[], Duration::from_millis(1500), "sidescan")
    }
}

fn progress(t: &Target) -> ProgressRecord {
    ProgressRecord {
        audit_id: "audit-20261126-030000-abcdef".into(),
        target: scanned(t, Verdict::Failed),
        failed_controls: vec![],
        failed_controls_omitted: 0,
    }
}

#[test]
fn a_resumed_audit_scans_only_what_is_not_stored() {
    let (a, b, c) = (
        target("shop", "a"),
        target("shop", "b"),
        target("tools", "c"),
    );
    let gone = target("old", "gone");
    let plan = resume_plan(
        vec![a.clone(), b.clone(), c.clone()],
        vec![progress(&b), progress(&gone)],
    );
    let ids: Vec<String> = plan.to_scan.iter().map(Target::id).collect();
    assert_eq!(ids, ["shop/deployment.a.app", "tools/deployment.c.app"]);
    let resumed: Vec<&str> = plan.resumed.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        resumed,
        ["old/deployment.gone.app", "shop/deployment.b.app"]
    );
    assert!(plan.resumed.iter().all(|r| r.resumed));
    let fresh = resume_plan(vec![a.clone()], vec![]);
    assert_eq!(fresh.to_scan, vec![a]);
    assert!(fresh.resumed.is_empty());
}

#[test]
fn infrastructure_failures_are_retried_once_and_refusals_never() {
    let infra = AttemptFailure {
        reason: "ErrImagePull".into(),
        retryable: true,
    };
    let refused = AttemptFailure {
        reason: "same-uid needs a UID".into(),
        retryable: false,
    };
    assert!(retry(&infra, 1, 1));
    assert!(!retry(&infra, 2, 1));
    assert!(!retry(&infra, 1, 0));
    assert!(!retry(&refused, 1, 1));
    let t = target("shop", "a");
    let record = not_scanned(&t, &[infra.clone(), infra], Duration::from_secs(3), "shop");
    assert_eq!(record.verdict, Verdict::NotScanned);
    assert_eq!(record.attempts, 2);
    assert_eq!(
        record.reason.as_deref(),
        Some("attempt 1: ErrImagePull; attempt 2: ErrImagePull")
    );
    assert_eq!(record.running_digests, ["sha256:run"]);
}

#[test]
fn lines_and_bar_say_what_happened() {
    let t = target("shop", "web");
    let mut r = scanned(&t, Verdict::Failed);
    r.violations = vec!["Compliance: 75% < 80%".into()];
    assert_eq!(
        report_line(&r),
        "FAILED shop/Deployment web [app] compliance 75%, failed 0 critical, 2 high, 1 medium, 0 low (1.5s): Compliance: 75% < 80%"
    );
    let n = not_scanned(
        &t,
        &[AttemptFailure {
            reason: "pod stayed Pending: 0/1 nodes are available".into(),
            retryable: true,
        }],
        Duration::from_secs(125),
        "shop",
    );
    assert_eq!(
        report_line(&n),
        "NOT SCANNED shop/Deployment web [app] after 1 attempt (2m05s): pod stayed Pending: 0/1 nodes are available"
    );
    let totals = Totals::of(&[r, n]);
    assert_eq!(
        progress_bar(&totals, 8, Duration::from_secs(3725), 8),
        "[##......] 2/8 passed 0 failed 1 errors 1 1h02m05s"
    );
    assert_eq!(
        progress_bar(&Totals::default(), 0, Duration::ZERO, 4),
        "[####] 0/0 passed 0 failed 0 errors 0 0.0s"
    );
}

#[test]
fn leftovers_are_this_audits_clones_and_expired_ones() {
    let pod = |name: &str, audit: &str, component: &str, expires: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": name, "namespace": "shop",
                "labels": {"app.kubernetes.io/component": component, "sidescan.io/audit-id": audit},
                "annotations": {"sidescan.io/expires": expires},
            }
        }))
        .unwrap()
    };
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let now: jiff::Timestamp = "2026-11-26T04:00:00Z".parse().unwrap();
    let pods = [
        pod(
            "ours",
            "audit-20261126-030000-abcdef",
            "audit-clone",
            "2026-11-26T05:00:00Z",
        ),
        pod(
            "other-live",
            "audit-20261126-035500-zzzzzz",
            "audit-clone",
            "2026-11-26T05:00:00Z",
        ),
        pod(
            "other-expired",
            "audit-20261125-030000-yyyyyy",
            "audit-clone",
            "2026-11-25T04:00:00Z",
        ),
        pod(
            "a-scan-pod",
            "audit-20261126-030000-abcdef",
            "scan-pod",
            "2026-11-25T04:00:00Z",
        ),
    ];
    let names: Vec<String> = leftover_clones(&pods, &audit, now)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["ours", "other-expired"]);
}

#[test]
fn the_audit_record_is_sorted_and_decides_the_exit_code() {
    let spec = sidescan_core::audit::from_value(json!({
        "scanner": {"backend": "builtin"},
        "results": {"storeUrl": "s3://b/p"},
        "clusterName": "dev",
    }))
    .unwrap();
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let t = |ns, name| target(ns, name);
    let record = audit_record(
        &spec,
        &audit,
        "2026-11-26T03:00:00Z".parse().unwrap(),
        "2026-11-26T03:05:00Z".parse().unwrap(),
        "s3://b/p",
        vec![],
        vec![
            scanned(&t("tools", "z"), Verdict::Passed),
            scanned(&t("shop", "a"), Verdict::Failed),
        ],
    );
    assert_eq!(record.targets[0].id, "shop/deployment.a.app");
    assert_eq!(record.exit_code, 1);
    assert_eq!(record.cluster.as_deref(), Some("dev"));
    assert_eq!(record.settings.placement, "scan-namespace (sidescan)");
    assert_eq!(record.settings.kinds.len(), 6);
}
