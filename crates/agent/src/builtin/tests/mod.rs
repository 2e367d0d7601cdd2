use super::controls::*;
use super::runtime::Lsm;
use super::*;
use crate::hdf::{Report, Status};
use crate::procfs::{CapSet, ProcStatus};
use rustix::fd::AsFd;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

fn write(root: &Path, rel: &str, content: &str, mode: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A hardened process: non-root, no capabilities, no_new_privs, seccomp filter, read-only root
/// (mount 1 in its mountinfo), AppArmor enforcing.
fn hardened(uid: u32) -> TargetProcess {
    process(uid, 0, |_| {})
}

fn process(uid: u32, caps: u64, tweak: impl FnOnce(&mut ProcStatus)) -> TargetProcess {
    let mut status = ProcStatus {
        name: "app".into(),
        uid: [uid; 4],
        gid: [uid; 4],
        cap_prm: CapSet(caps),
        cap_eff: CapSet(caps),
        no_new_privs: Some(true),
        seccomp: Some(2),
        ..ProcStatus::default()
    };
    tweak(&mut status);
    TargetProcess::from_parts(
        status,
        Err("not read in unit tests".into()),
        Ok(Some(Lsm::AppArmor {
            profile: "cri-containerd.apparmor.d".into(),
            mode: Some("enforce".into()),
        })),
        Ok(Some(
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        )),
    )
}

fn run_with(root: &Path, process: Option<&TargetProcess>, policy: &Policy) -> Report {
    let fd = root::open_dir_path(root).unwrap();
    scan(
        Target {
            root: fd.as_fd(),
            process,
            target_id: Some("default/app"),
            policy,
        },
        "2026-11-26T15:00:00Z".parse().unwrap(),
    )
    .unwrap()
    .report
}

fn run(root: &Path, process: Option<&TargetProcess>) -> Report {
    run_with(root, process, &Policy::default())
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

fn counts(report: &Report) -> std::collections::BTreeMap<String, u64> {
    crate::counts::control_counts(&serde_json::to_vec(report).unwrap()).unwrap()
}

/// A distroless-like root: account files, os-release via an absolute link, dpkg status.d, one
/// static binary, nothing else.
fn distroless(root: &Path) {
    write(
        root,
        "etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n",
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
    write(root, "app/server", "\x7fELF\0\0", 0o755);
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
}

const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----\n";

#[test]
fn clean_distroless_root_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    distroless(dir.path());
    // A read-only root cannot be faked in a temp dir: the root-filesystem control fails here.
    let p = hardened(65532);
    let report = run(dir.path(), Some(&p));
    let controls = &report.profiles[0].controls;
    assert_eq!(controls.len(), ALL_CONTROLS.len());
    for def in ALL_CONTROLS {
        let expected = match def.id {
            id if id == SENSITIVE_FILES.id => continue,
            id if id == READ_ONLY_ROOT.id => vec![Status::Failed],
            _ => vec![Status::Passed],
        };
        assert_eq!(statuses(&report, def.id), expected, "{}", def.id);
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
    assert_eq!(report.platform.target_id.as_deref(), Some("default/app"));
    assert_eq!(
        results(&report, PACKAGES.id)[0].1,
        "dpkg package base-files 12.4"
    );
    let stats = report.statistics.controls.unwrap();
    assert_eq!(stats.total, ALL_CONTROLS.len() as u64);
    assert_eq!(stats.failed.total, 1);
    assert_eq!(counts(&report)["error"], 0);
}

/// A root with a finding for every control, scanned with a root process holding
/// CAP_SYS_ADMIN, without no_new_privs or seccomp.
fn bad_root_report() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    write(
        root,
        "etc/shadow",
        "root:*:19000:0:99999:7:::\nnopw::19000::::::\n",
        0o644,
    );
    write(
        root,
        "etc/passwd",
        "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/root:/bin/sh\nnopw:x:1001:1001::/home/nopw:/bin/sh\n\
         backup:x:34:34::/var/backups:/bin/bash\n",
        0o666,
    );
    write(root, "usr/bin/passwd", "", 0o4755);
    write(root, "tmp/.hidden/su", "", 0o4755);
    write(root, "bin/busybox", "", 0o755);
    symlink("busybox", root.join("bin/sh")).unwrap();
    write(root, "usr/bin/apt-get", "", 0o755);
    write(root, "usr/bin/bash", "", 0o644); // not executable: not a usable shell
    write(root, "usr/local/sbin/sh", "", 0o755);
    write(root, "etc/ssl/private/tls.key", KEY, 0o600);
    write(root, "srv/tls/tls.crt", KEY, 0o644);
    write(root, "tmp/stolen", KEY, 0o644);
    write(
        root,
        "root/.ssh/authorized_keys",
        "ssh-ed25519 AAAA user\n",
        0o600,
    );
    write(
        root,
        "opt/certs/ca.pem",
        "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
        0o644,
    );
    write(
        root,
        "home/u/.docker/config.json",
        r#"{"auths":{"registry.example":{"auth":"c2lkZXNjYW46U0VDUkVUVE9LRU4="}}}"#,
        0o600,
    );
    write(root, "srv/data.txt", "", 0o666);
    write(
        root,
        "lib/apk/db/installed",
        "P:musl\nV:1.2.5-r0\n\nP:busybox\nV:1.36.1-r29\n",
        0o644,
    );

    let p = process(0, 0xa80425fb | 1 << 21, |s| {
        s.no_new_privs = Some(false);
        s.seccomp = Some(0);
    });
    run(root, Some(&p))
}

#[test]
fn findings_on_a_bad_root() {
    let report = bad_root_report();

    let files = results(&report, SENSITIVE_FILES.id);
    assert_eq!(files[0].0, Status::Failed, "{files:?}"); // passwd 0666
    assert_eq!(files[2].0, Status::Failed, "{files:?}"); // shadow 0644
    let ww: Vec<String> = results(&report, WORLD_WRITABLE.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        ww,
        [
            "file /etc/passwd is not world-writable",
            "file /srv/data.txt is not world-writable"
        ]
    );
    let setid: Vec<String> = results(&report, SETID_BINARIES.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        setid,
        [
            "/tmp/.hidden/su has neither setuid nor setgid",
            "/usr/bin/passwd has neither setuid nor setgid"
        ]
    );
    assert_eq!(statuses(&report, NON_ROOT.id), [Status::Failed]);
    assert_eq!(
        results(&report, CAPABILITIES.id),
        [(
            Status::Failed,
            "the target process does not hold CAP_SYS_ADMIN".to_string()
        )]
    );
    assert_eq!(statuses(&report, NO_NEW_PRIVS.id), [Status::Failed]);
    assert_eq!(statuses(&report, SECCOMP.id), [Status::Failed]);
}

#[test]
fn software_key_and_account_findings_on_a_bad_root() {
    let report = bad_root_report();
    let shells: Vec<String> = results(&report, SHELLS.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        shells,
        [
            "shell /usr/local/sbin/sh is not present",
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
    let keys: Vec<String> = results(&report, PRIVATE_KEYS.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        keys,
        [
            "/etc/ssl/private/tls.key holds no private key",
            "/srv/tls/tls.crt holds no private key",
            "/tmp/stolen holds no private key"
        ]
    );
    assert_eq!(
        results(&report, CREDENTIAL_FILES.id),
        [(
            Status::Failed,
            "/home/u/.docker/config.json holds no credentials".to_string()
        )]
    );
    assert_eq!(
        results(&report, UID0_ACCOUNTS.id),
        [(
            Status::Failed,
            "account toor does not have UID 0".to_string()
        )]
    );
    assert_eq!(
        results(&report, EMPTY_PASSWORDS.id),
        [(
            Status::Failed,
            "account nopw has a password or is locked".to_string()
        )]
    );
    assert_eq!(
        results(&report, SYSTEM_ACCOUNT_SHELLS.id),
        [(
            Status::Failed,
            "system account backup has no login shell".to_string()
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
    // No secret of a credential file or key appears in the report.
    let json = serde_json::to_string(&report).unwrap();
    for secret in [
        "c2lkZXNjYW46U0VDUkVUVE9LRU4=",
        "MIIBOgIBAAJBAKj34",
        "SECRETTOKEN",
    ] {
        assert!(!json.contains(secret), "{secret} leaked into the report");
    }
}

#[test]
fn merged_usr_lists_each_program_once_and_the_targets_path_is_searched() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "usr/bin/dash", "", 0o755);
    symlink("dash", root.join("usr/bin/sh")).unwrap();
    symlink("usr/bin", root.join("bin")).unwrap();
    write(root, "opt/tools/bin/bash", "", 0o755);
    let mut p = hardened(1000);
    p.path_env = Ok(Some("/opt/tools/bin:/usr/bin:/bin".into()));
    let report = run(root, Some(&p));
    let shells: Vec<String> = results(&report, SHELLS.id)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        shells,
        [
            "shell /usr/bin/sh is not present",
            "shell /usr/bin/dash is not present",
            "shell /opt/tools/bin/bash is not present"
        ]
    );
    // Without a process (a directory scan) the process controls are skipped.
    let report = run(root, None);
    assert_eq!(statuses(&report, NON_ROOT.id), [Status::Skipped]);
    assert_eq!(statuses(&report, SHELLS.id).len(), 2);
}

#[test]
fn unreadable_environ_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    distroless(dir.path());
    let mut p = hardened(1000);
    p.path_env = Err("EACCES (Permission denied)".into());
    let report = run(dir.path(), Some(&p));
    assert_eq!(statuses(&report, SHELLS.id), [Status::Error]);
}

#[test]
fn an_absolute_symlink_out_of_the_root_is_not_followed() {
    // The key directory is a link to a directory that exists only on the scanner's side.
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "scanner.key", KEY, 0o600);
    let dir = tempfile::tempdir().unwrap();
    distroless(dir.path());
    std::fs::create_dir_all(dir.path().join("etc/pki/tls")).unwrap();
    symlink(outside.path(), dir.path().join("etc/pki/tls/private")).unwrap();
    let report = run(dir.path(), None);
    assert_eq!(statuses(&report, PRIVATE_KEYS.id), [Status::Passed]);
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("scanner.key"), "{json}");
}

#[test]
fn allow_lists_and_waivers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    write(root, "usr/bin/passwd", "", 0o4755);
    write(root, "usr/bin/su", "", 0o4755);
    write(root, "bin/sh", "", 0o755);
    write(root, "srv/tls.key", KEY, 0o600);
    let mut policy = Policy::default();
    policy
        .add_inputs("allowed_setid_binaries: [/usr/bin/passwd, /usr/bin/su]\n")
        .unwrap();
    policy
        .add_waivers(
            "SIDESCAN-SW-001:\n  justification: the entrypoint is a script\n  run: false\n  \
             expiration_date: 2099-01-01\n\
             SIDESCAN-KEY-001:\n  justification: expired\n  run: false\n  expiration_date: 2020-01-01\n",
        )
        .unwrap();
    let p = hardened(1000);
    let report = run_with(root, Some(&p), &policy);
    // Allowed setuid binaries pass, each named.
    let setid = results(&report, SETID_BINARIES.id);
    assert_eq!(setid.len(), 2);
    assert!(setid.iter().all(|(s, _)| *s == Status::Passed), "{setid:?}");
    // The waived control is skipped and counts as Not Applicable.
    let shells = &report.profiles[0]
        .controls
        .iter()
        .find(|c| c.id == SHELLS.id)
        .unwrap();
    assert_eq!(shells.results[0].code_desc, "No-op");
    assert!(shells.waiver_data.as_ref().unwrap().skipped_due_to_waiver);
    let parsed = sidescan_eval::hdf::parse(&serde_json::to_vec(&report).unwrap()).unwrap();
    let status_of = |id: &str| parsed.controls.iter().find(|c| c.id == id).unwrap().status;
    use sidescan_eval::hdf::Status as Saf;
    assert_eq!(status_of(SHELLS.id), Saf::NotApplicable);
    // The expired waiver does not apply.
    assert_eq!(status_of(PRIVATE_KEYS.id), Saf::Failed);
    assert_eq!(status_of(SETID_BINARIES.id), Saf::Passed);
    assert_eq!(
        report.profiles[0].attributes[0]["name"],
        "allowed_setid_binaries"
    );
}

#[test]
fn unreadable_parts_make_the_controls_errors() {
    if rustix::process::geteuid().is_root() {
        // Root reads 0000 directories: the host tests cover unreadable trees with real modes.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    distroless(root);
    write(root, "root/secret/id_rsa", KEY, 0o600);
    std::fs::set_permissions(root.join("root"), std::fs::Permissions::from_mode(0o000)).unwrap();
    let report = run(root, None);
    std::fs::set_permissions(root.join("root"), std::fs::Permissions::from_mode(0o700)).unwrap();
    for id in [
        WORLD_WRITABLE.id,
        SETID_BINARIES.id,
        PRIVATE_KEYS.id,
        CREDENTIAL_FILES.id,
    ] {
        let r = results(&report, id);
        assert!(
            r.iter()
                .any(|(s, d)| *s == Status::Error && d == "directory /root was walked"),
            "{id}: {r:?}"
        );
    }
    assert!(counts(&report)["error"] >= 4);
}

#[test]
fn report_has_the_fields_saf_requires() {
    let dir = tempfile::tempdir().unwrap();
    distroless(dir.path());
    let json = serde_json::to_value(run(dir.path(), None)).unwrap();
    for key in ["platform", "profiles", "statistics", "version"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    let stats = &json["statistics"]["controls"];
    for key in ["passed", "failed", "skipped"] {
        assert!(stats[key]["total"].is_u64(), "statistics.controls.{key}");
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
    assert_eq!(profile["version"], PROFILE_VERSION);
    assert_eq!(profile["sha256"].as_str().unwrap().len(), 64);
    for control in profile["controls"].as_array().unwrap() {
        for key in ["id", "impact", "refs", "tags", "source_location", "results"] {
            assert!(control.get(key).is_some(), "{}.{key}", control["id"]);
        }
        assert!(!control["tags"]["nist"].as_array().unwrap().is_empty());
        assert!(!control["tags"]["cci"].as_array().unwrap().is_empty());
        let fix = control["descriptions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["label"] == "fix")
            .unwrap();
        assert!(!fix["data"].as_str().unwrap().is_empty());
        for result in control["results"].as_array().unwrap() {
            assert!(result["code_desc"].is_string());
            assert!(result["start_time"].is_string());
            assert!(result["run_time"].is_f64());
            assert!(
                ["passed", "failed", "skipped", "error"]
                    .contains(&result["status"].as_str().unwrap())
            );
        }
    }
}

mod limits;
