use super::*;
use sidescan_core::audit::record::{SeverityCounts, TargetRecord, Totals, Verdict};

fn store(dir: &std::path::Path, prefix: &str) -> Store {
    let root = dir.join(prefix);
    std::fs::create_dir_all(&root).unwrap();
    let url = url::Url::from_directory_path(&root).unwrap();
    sidescan_store::open(url.as_str()).unwrap()
}

fn write(dir: &std::path::Path, key: &str, bytes: &[u8]) {
    let path = dir.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn evaluation(compliance: u64, verdict: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "verdict": verdict,
        "summary": {"compliance": compliance, "severities": {
            "critical": {"failed": 0}, "high": {"failed": 1}, "medium": {"failed": 0},
            "low": {"failed": 0}}},
    }))
    .unwrap()
}

fn run(dir: &std::path::Path, target: &str, folder: &str, compliance: u64) {
    let base = format!("shop/{target}/{folder}");
    write(dir, &format!("{base}/hdf.json"), b"{}");
    write(
        dir,
        &format!("{base}/metadata.json"),
        br#"{"container":"app","image":"nginx:1.27","started":"2026-11-28T10:00:00Z","finished":"2026-11-28T10:00:02Z"}"#,
    );
    write(
        dir,
        &format!("{base}/evaluation.json"),
        &evaluation(compliance, "passed"),
    );
}

fn audit(id: &str, compliance: u64) -> AuditRecord {
    let target = TargetRecord {
        namespace: "shop".into(),
        kind: "Deployment".into(),
        workload: "web".into(),
        container: "app".into(),
        image: "nginx:1.27".into(),
        compliance: Some(compliance),
        failed_by_severity: Some(SeverityCounts::default()),
        ..TargetRecord::new("shop/deployment.web.app", Verdict::Passed)
    };
    AuditRecord {
        audit_id: id.into(),
        cluster: Some("dev".into()),
        started: "2026-11-28T10:00:00Z".into(),
        finished: "2026-11-28T10:01:00Z".into(),
        store: "file:///".into(),
        settings: Default::default(),
        totals: Totals::of(std::slice::from_ref(&target)),
        exit_code: 0,
        api_requests: Some(7),
        history: None,
        warnings: vec![],
        targets: vec![target],
    }
}

#[tokio::test]
async fn a_refresh_serves_the_latest_audit_and_scans_and_reads_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("scans");
    let store = store(dir.path(), "scans");
    run(&root, "web", "20261126T100000Z-aaaaaa", 40);
    run(&root, "web", "20261128T100000Z-bbbbbb", 88);
    run(&root, "db", "20261127T100000Z-cccccc", 63);
    // The audit written last is the latest, whatever its id.
    for (id, compliance, written) in [
        ("audit-20261129-030000-abcdef", 10, 1_000),
        ("audit-20261128-030000-abcdef", 88, 2_000),
    ] {
        let (_, bytes) = metrics_file(&audit(id, compliance));
        assert!(String::from_utf8(bytes).unwrap().ends_with("# EOF\n"));
        let key = format!("audits/{id}/audit.json");
        write(
            &root,
            &key,
            &serde_json::to_vec(&audit(id, compliance)).unwrap(),
        );
        std::fs::File::options()
            .write(true)
            .open(root.join(&key))
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + Duration::from_secs(written))
            .unwrap();
    }
    // A result that does not parse is left out and counted, not fatal.
    write(
        &root,
        "shop/broken/20261128T100000Z-dddddd/hdf.json",
        b"not json",
    );

    let (collected, stats) = refresh(&store, None, &Collected::default()).await.unwrap();
    assert_eq!((stats.fetched, stats.unreadable), (3, 1));
    assert_eq!(collected.series(), 2);
    assert!(
        collected
            .audit_key()
            .unwrap()
            .ends_with("audit-20261128-030000-abcdef/audit.json")
    );
    let text = exposition(&collected, None, &Health::default());
    for line in [
        r#"sidescan_target_compliance_ratio{cluster="dev",namespace="shop",kind="Deployment",workload="web",container="app",image="nginx:1.27"} 0.88"#,
        r#"sidescan_scan_compliance_ratio{namespace="shop",target="web",container="app",image="nginx:1.27"} 0.88"#,
        r#"sidescan_scan_compliance_ratio{namespace="shop",target="db",container="app",image="nginx:1.27"} 0.63"#,
        r#"sidescan_scan_duration_seconds{namespace="shop",target="web",container="app",image="nginx:1.27"} 2"#,
        r#"sidescan_audit_api_requests{cluster="dev"} 7"#,
        "sidescan_exporter_scan_series 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));

    // Nothing new: nothing is read again, the same text.
    let (again, stats) = refresh(&store, None, &collected).await.unwrap();
    assert_eq!(stats.fetched, 1, "only the unreadable run is read again");
    assert_eq!(text, exposition(&again, None, &Health::default()));

    // A new run of one target: only it is read; --cluster names the cluster.
    run(&root, "db", "20261129T100000Z-eeeeee", 70);
    let (third, stats) = refresh(&store, Some("east"), &again).await.unwrap();
    assert_eq!(stats.fetched, 2);
    let text = exposition(&third, Some("east"), &Health::default());
    assert!(
        text.contains(r#"sidescan_scan_compliance_ratio{cluster="east",namespace="shop",target="db",container="app",image="nginx:1.27"} 0.7"#),
        "{text}"
    );
}

#[test]
fn a_failed_refresh_keeps_the_last_good_figures_and_says_so() {
    let mut collected = Collected::default();
    collected.scans.insert(
        ("shop".into(), "web".into()),
        (
            "20261128T100000Z-bbbbbb".into(),
            ScanSample {
                namespace: "shop".into(),
                target: "web".into(),
                started: 1.0,
                compliance: Some(50),
                ..ScanSample::default()
            },
        ),
    );
    let mut health = Health::default();
    let good = (collected.clone(), RefreshStats::default());
    let mut served = Collected::default();
    apply(Ok(good), &mut served, &mut health, 100.0);
    apply(Err("store down".into()), &mut served, &mut health, 200.0);
    let text = exposition(&served, None, &health);
    for line in [
        r#"sidescan_scan_compliance_ratio{namespace="shop",target="web"} 0.5"#,
        "sidescan_exporter_last_refresh_success 0",
        "sidescan_exporter_last_refresh_timestamp_seconds 200",
        "sidescan_exporter_last_success_timestamp_seconds 100",
        "sidescan_exporter_scan_series 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    apply(
        Ok((Collected::default(), RefreshStats::default())),
        &mut served,
        &mut health,
        300.0,
    );
    let text = exposition(&served, None, &health);
    assert!(text.contains("sidescan_exporter_last_refresh_success 1\n"));
    assert!(!text.contains("sidescan_scan_compliance_ratio{"));
}
