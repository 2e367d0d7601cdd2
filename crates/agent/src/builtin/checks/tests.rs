//! The checks on hand-made evidence: no filesystem, no process.

use super::*;
use crate::builtin::gather::{
    AccountFiles, DirFound, PackageFile, PackageFiles, PathCut, Probe, ProcessFacts, Programs,
    RootMount, SearchDir, Text,
};
use crate::builtin::limits::NotChecked;
use crate::builtin::listed::Listed;
use crate::builtin::policy::Policy;
use crate::builtin::root::Meta;
use crate::builtin::walk::{Found, Gap, Walked};
use crate::procfs::ProcStatus;
use rustix::fs::FileType;
use rustix::io::Errno;
use std::collections::BTreeMap;

fn gap(path: &str) -> Gap {
    Gap {
        path: path.into(),
        reason: "EACCES (Permission denied)".into(),
    }
}

fn with_walk(walk: Walked) -> Evidence {
    Evidence {
        walk,
        ..Evidence::default()
    }
}

fn statuses(findings: Vec<Finding>) -> Vec<(Status, String)> {
    findings
        .into_iter()
        .map(|f| (f.status, f.code_desc))
        .collect()
}

fn messages(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| f.message.clone().unwrap_or_default())
        .collect()
}

fn inputs() -> Inputs {
    Inputs::default()
}

#[test]
fn gaps_are_errors_unless_accepted_by_name() {
    let walked = Walked {
        dir_gaps: Listed {
            items: vec![gap("/root"), gap("/var/cache/apt/archives/partial")],
            more: 0,
        },
        file_gaps: Listed {
            items: vec![gap("/etc/shadow")],
            more: 0,
        },
        ..Walked::default()
    };
    let evidence = with_walk(walked);
    let mut policy = Policy::default();
    policy
        .add_inputs("allowed_unreadable_paths: [/var/cache/apt/archives/partial]\n")
        .unwrap();
    assert_eq!(
        statuses(setid(&evidence, &policy.inputs)),
        [
            (Status::Error, "directory /root was walked".to_string()),
            (
                Status::Skipped,
                "directory /var/cache/apt/archives/partial was walked".to_string()
            ),
        ]
    );
    // Only the content-based controls depend on unread files.
    assert!(
        statuses(private_keys(&evidence, &policy.inputs))
            .contains(&(Status::Error, "file /etc/shadow was read".to_string()))
    );
    // Accepting every gap lets the control pass, each gap still listed.
    policy
        .add_inputs("allowed_unreadable_paths: [/root, /var/cache/apt/archives/partial]\n")
        .unwrap();
    let findings = setid(&evidence, &policy.inputs);
    assert_eq!(findings.len(), 3);
    assert_eq!(findings[2].status, Status::Passed);
    assert!(
        findings[0]
            .message
            .as_deref()
            .unwrap()
            .contains("accepted by input")
    );
}

#[test]
fn an_unreadable_os_release_is_an_error() {
    let unreadable = Evidence {
        os_release: Text::Unreadable("/etc/os-release EACCES (Permission denied)".into()),
        ..Evidence::default()
    };
    let found = os_identity(&unreadable);
    assert_eq!(found[0].status, Status::Error);
    let absent = os_identity(&Evidence::default());
    assert_eq!(absent[0].status, Status::Skipped);
    let read = Evidence {
        os_release: Text::Read("ID=alpine\nVERSION_ID=3.20.0\n".into()),
        ..Evidence::default()
    };
    assert_eq!(
        statuses(os_identity(&read)),
        [(Status::Passed, "operating system is alpine".to_string())]
    );
}

#[test]
fn search_dirs_add_the_targets_path() {
    assert_eq!(search_dirs(None), BIN_DIRS);
    let dirs = search_dirs(Some("/opt/tools/bin:/usr/bin/:relative:/bin"));
    assert_eq!(dirs.len(), BIN_DIRS.len() + 1);
    assert_eq!(dirs.last().unwrap(), "/opt/tools/bin");
}

#[test]
fn a_long_path_is_searched_up_to_its_limit() {
    let path: Vec<String> = (0..100).map(|i| format!("/opt/p{i}")).collect();
    let (dirs, cut) = search_dirs_within(Some(&path.join(":")), 3);
    assert_eq!(dirs.len(), BIN_DIRS.len() + 3);
    assert_eq!(
        cut,
        Some(PathCut {
            entries: 97,
            first: "/opt/p3".into(),
            limit: 3
        })
    );
    // A hostile PATH of a million entries costs one pass, not a comparison per pair.
    let huge = "/x:".repeat(1_000_000);
    let start = std::time::Instant::now();
    let (dirs, cut) = search_dirs_within(Some(&huge), Limits::DEFAULT.path_dirs);
    assert_eq!(dirs.len(), BIN_DIRS.len() + 1);
    assert_eq!(cut, None);
    assert!(start.elapsed().as_secs() < 5);
}

use crate::builtin::limits::Limits;

#[test]
fn limits_reached_in_the_walk_are_not_checked_never_passed() {
    let limited = |path: &str, why: &str| NotChecked::new(path, why);
    let walked = Walked {
        entries: 40,
        files_read: 3,
        unwalked: Listed {
            items: vec![limited(
                "/srv/deep/d129",
                "was not walked: it is 129 directories below the root, over the depth limit of \
                 128",
            )],
            more: 2,
        },
        unread: Listed::of(vec![limited(
            "/srv/big.pem",
            "was not read: the scan reached its limit of 4096 bytes read",
        )]),
        ..Walked::default()
    };
    let evidence = with_walk(walked);
    for check in [world_writable, setid, private_keys, credential_files] {
        let findings = check(&evidence, &inputs());
        // Nothing failed or erred; what was not examined is skipped and says why.
        assert!(
            findings
                .iter()
                .all(|f| matches!(f.status, Status::Skipped | Status::Passed)),
            "{findings:?}"
        );
        let skipped: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.status == Status::Skipped)
            .collect();
        assert_eq!(skipped[0].code_desc, "directory /srv/deep/d129 was walked");
        assert_eq!(
            skipped[0].message.as_deref(),
            Some(
                "/srv/deep/d129 was not walked: it is 129 directories below the root, over the \
                 depth limit of 128: not checked"
            )
        );
        assert_eq!(skipped[1].code_desc, "2 more directories were walked");
    }
    let keys = private_keys(&evidence, &inputs());
    assert!(
        keys.iter().any(|f| f.status == Status::Skipped
            && f.code_desc == "file /srv/big.pem was read"
            && f.message
                .as_deref()
                .unwrap()
                .contains("limit of 4096 bytes")),
        "{keys:?}"
    );
    // The credential control lists only the credential candidates among unread files.
    assert!(
        !credential_files(&evidence, &inputs())
            .iter()
            .any(|f| f.code_desc.contains("big.pem"))
    );
}

#[test]
fn walk_findings_past_the_cap_still_fail() {
    let found = |i: usize| Found {
        path: format!("/srv/f{i:03}"),
        mode: 0o4755,
        uid: 0,
        gid: 0,
        is_dir: false,
    };
    let walked = Walked {
        setid: Listed {
            items: (0..3).map(found).collect(),
            more: 9,
        },
        ..Walked::default()
    };
    let findings = setid(&with_walk(walked), &inputs());
    assert_eq!(findings.len(), 4);
    assert_eq!(findings[3].status, Status::Failed);
    assert_eq!(findings[3].code_desc, "9 more findings");
}

fn meta(mode: u32, uid: u32) -> Meta {
    Meta {
        file_type: FileType::RegularFile,
        mode,
        uid,
        gid: 0,
        size: 10,
        dev: 1,
        ino: 2,
    }
}

#[test]
fn account_file_permissions_from_evidence() {
    let mut files = BTreeMap::new();
    files.insert("/etc/passwd".to_string(), Ok(meta(0o666, 0)));
    files.insert("/etc/group".to_string(), Ok(meta(0o644, 1000)));
    files.insert("/etc/shadow".to_string(), Err(Errno::LOOP));
    files.insert("/etc/gshadow".to_string(), Err(Errno::ACCESS));
    let evidence = Evidence {
        account_files: files,
        ..Evidence::default()
    };
    let findings = account_files(&evidence);
    let got: Vec<Status> = findings.iter().map(|f| f.status).collect();
    assert_eq!(
        got,
        [
            Status::Failed,
            Status::Failed,
            Status::Skipped,
            Status::Error
        ]
    );
    assert_eq!(
        messages(&findings)[..2],
        ["/etc/passwd: mode is 0666", "/etc/group: owner is uid 1000"]
    );
    assert!(messages(&findings)[2].starts_with("/etc/shadow is a symlink loop"));
    assert!(messages(&findings)[2].ends_with("not checked"));
    // Evidence that was never gathered is not a pass.
    assert_eq!(account_files(&Evidence::default())[0].status, Status::Error);
}

fn accounts_evidence(passwd: Text, shadow: Text, login_defs: Text) -> Evidence {
    Evidence {
        accounts: AccountFiles {
            passwd,
            shadow,
            login_defs,
        },
        ..Evidence::default()
    }
}

fn over(path: &str) -> Text {
    Text::NotChecked(NotChecked::new(
        path,
        "is 2097152 bytes, over the 1048576 byte limit for account files",
    ))
}

#[test]
fn account_files_over_their_limit_are_not_checked() {
    let evidence = accounts_evidence(over("/etc/passwd"), Text::Absent, Text::Absent);
    for findings in [
        uid0_accounts(&evidence, &inputs()),
        empty_passwords(&evidence),
        system_account_shells(&evidence, &inputs()),
    ] {
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].status, Status::Skipped);
        assert_eq!(
            findings[0].message.as_deref(),
            Some(
                "/etc/passwd is 2097152 bytes, over the 1048576 byte limit for account files: \
                 not checked"
            )
        );
    }
    // A shadow file over the limit: passwd is still judged, shadow says it was not checked.
    let passwd = "root:x:0:0::/root:/bin/sh\nnopw::1001:1001::/home/nopw:/bin/sh\n";
    let evidence = accounts_evidence(Text::Read(passwd.into()), over("/etc/shadow"), Text::Absent);
    assert_eq!(
        statuses(empty_passwords(&evidence)),
        [
            (Status::Skipped, "/etc/shadow was read".to_string()),
            (
                Status::Failed,
                "account nopw has a password or is locked".to_string()
            ),
        ]
    );
    let clean = accounts_evidence(
        Text::Read("root:x:0:0::/root:/bin/sh\n".into()),
        over("/etc/shadow"),
        Text::NotChecked(NotChecked::new(
            "/etc/login.defs",
            "is 70000 bytes, over the 65536 byte limit for configuration files",
        )),
    );
    let findings = empty_passwords(&clean);
    assert_eq!(findings[1].status, Status::Passed);
    assert_eq!(
        findings[1].code_desc,
        "no empty password field in /etc/passwd (/etc/shadow not checked)"
    );
    let shells = system_account_shells(&clean, &inputs());
    assert_eq!(shells[0].status, Status::Skipped);
    assert!(
        shells[0]
            .message
            .as_deref()
            .unwrap()
            .ends_with("not checked; UID_MIN 1000 assumed")
    );
}

#[test]
fn account_findings_are_capped_per_control() {
    let passwd: String = (0..30)
        .map(|i| format!("alias{i:02}:x:0:0::/root:/bin/sh\n"))
        .collect();
    let mut evidence = accounts_evidence(Text::Read(passwd), Text::Absent, Text::Absent);
    evidence.limits.findings = 10;
    let findings = uid0_accounts(&evidence, &inputs());
    assert_eq!(findings.len(), 11);
    assert_eq!(findings[9].code_desc, "account alias09 does not have UID 0");
    assert_eq!(
        (findings[10].status, findings[10].code_desc.as_str()),
        (Status::Failed, "20 more findings")
    );
    assert!(
        findings[10]
            .message
            .as_deref()
            .unwrap()
            .contains("limit 10 per control")
    );
}

fn programs_evidence(dirs: Vec<SearchDir>, path_cut: Option<PathCut>) -> Evidence {
    Evidence {
        programs: Programs { dirs, path_cut },
        ..Evidence::default()
    }
}

fn searched(dir: &str, probes: &[(&'static str, Probe)]) -> SearchDir {
    SearchDir {
        dir: dir.into(),
        found: DirFound::Searched(probes.iter().cloned().collect()),
    }
}

#[test]
fn programs_from_evidence() {
    let evidence = programs_evidence(
        vec![
            searched(
                "/usr/bin",
                &[
                    ("sh", Probe::Executable),
                    ("apt-get", Probe::Executable),
                    (
                        "bash",
                        Probe::Unexaminable("EACCES (Permission denied)".into()),
                    ),
                ],
            ),
            SearchDir {
                dir: "/bin".into(),
                found: DirFound::NotSearched,
            },
            SearchDir {
                dir: "/opt/bin".into(),
                found: DirFound::Unexaminable("EIO (Input/output error)".into()),
            },
        ],
        None,
    );
    let mut policy = Policy::default();
    policy
        .add_inputs("allowed_shells: [/usr/bin/sh]\n")
        .unwrap();
    assert_eq!(
        statuses(shells(&evidence, &policy.inputs)),
        [
            (
                Status::Passed,
                "shell /usr/bin/sh is not present".to_string()
            ),
            (
                Status::Error,
                "shell /usr/bin/bash is not present".to_string()
            ),
            (
                Status::Error,
                "/opt/bin was searched for a shell".to_string()
            ),
        ]
    );
    assert_eq!(
        statuses(package_managers(&evidence, &policy.inputs))[0],
        (
            Status::Failed,
            "package manager /usr/bin/apt-get is not present".to_string()
        )
    );
    // A PATH cut at its limit: the directories searched pass, the rest is not checked.
    let cut = programs_evidence(
        vec![searched("/usr/bin", &[])],
        Some(PathCut {
            entries: 936,
            first: "/opt/p64".into(),
            limit: 64,
        }),
    );
    let findings = shells(&cut, &inputs());
    assert_eq!(findings[0].status, Status::Skipped);
    assert_eq!(
        findings[0].message.as_deref(),
        Some(
            "PATH lists 936 more directories than the limit of 64 searched, from /opt/p64 on: not checked"
        )
    );
    assert_eq!(
        (findings[1].status, findings[1].code_desc.as_str()),
        (Status::Passed, "no shell in /usr/bin")
    );
}

fn process(tweak: impl FnOnce(&mut ProcessFacts)) -> Evidence {
    let mut facts = ProcessFacts {
        status: ProcStatus {
            name: "app".into(),
            uid: [1000; 4],
            no_new_privs: Some(true),
            seccomp: Some(2),
            ..ProcStatus::default()
        },
        mountinfo: Ok("7 1 0:31 / / ro,relatime - overlay overlay rw\n".into()),
        lsm: Ok(None),
        path_env: Ok(None),
        environ_over: None,
    };
    tweak(&mut facts);
    Evidence {
        process: Some(facts),
        root_mount: RootMount {
            mount_id: Some(7),
            read_only: Ok(false),
        },
        ..Evidence::default()
    }
}

#[test]
fn process_controls_from_evidence() {
    let hardened = process(|_| {});
    for check in [non_root, no_new_privs, seccomp, read_only_root] {
        assert_eq!(check(&hardened)[0].status, Status::Passed);
    }
    assert_eq!(lsm(&hardened)[0].status, Status::Skipped);
    let root = process(|p| {
        p.status.uid = [0; 4];
        p.status.no_new_privs = Some(false);
        p.mountinfo = Err("EACCES (Permission denied)".into());
    });
    assert_eq!(non_root(&root)[0].status, Status::Failed);
    assert_eq!(no_new_privs(&root)[0].status, Status::Failed);
    // Without mountinfo the root's statfs flag decides: read-write here.
    assert_eq!(
        read_only_root(&root)[0].message.as_deref(),
        Some("root filesystem flags: rw: the process can change the image's files")
    );
    // An environment over its limit without PATH in the part read: the PATH is not checked.
    let long_env = process(|p| p.environ_over = Some(1 << 20));
    let findings = shells(&long_env, &inputs());
    assert_eq!(findings[0].status, Status::Skipped);
    assert!(
        findings[0]
            .message
            .as_deref()
            .unwrap()
            .starts_with("/proc/<pid>/environ is over the 1048576 byte limit")
    );
    // A directory scan: every process control is skipped.
    for check in [non_root, capabilities, no_new_privs, seccomp, lsm] {
        assert_eq!(check(&Evidence::default())[0].status, Status::Skipped);
    }
}

fn package_file(path: &str, manager: &'static str, text: Text) -> PackageFile {
    PackageFile {
        path: path.into(),
        manager,
        text,
    }
}

#[test]
fn packages_from_evidence() {
    let evidence = Evidence {
        packages: PackageFiles {
            files: vec![
                package_file(
                    "/var/lib/dpkg/status",
                    "dpkg",
                    Text::NotChecked(NotChecked::new(
                        "/var/lib/dpkg/status",
                        "is 1099511627776 bytes, over the 16777216 byte limit for package \
                         databases",
                    )),
                ),
                package_file(
                    "/lib/apk/db/installed",
                    "apk",
                    Text::Read(
                        "P:musl\nV:1.2.5-r0\n\nP:busybox\nV:1.36.1-r29\n\nP:zlib\nV:1\n".into(),
                    ),
                ),
            ],
            errors: vec!["/var/lib/dpkg/status.d EACCES (Permission denied)".into()],
            not_checked: vec![],
        },
        limits: Limits {
            packages: 2,
            ..Limits::DEFAULT
        },
        ..Evidence::default()
    };
    let findings = packages(&evidence);
    assert_eq!(
        statuses(findings.clone()),
        [
            (Status::Error, "the package databases were read".to_string()),
            (
                Status::Skipped,
                "the package databases were read".to_string()
            ),
            (Status::Passed, "apk package busybox 1.36.1-r29".to_string()),
            (Status::Passed, "apk package musl 1.2.5-r0".to_string()),
            (Status::Passed, "1 more packages".to_string()),
        ]
    );
    assert!(messages(&findings)[1].starts_with("/var/lib/dpkg/status is 1099511627776 bytes"));
    assert!(messages(&findings)[1].ends_with("package databases: not checked"));
    // Nothing found anywhere: skipped, as before.
    assert_eq!(
        statuses(packages(&Evidence::default())),
        [(Status::Skipped, "installed packages".to_string())]
    );
}

#[test]
fn every_control_has_one_check_in_report_order() {
    let ids: Vec<&str> = all().iter().map(|c| c.def.id).collect();
    let expected: Vec<&str> = crate::builtin::ALL_CONTROLS.iter().map(|c| c.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(all().iter().filter(|c| c.walk_based).count(), 4);
}

#[test]
fn cap_counts_the_rest_by_status() {
    let mut out: Vec<Finding> = (0..4)
        .map(|i| Finding::failed(format!("f{i}"), "x"))
        .collect();
    out.push(Finding::error("e", "x"));
    out.push(Finding::passed("p"));
    let capped = cap(out, 3);
    assert_eq!(
        statuses(capped),
        [
            (Status::Failed, "f0".to_string()),
            (Status::Failed, "f1".to_string()),
            (Status::Failed, "f2".to_string()),
            (Status::Failed, "1 more findings".to_string()),
            (Status::Error, "1 more findings".to_string()),
            (Status::Passed, "1 more findings".to_string()),
        ]
    );
}
