use super::*;
use crate::agent::procfs::CapSet;
use std::os::unix::fs::{PermissionsExt, symlink};

fn write(root: &Path, rel: &str, content: &str, mode: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn process(uid: u32, caps: u64) -> ProcStatus {
    ProcStatus {
        name: "app".into(),
        uid: [uid; 4],
        gid: [uid; 4],
        cap_prm: CapSet(caps),
        cap_eff: CapSet(caps),
        ..ProcStatus::default()
    }
}

fn run(root: &Path, proc_status: Option<&ProcStatus>) -> Report {
    scan(
        Target {
            root,
            process: proc_status,
        },
        "2026-11-26T15:00:00Z".parse().unwrap(),
    )
    .unwrap()
    .report
}

/// (status, code_desc) of every result of one control.
fn results(report: &Report, id: &str) -> Vec<(Status, String)> {
    let control = report.profiles[0]
        .controls
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no control {id}"));
    control
        .results
        .iter()
        .map(|r| (r.status, r.code_desc.clone()))
        .collect()
}

fn statuses(report: &Report, id: &str) -> Vec<Status> {
    results(report, id).into_iter().map(|(s, _)| s).collect()
}

/// A distroless-like root: account files, os-release via an absolute link, dpkg status.d, one
/// static binary, nothing else.
fn distroless(root: &Path) {
    write(
        root,
        "etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\n",
        0o644,
    );
    write(root, "etc/group", "root:x:0:\n", 0o644);
    write(
        root,
        "usr/lib/os-release",
        "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Distroless\"\n",
        0o644,
    );
    symlink("/usr/lib/os-release", root.join("etc/os-release")).unwrap();
    write(
        root,
        "var/lib/dpkg/status.d/base",
        "Package: base-files\nVersion: 12.4\n",
        0o644,
    );
    write(
        root,
        "var/lib/dpkg/status.d/base.md5sums",
        "abc  etc/issue\n",
        0o644,
    );
    write(root, "app/server", "\x7fELF", 0o755);
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
}

#[test]
fn clean_distroless_root_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    distroless(dir.path());
    let p = process(65532, 0);
    let report = run(dir.path(), Some(&p));
    let controls = &report.profiles[0].controls;
    assert_eq!(controls.len(), ALL_CONTROLS.len());
    for id in [
        WORLD_WRITABLE.id,
        SETID_BINARIES.id,
        NON_ROOT.id,
        CAPABILITIES.id,
        SHELLS.id,
        PACKAGE_MANAGERS.id,
        PRIVATE_KEYS.id,
        OS_IDENTITY.id,
        PACKAGES.id,
    ] {
        assert_eq!(statuses(&report, id), [Status::Passed], "{id}");
    }
    // passwd and group pass, shadow and gshadow are absent.
    assert_eq!(
        statuses(&report, SENSITIVE_FILES.id),
        [
            Status::Passed,
            Status::Passed,
            Status::Skipped,
            Status::Skipped
        ]
    );
    assert_eq!(report.platform.name, "debian");
    assert_eq!(report.platform.release, "12");
    assert_eq!(
        results(&report, PACKAGES.id)[0].1,
        "dpkg package base-files 12.4"
    );
}

#[test]
fn findings_on_a_bad_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    write(root, "etc/shadow", "root:*:19000:0:99999:7:::\n", 0o644);
    write(root, "etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o666);
    write(root, "usr/bin/passwd", "", 0o4755);
    write(root, "bin/busybox", "", 0o755);
    symlink("busybox", root.join("bin/sh")).unwrap();
    write(root, "usr/bin/apt-get", "", 0o755);
    write(root, "usr/bin/bash", "", 0o644); // not executable: not a usable shell
    write(
        root,
        "etc/ssl/private/tls.key",
        "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        0o600,
    );
    write(
        root,
        "root/.ssh/authorized_keys",
        "ssh-ed25519 AAAA user\n",
        0o600,
    );
    write(
        root,
        "opt/certs/ca.pem",
        "-----BEGIN CERTIFICATE-----\nx\n",
        0o644,
    );
    write(root, "srv/data.txt", "", 0o666);
    write(
        root,
        "lib/apk/db/installed",
        "P:musl\nV:1.2.5-r0\n\nP:busybox\nV:1.36.1-r29\n",
        0o644,
    );

    let p = process(0, 0xa80425fb | 1 << 21);
    let report = run(root, Some(&p));

    let files = results(&report, SENSITIVE_FILES.id);
    assert_eq!(files[0].0, Status::Failed, "{files:?}"); // passwd 0666
    assert_eq!(files[2].0, Status::Failed, "{files:?}"); // shadow 0644
    let ww = results(&report, WORLD_WRITABLE.id);
    let ww_paths: Vec<&str> = ww.iter().map(|(_, d)| d.as_str()).collect();
    assert_eq!(
        ww_paths,
        [
            "file /etc/passwd is not world-writable",
            "file /srv/data.txt is not world-writable"
        ]
    );
    assert_eq!(
        results(&report, SETID_BINARIES.id),
        [(
            Status::Failed,
            "/usr/bin/passwd has neither setuid nor setgid".to_string()
        )]
    );
    assert_eq!(statuses(&report, NON_ROOT.id), [Status::Failed]);
    let caps = results(&report, CAPABILITIES.id);
    assert_eq!(
        caps,
        [(
            Status::Failed,
            "the target process does not hold CAP_SYS_ADMIN".to_string()
        )]
    );
    let shells: Vec<String> = results(&report, SHELLS.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        shells,
        [
            "shell /bin/sh is not present",
            "shell /bin/busybox is not present"
        ]
    );
    assert_eq!(
        results(&report, PACKAGE_MANAGERS.id),
        [(
            Status::Failed,
            "package manager /usr/bin/apt-get is not present".to_string()
        )]
    );
    assert_eq!(
        results(&report, PRIVATE_KEYS.id),
        [(
            Status::Failed,
            "/etc/ssl/private/tls.key holds no private key".to_string()
        )]
    );
    let pkgs: Vec<String> = results(&report, PACKAGES.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        pkgs,
        [
            "dpkg package base-files 12.4",
            "apk package busybox 1.36.1-r29",
            "apk package musl 1.2.5-r0",
        ]
    );
}

#[test]
fn merged_usr_lists_each_program_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "usr/bin/dash", "", 0o755);
    symlink("dash", root.join("usr/bin/sh")).unwrap();
    symlink("usr/bin", root.join("bin")).unwrap();
    let report = run(root, None);
    let shells: Vec<String> = results(&report, SHELLS.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        shells,
        [
            "shell /usr/bin/sh is not present",
            "shell /usr/bin/dash is not present"
        ]
    );
    assert_eq!(statuses(&report, NON_ROOT.id), [Status::Skipped]);
}

#[test]
fn report_has_the_fields_saf_requires() {
    let dir = tempfile::tempdir().unwrap();
    distroless(dir.path());
    let json = serde_json::to_value(run(dir.path(), None)).unwrap();
    for key in ["platform", "profiles", "statistics", "version"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let profile = &json["profiles"][0];
    for key in [
        "name",
        "sha256",
        "supports",
        "attributes",
        "groups",
        "controls",
    ] {
        assert!(profile.get(key).is_some(), "profile.{key}");
    }
    assert_eq!(profile["sha256"].as_str().unwrap().len(), 64);
    for control in profile["controls"].as_array().unwrap() {
        for key in ["id", "impact", "refs", "tags", "source_location", "results"] {
            assert!(control.get(key).is_some(), "{}.{key}", control["id"]);
        }
        assert!(!control["tags"]["nist"].as_array().unwrap().is_empty());
        for result in control["results"].as_array().unwrap() {
            assert!(result["code_desc"].is_string());
            assert!(result["start_time"].is_string());
            assert!(["passed", "failed", "skipped"].contains(&result["status"].as_str().unwrap()));
        }
    }
}

#[test]
fn control_ids_are_unique_and_stable() {
    let ids: Vec<&str> = ALL_CONTROLS.iter().map(|c| c.id).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len());
    assert_eq!(ids[0], "SIDESCAN-FS-001");
}
