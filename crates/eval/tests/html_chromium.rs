//! `report.html` in a real browser: Debian's headless Chromium loads the page from a file (no
//! network: the page's Content-Security-Policy allows nothing to load, and Chromium runs with
//! background networking off), runs its script, and the test reads the DOM it ends with: one row
//! per target, no script errors (the page records them in its own DOM, and Chromium's console log
//! is checked too), filters and sort order taken from the address. A screenshot is kept as an
//! artifact (`$SIDESCAN_ARTIFACTS_DIR`, else `target/tmp/artifacts/`).

use std::collections::BTreeMap;
use std::path::Path;

#[path = "common/chromium.rs"]
mod chromium;

use chromium::{artifacts, run_chromium};
use sidescan_core::audit::record::{
    AuditRecord, AuditSettings, FailedControl, SeverityCounts, TargetRecord, Totals, Verdict,
};

fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") && (l.contains("Uncaught") || l.contains("rror")))
        .collect()
}

fn file_url(path: &Path, fragment: &str) -> String {
    format!("file://{}{fragment}", path.display())
}

/// 48 targets in three namespaces: passed, failed (with failed controls) and not scanned.
fn fleet() -> (AuditRecord, BTreeMap<String, Vec<FailedControl>>) {
    let mut targets = Vec::new();
    let mut failed = BTreeMap::new();
    for i in 0..48u64 {
        let ns = ["shop", "tools", "ops"][(i % 3) as usize];
        let kind = ["Deployment", "StatefulSet", "DaemonSet", "CronJob"][(i % 4) as usize];
        let verdict = match i % 5 {
            0..=2 => Verdict::Passed,
            3 => Verdict::Failed,
            _ => Verdict::NotScanned,
        };
        let id = format!("{ns}/{}.w{i}.app", kind.to_lowercase());
        let scanned = verdict != Verdict::NotScanned;
        if verdict == Verdict::Failed {
            failed.insert(
                id.clone(),
                vec![FailedControl {
                    id: format!("SIDESCAN-FS-00{}", i % 3 + 1),
                    severity: "high".into(),
                    impact: 0.7,
                    title: Some("files owned by root <and> not world-writable".into()),
                    messages: vec![format!("/etc/passwd has mode 0666 (w{i})")],
                }],
            );
        }
        targets.push(TargetRecord {
            namespace: ns.into(),
            kind: kind.into(),
            workload: format!("w{i}"),
            container: "app".into(),
            image: ["localhost/sidescan-target-distroless:dev", "localhost/sidescan-target-musl:dev"]
                [(i % 2) as usize]
                .into(),
            image_digest: scanned.then(|| format!("sha256:{i:064x}")),
            compliance: scanned.then_some(40 + (i * 7) % 61),
            failed_by_severity: scanned.then_some(SeverityCounts {
                critical: i % 2,
                high: u64::from(verdict == Verdict::Failed),
                medium: i % 3,
                low: 1,
            }),
            violations: if verdict == Verdict::Failed {
                vec!["Compliance: 55% < 80%".into()]
            } else {
                vec![]
            },
            attempts: if scanned { 1 } else { 2 },
            duration_ms: 1000 + i * 37,
            reason: (!scanned).then(|| "pod stayed Pending: 0/1 nodes are available: 1 node(s) had taint {dedicated: scans}".into()),
            clone_namespace: Some("sidescan".into()),
            ..TargetRecord::new(id, verdict)
        });
    }
    let totals = Totals::of(&targets);
    let audit = AuditRecord {
        audit_id: "audit-20261126-030000-abcdef".into(),
        cluster: Some("dev".into()),
        started: "2026-11-26T03:00:00Z".into(),
        finished: "2026-11-26T03:04:10Z".into(),
        store: "s3://sidescan-test/scans".into(),
        settings: AuditSettings {
            kinds: vec![
                "Deployment".into(),
                "StatefulSet".into(),
                "DaemonSet".into(),
                "CronJob".into(),
            ],
            scanner_image: "localhost/sidescan-scanner:dev".into(),
            backend: "builtin".into(),
            thresholds: Some("gate.yml".into()),
            run: "hold".into(),
            placement: "scan-namespace".into(),
            concurrency: 4,
            ..AuditSettings::default()
        },
        exit_code: totals.exit_status().code(),
        api_requests: None,
        totals,
        warnings: vec![],
        history: None,
        targets,
    };
    (audit, failed)
}

/// `(hidden, data-compliance)` of every target row, in DOM order.
fn rows(dom: &str) -> Vec<(bool, String)> {
    dom.split("<tbody ")
        .skip(1)
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            let compliance = tag
                .split("data-compliance=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string();
            (tag.contains("hidden"), compliance)
        })
        .collect()
}

#[test]
#[ignore = "needs chromium (Debian package; scripts/test-all installs it)"]
fn the_fleet_report_renders_in_chromium_with_one_row_per_target_and_no_errors() {
    let (audit, failed) = fleet();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(
        &page,
        sidescan_eval::html::fleet(&audit, &failed, &BTreeMap::new()),
    )
    .unwrap();

    let (dom, stderr) = run_chromium(&["--dump-dom"], &file_url(&page, ""));
    let html_tag = &dom[dom.find("<html").unwrap()..];
    let html_tag = &html_tag[..html_tag.find('>').unwrap()];
    assert!(
        html_tag.contains("data-ready=\"1\""),
        "the script did not finish: {html_tag}"
    );
    assert!(
        !html_tag.contains("data-errors"),
        "script errors: {html_tag}"
    );
    assert_eq!(console_errors(&stderr), Vec::<&str>::new());
    let all = rows(&dom);
    assert_eq!(all.len(), 48, "one row per target");
    assert!(all.iter().all(|(hidden, _)| !hidden));
    assert!(
        dom.contains("/etc/passwd has mode 0666 (w3)"),
        "failed controls with messages"
    );
    assert!(dom.contains("<span id=\"shown\">48</span>"));

    // Filter by namespace and verdict, sort by compliance, all from the address.
    let (dom, stderr) = run_chromium(
        &["--dump-dom"],
        &file_url(
            &page,
            "#namespace=shop&verdict=failed&sort=compliance&dir=asc",
        ),
    );
    assert_eq!(console_errors(&stderr), Vec::<&str>::new());
    let all = rows(&dom);
    let expected = audit
        .targets
        .iter()
        .filter(|t| t.namespace == "shop" && t.verdict == Verdict::Failed)
        .count();
    assert!(expected > 0);
    assert_eq!(all.iter().filter(|(hidden, _)| !hidden).count(), expected);
    assert!(dom.contains(&format!("<span id=\"shown\">{expected}</span>")));
    let order: Vec<i64> = all
        .iter()
        .map(|(_, c)| c.parse::<i64>().unwrap_or(-1))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "not sorted: {order:?}"
    );

    let shot = artifacts().join("audit-report.png");
    let _ = std::fs::remove_file(&shot);
    run_chromium(
        &[
            "--window-size=1400,1800",
            &format!("--screenshot={}", shot.display()),
        ],
        &file_url(&page, ""),
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}

#[test]
#[ignore = "needs chromium (Debian package; scripts/test-all installs it)"]
fn a_script_error_would_be_seen() {
    // The checks above can fail: a page whose script throws is caught both ways.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    let (audit, failed) = fleet();
    let html = sidescan_eval::html::fleet(&audit, &failed, &BTreeMap::new()).replace(
        "var table=document",
        "undefinedFunction();var table=document",
    );
    std::fs::write(&page, html).unwrap();
    let (dom, stderr) = run_chromium(&["--dump-dom"], &file_url(&page, ""));
    assert!(
        dom.contains("data-errors"),
        "the page did not record the error"
    );
    assert!(!dom.contains("data-ready=\"1\""));
    assert!(!console_errors(&stderr).is_empty(), "{stderr}");
}
