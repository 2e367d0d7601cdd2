//! Scans of roots that push the limits: every limit reached shows as "not checked", naming the
//! limit, and the other controls still run.

use super::*;
use crate::builtin::Limits;

fn scan_limited(root: &Path, process: Option<&TargetProcess>, limits: Limits) -> BuiltinScan {
    let fd = root::open_dir_path(root).unwrap();
    scan_with(
        Target {
            root: fd.as_fd(),
            process,
            target_id: None,
            policy: &Policy::default(),
        },
        "2026-11-26T15:00:00Z".parse().unwrap(),
        &ScanOptions { threads: 2, limits },
    )
    .unwrap()
}

/// (status, message or skip message) of every result of one control.
fn said(report: &Report, id: &str) -> Vec<(Status, String)> {
    let control = report.profiles[0]
        .controls
        .iter()
        .find(|c| c.id == id)
        .unwrap();
    control
        .results
        .iter()
        .map(|r| {
            let text = r.message.clone().or(r.skip_message.clone());
            (r.status, text.unwrap_or_default())
        })
        .collect()
}

/// The controls that do not read `skip`: each decided as on the clean distroless root.
fn others_still_run(report: &Report, skip: &[&str]) {
    for id in [
        WORLD_WRITABLE.id,
        SETID_BINARIES.id,
        NON_ROOT.id,
        CAPABILITIES.id,
        SHELLS.id,
        PRIVATE_KEYS.id,
        CREDENTIAL_FILES.id,
        OS_IDENTITY.id,
        PACKAGES.id,
        UID0_ACCOUNTS.id,
    ] {
        if skip.contains(&id) {
            continue;
        }
        assert_eq!(statuses(report, id), [Status::Passed], "{id}");
    }
}

fn sparse(root: &Path, rel: &str, size: u64) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&path);
    std::fs::File::create(&path).unwrap().set_len(size).unwrap();
}

fn mknod(root: &Path, rel: &str, dev: Option<(u32, u32)>) {
    let path = root.join(rel);
    let _ = std::fs::remove_file(&path);
    let (kind, dev) = match dev {
        Some((major, minor)) => (
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::makedev(major, minor),
        ),
        None => (rustix::fs::FileType::Fifo, 0),
    };
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &path,
        kind,
        rustix::fs::Mode::from_raw_mode(0o644),
        dev,
    )
    .unwrap();
}

#[test]
fn files_of_huge_apparent_size_are_not_checked_and_reads_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    let tib = 1u64 << 40;
    sparse(root, "etc/passwd", tib);
    sparse(root, "var/lib/dpkg/status", tib);
    sparse(root, "usr/lib/os-release", tib);
    sparse(root, "etc/ssh/ssh_host_rsa_key", tib);
    let p = hardened(65532);
    let scan = scan_limited(root, Some(&p), Limits::DEFAULT);
    let report = &scan.report;
    // Every byte read is accounted for: the distroless root's few small files.
    assert!(scan.bytes_read < 1024, "{} bytes read", scan.bytes_read);
    let passwd = "/etc/passwd is 1099511627776 bytes, over the 1048576 byte limit for account \
                  files: not checked";
    for id in [
        UID0_ACCOUNTS.id,
        EMPTY_PASSWORDS.id,
        SYSTEM_ACCOUNT_SHELLS.id,
    ] {
        assert_eq!(
            said(report, id),
            [(Status::Skipped, passwd.to_string())],
            "{id}"
        );
    }
    assert_eq!(
        said(report, OS_IDENTITY.id),
        [(
            Status::Skipped,
            "/etc/os-release is 1099511627776 bytes, over the 65536 byte limit for \
             configuration files: not checked"
                .to_string()
        )]
    );
    assert!(said(report, PACKAGES.id).contains(&(
        Status::Skipped,
        "/var/lib/dpkg/status is 1099511627776 bytes, over the 16777216 byte limit for package \
         databases: not checked"
            .to_string()
    )));
    // The key file too large to read keeps its error: a key control cannot pass unlooked.
    assert_eq!(statuses(report, PRIVATE_KEYS.id), [Status::Error]);
    others_still_run(
        report,
        &[
            UID0_ACCOUNTS.id,
            OS_IDENTITY.id,
            PACKAGES.id,
            PRIVATE_KEYS.id,
        ],
    );
    assert_eq!(report.platform.name, "unknown");
}

#[test]
fn fifos_and_devices_where_files_are_expected_are_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    mknod(root, "etc/passwd", None);
    mknod(root, "var/lib/dpkg/status", None);
    std::fs::remove_file(root.join("etc/os-release")).unwrap();
    mknod(root, "etc/os-release", None);
    if rustix::process::geteuid().is_root() {
        // /dev/zero: a reader without a limit would never stop.
        mknod(root, "etc/shadow", Some((1, 5)));
    }
    let p = hardened(65532);
    let report = &scan_limited(root, Some(&p), Limits::DEFAULT).report;
    let fifo = "/etc/passwd is not a regular file (a directory, FIFO, socket or device): not \
                checked";
    assert_eq!(
        said(report, UID0_ACCOUNTS.id),
        [(Status::Skipped, fifo.to_string())]
    );
    assert_eq!(statuses(report, OS_IDENTITY.id), [Status::Skipped]);
    assert!(
        said(report, PACKAGES.id)
            .iter()
            .any(|(s, m)| *s == Status::Skipped && m.starts_with("/var/lib/dpkg/status is not a"))
    );
    others_still_run(report, &[UID0_ACCOUNTS.id, OS_IDENTITY.id, PACKAGES.id]);
}

#[test]
fn walk_limits_make_the_walk_based_controls_skipped_not_passed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    write(root, "srv/a/b/c/d/sneaky-su", "", 0o4755);
    write(root, "srv/keys/one.pem", KEY, 0o600);
    let limits = Limits {
        depth: 3,
        ..Limits::DEFAULT
    };
    let report = &scan_limited(root, None, limits).report;
    let depth = "/srv/a/b/c was not walked: it is 4 directories below the root, over the depth \
                 limit of 3: not checked";
    for id in [WORLD_WRITABLE.id, SETID_BINARIES.id, CREDENTIAL_FILES.id] {
        let results = said(report, id);
        // /srv/a/b/c and /var/lib/dpkg/status.d are too deep; what was examined passes.
        assert!(
            results.contains(&(Status::Skipped, depth.to_string())),
            "{id}: {results:?}"
        );
        let (last, rest) = results.split_last().unwrap();
        assert_eq!(last.0, Status::Passed, "{id}");
        assert!(rest.iter().all(|(s, _)| *s == Status::Skipped), "{id}");
    }
    // Counted as a skipped control, as InSpec counts a control with a skipped result.
    let stats = report.statistics.controls.as_ref().unwrap();
    assert!(stats.skipped.total >= 3);
    assert_eq!(statuses(report, PRIVATE_KEYS.id)[0], Status::Failed);
    others_still_run(
        report,
        &[
            WORLD_WRITABLE.id,
            SETID_BINARIES.id,
            CREDENTIAL_FILES.id,
            PRIVATE_KEYS.id,
            NON_ROOT.id,
            CAPABILITIES.id,
        ],
    );
}

#[test]
fn more_findings_than_the_cap_are_counted_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    for i in 0..25 {
        write(root, &format!("srv/bin/su{i:02}"), "", 0o4755);
        write(root, &format!("opt/p{i:02}/sh"), "", 0o755);
    }
    let path: Vec<String> = (0..25).map(|i| format!("/opt/p{i:02}")).collect();
    let mut p = hardened(1000);
    p.path_env = Ok(Some(path.join(":")));
    let limits = Limits {
        findings: 10,
        path_dirs: 20,
        ..Limits::DEFAULT
    };
    let report = &scan_limited(root, Some(&p), limits).report;
    let setid = said(report, SETID_BINARIES.id);
    assert_eq!(setid.len(), 11);
    assert_eq!(
        setid[10],
        (
            Status::Failed,
            "15 further findings were not listed".to_string()
        )
    );
    // The PATH beyond its limit is not searched, and says so; what was searched fails.
    let shells = said(report, SHELLS.id);
    assert_eq!(
        shells[0],
        (
            Status::Skipped,
            "PATH lists 5 more directories than the limit of 20 searched, from /opt/p20 on: not \
             checked"
                .to_string()
        )
    );
    // 20 shells found in the 20 PATH directories searched: 9 listed after the skipped result.
    assert_eq!(shells.len(), 11);
    assert_eq!(
        shells[10],
        (
            Status::Failed,
            "11 further findings were not listed (limit 10 per control)".to_string()
        )
    );
}

#[test]
fn the_scan_byte_limit_leaves_key_files_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    for i in 0..5 {
        write(root, &format!("srv/keys/k{i}.pem"), KEY, 0o600);
    }
    let limits = Limits {
        scan_bytes: 400,
        ..Limits::DEFAULT
    };
    let scan = scan_limited(root, None, limits);
    // A parallel walk that reaches the limit is run again on one thread: at most twice the limit.
    assert!(scan.bytes_read <= 800, "{}", scan.bytes_read);
    let keys = said(&scan.report, PRIVATE_KEYS.id);
    let unread: Vec<&(Status, String)> = keys
        .iter()
        .filter(|(s, m)| *s == Status::Skipped && m.contains("limit of 400 bytes read"))
        .collect();
    assert!(!unread.is_empty(), "{keys:?}");
    assert!(keys.iter().all(|(s, _)| *s != Status::Passed), "{keys:?}");
}

#[test]
fn a_symlink_loop_where_a_file_is_expected_is_not_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    symlink("shadow", root.join("etc/shadow")).unwrap();
    let report = &scan_limited(root, None, Limits::DEFAULT).report;
    let empty = said(report, EMPTY_PASSWORDS.id);
    assert_eq!(empty[0].0, Status::Skipped);
    assert!(
        empty[0]
            .1
            .starts_with("/etc/shadow is a symlink loop, a chain of more than 40 links"),
        "{empty:?}"
    );
    let files = said(report, SENSITIVE_FILES.id);
    assert_eq!(files[2].0, Status::Skipped);
    assert!(files[2].1.ends_with("not checked"), "{files:?}");
}
