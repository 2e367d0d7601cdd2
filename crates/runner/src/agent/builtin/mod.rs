//! The builtin baseline: native checks that need no Ruby and work on distroless targets. It reads
//! the target's root directly (through `/proc/<pid>/root`, or any directory in tests) and the
//! target process' `/proc/<pid>/status`, and writes HDF.
//!
//! Every check is a control with a stable id; one result per finding (or one passed result when
//! there is none). Inventory controls (OS identity, packages) have impact 0: informational.

pub mod inventory;
pub mod walk;

use crate::agent::hdf::{
    Control, ControlResult, Description, Group, Platform, Profile, Report, SourceLocation,
    Statistics, Status, Tags,
};
use crate::agent::procfs::{CapSet, ProcStatus};
use sha2::{Digest, Sha256};
use sidescan_eval::hdf::severity_from_impact;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use walk::{WalkFindings, read_in_root, resolve_in_root};

pub const PROFILE_NAME: &str = "sidescan-baseline";
/// Bump when a control's logic or metadata changes (the profile sha256 changes with it).
pub const PROFILE_VERSION: &str = "1.0.0";

/// A control's fixed metadata.
#[derive(Debug, Clone, Copy)]
pub struct ControlDef {
    pub id: &'static str,
    pub title: &'static str,
    pub desc: &'static str,
    pub check: &'static str,
    pub impact: f64,
    pub nist: &'static [&'static str],
}

pub const SENSITIVE_FILES: ControlDef = ControlDef {
    id: "SIDESCAN-FS-001",
    title: "Account files are owned by root and not writable by others",
    desc: "/etc/passwd and /etc/group must be owned by root with mode 0644 or stricter; \
           /etc/shadow and /etc/gshadow owned by root with mode 0640 or stricter, so that no \
           unprivileged user can change accounts or read password hashes.",
    check: "stat each file (following links inside the target root); fail when the owner is not \
            uid 0 or the mode allows more than the limit; skip files that do not exist",
    impact: 0.7,
    nist: &["AC-3", "AC-6", "CM-6 b"],
};
pub const WORLD_WRITABLE: ControlDef = ControlDef {
    id: "SIDESCAN-FS-002",
    title: "No world-writable files or directories outside temporary paths",
    desc: "Files and directories writable by every user let any process of the container alter \
           programs or configuration. Temporary paths (/tmp, /var/tmp, /dev/shm, /run/lock) are \
           exempt.",
    check: "walk the target root (no symlinks followed, one filesystem, /proc /sys /dev \
            skipped); fail for each non-symlink entry with the o+w bit",
    impact: 0.5,
    nist: &["AC-3", "AC-6", "CM-6 b"],
};
pub const SETID_BINARIES: ControlDef = ControlDef {
    id: "SIDESCAN-FS-003",
    title: "No setuid or setgid executables",
    desc: "setuid and setgid executables let a process gain the file owner's privileges; a \
           container image rarely needs any.",
    check: "walk the target root; fail for each regular file with the setuid or setgid bit",
    impact: 0.5,
    nist: &["AC-6 (1)", "AC-6 (10)", "CM-7 a"],
};
pub const NON_ROOT: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-001",
    title: "The container's process does not run as root",
    desc: "A process running as uid 0 holds root's file access in the container and is one \
           kernel flaw away from root on the node.",
    check: "read Uid from /proc/<pid>/status of the target process; fail when the effective uid \
            is 0",
    impact: 0.7,
    nist: &["AC-6", "AC-6 (2)", "CM-6 b"],
};
pub const CAPABILITIES: ControlDef = ControlDef {
    id: "SIDESCAN-PROC-002",
    title: "The container's process holds no administrative capabilities",
    desc: "CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_SYS_RAWIO and CAP_BPF \
           give a process control over the kernel, the network stack or other processes.",
    check: "decode CapEff from /proc/<pid>/status of the target process; fail for each of the \
            listed capabilities present",
    impact: 0.7,
    nist: &["AC-6", "AC-6 (10)", "CM-7 a"],
};
pub const SHELLS: ControlDef = ControlDef {
    id: "SIDESCAN-SW-001",
    title: "No interactive shells in the image",
    desc: "A shell lets anyone who gains code execution in the container run arbitrary commands; \
           minimal and distroless images ship none.",
    check: "look for sh, bash, dash, ash, zsh, ksh, mksh, csh, tcsh and busybox in /bin, \
            /sbin, /usr/bin, /usr/sbin and /usr/local/bin (links followed inside the target)",
    impact: 0.3,
    nist: &["CM-7 a", "CM-7 (1)"],
};
pub const PACKAGE_MANAGERS: ControlDef = ControlDef {
    id: "SIDESCAN-SW-002",
    title: "No package managers in the image",
    desc: "A package manager lets an intruder install tools in the running container; images \
           should be built, not changed at run time.",
    check: "look for apt, apt-get, dpkg, apk, yum, dnf, microdnf, rpm, zypper and pip in the \
            binary directories",
    impact: 0.3,
    nist: &["CM-7 a", "CM-11"],
};
pub const PRIVATE_KEYS: ControlDef = ControlDef {
    id: "SIDESCAN-KEY-001",
    title: "No private keys in the image",
    desc: "Private keys baked into an image are shared by every copy of it and readable by \
           anyone who can pull it; they belong in mounted secrets.",
    check: "read files named like keys (*.key, *.pem, *.p8, id_rsa, ssh_host_*_key) anywhere \
            and every file in /root/.ssh, /home/*/.ssh, /etc/ssh, /etc/ssl/private and \
            /etc/pki/tls/private; fail for each holding a PEM private key block",
    impact: 0.7,
    nist: &["SC-12", "SC-28", "IA-5 (2)"],
};
pub const OS_IDENTITY: ControlDef = ControlDef {
    id: "SIDESCAN-INV-001",
    title: "Operating system identity",
    desc: "The distribution and release the image is built from, from /etc/os-release or \
           /usr/lib/os-release (informational).",
    check: "parse os-release",
    impact: 0.0,
    nist: &["CM-8 a"],
};
pub const PACKAGES: ControlDef = ControlDef {
    id: "SIDESCAN-INV-002",
    title: "Installed packages",
    desc: "The packages recorded by dpkg (/var/lib/dpkg/status and status.d) or apk \
           (/lib/apk/db/installed), one result per package (informational).",
    check: "parse the package databases",
    impact: 0.0,
    nist: &["CM-8 a", "CM-8 (3)"],
};

pub const ALL_CONTROLS: [ControlDef; 10] = [
    SENSITIVE_FILES,
    WORLD_WRITABLE,
    SETID_BINARIES,
    NON_ROOT,
    CAPABILITIES,
    SHELLS,
    PACKAGE_MANAGERS,
    PRIVATE_KEYS,
    OS_IDENTITY,
    PACKAGES,
];

/// (path, owner uid, most permissive mode allowed).
const ACCOUNT_FILES: [(&str, u32); 4] = [
    ("/etc/passwd", 0o644),
    ("/etc/group", 0o644),
    ("/etc/shadow", 0o640),
    ("/etc/gshadow", 0o640),
];
const FORBIDDEN_CAPS: [u32; 6] = [21, 12, 16, 19, 17, 39];
const BIN_DIRS: [&str; 5] = ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin"];
const SHELL_NAMES: [&str; 10] = [
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "busybox",
];
const PACKAGE_MANAGER_NAMES: [&str; 11] = [
    "apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pip", "pip3",
];
const KEY_DIRS: [&str; 4] = [
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/root/.ssh",
];

/// What the target is, for the builtin backend.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The target's `/` (`/proc/<pid>/root`).
    pub root: &'a Path,
    /// The target process' status; `None` skips the process controls.
    pub process: Option<&'a ProcStatus>,
}

/// The outcome of a builtin scan.
#[derive(Debug, Clone)]
pub struct BuiltinScan {
    pub report: Report,
    pub os_release: BTreeMap<String, String>,
    pub entries_walked: u64,
}

/// A result-to-be: status and text.
struct Finding {
    status: Status,
    code_desc: String,
    message: Option<String>,
}

impl Finding {
    fn passed(code_desc: impl Into<String>) -> Finding {
        Finding {
            status: Status::Passed,
            code_desc: code_desc.into(),
            message: None,
        }
    }
    fn failed(code_desc: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            status: Status::Failed,
            code_desc: code_desc.into(),
            message: Some(message.into()),
        }
    }
    fn skipped(code_desc: impl Into<String>, why: impl Into<String>) -> Finding {
        Finding {
            status: Status::Skipped,
            code_desc: code_desc.into(),
            message: Some(why.into()),
        }
    }
}

/// Scans `target` and builds the HDF report. `started` stamps the results.
pub fn scan(target: Target<'_>, started: jiff::Timestamp) -> std::io::Result<BuiltinScan> {
    let clock = std::time::Instant::now();
    let walked = walk::walk(target.root)?;
    let os_release = read_os_release(target.root);
    let mut findings: Vec<(ControlDef, Vec<Finding>)> = vec![
        (SENSITIVE_FILES, account_files(target.root)),
        (WORLD_WRITABLE, world_writable(&walked)),
        (SETID_BINARIES, setid(&walked)),
        (NON_ROOT, non_root(target.process)),
        (CAPABILITIES, capabilities(target.process)),
        (SHELLS, present(target.root, &SHELL_NAMES, "shell")),
        (
            PACKAGE_MANAGERS,
            present(target.root, &PACKAGE_MANAGER_NAMES, "package manager"),
        ),
        (PRIVATE_KEYS, private_keys(target.root, &walked)),
        (OS_IDENTITY, os_identity(&os_release)),
        (PACKAGES, packages(target.root)),
    ];
    if !walked.other_filesystems.is_empty() || !walked.unreadable.is_empty() {
        tracing::debug!(
            other_filesystems = walked.other_filesystems.len(),
            unreadable = walked.unreadable.len(),
            "walk left parts of the tree out"
        );
    }
    let start_time = started.to_string();
    let controls = findings
        .drain(..)
        .map(|(def, found)| control(def, found, &start_time))
        .collect();
    let platform = Platform {
        name: os_release
            .get("ID")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        release: os_release
            .get("VERSION_ID")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        target_id: None,
    };
    let report = Report {
        platform,
        profiles: vec![profile(controls)],
        statistics: Statistics {
            duration: clock.elapsed().as_secs_f64(),
        },
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok(BuiltinScan {
        report,
        os_release,
        entries_walked: walked.entries,
    })
}

fn control(def: ControlDef, found: Vec<Finding>, start_time: &str) -> Control {
    Control {
        id: def.id.into(),
        title: def.title.into(),
        desc: def.desc.into(),
        descriptions: vec![
            Description {
                label: "default".into(),
                data: def.desc.into(),
            },
            Description {
                label: "check".into(),
                data: def.check.into(),
            },
        ],
        impact: def.impact,
        refs: vec![],
        tags: Tags {
            nist: def.nist.iter().map(|s| s.to_string()).collect(),
            severity: severity_from_impact(def.impact).into(),
            extra: BTreeMap::new(),
        },
        code: format!("# builtin check {}: {}", def.id, def.check),
        source_location: SourceLocation {
            reference: "crates/runner/src/builtin/mod.rs".into(),
            line: 0,
        },
        results: found
            .into_iter()
            .map(|f| ControlResult {
                status: f.status,
                code_desc: f.code_desc,
                run_time: 0.0,
                start_time: start_time.to_string(),
                skip_message: (f.status == Status::Skipped)
                    .then(|| f.message.clone())
                    .flatten(),
                message: (f.status != Status::Skipped).then_some(f.message).flatten(),
            })
            .collect(),
    }
}

fn profile(controls: Vec<Control>) -> Profile {
    // The profile's identity: a digest of every control's metadata.
    let mut hasher = Sha256::new();
    hasher.update(PROFILE_VERSION);
    for def in ALL_CONTROLS {
        hasher.update(format!(
            "{}|{}|{}|{}|{:?}\n",
            def.id, def.title, def.check, def.impact, def.nist
        ));
    }
    let groups = [
        "SIDESCAN-FS",
        "SIDESCAN-PROC",
        "SIDESCAN-SW",
        "SIDESCAN-KEY",
        "SIDESCAN-INV",
    ]
    .iter()
    .map(|prefix| Group {
        id: prefix.to_string(),
        title: prefix.to_string(),
        controls: ALL_CONTROLS
            .iter()
            .filter(|c| c.id.starts_with(prefix))
            .map(|c| c.id.to_string())
            .collect(),
    })
    .collect();
    Profile {
        name: PROFILE_NAME.into(),
        version: PROFILE_VERSION.into(),
        title: "sidescan builtin container baseline".into(),
        summary: "Native checks of a running container's filesystem and process".into(),
        maintainer: "sidescan".into(),
        license: "Apache-2.0".into(),
        sha256: hex::encode(hasher.finalize()),
        supports: vec![],
        attributes: vec![],
        groups,
        status: "loaded".into(),
        controls,
    }
}

fn account_files(root: &Path) -> Vec<Finding> {
    ACCOUNT_FILES
        .iter()
        .map(|(path, limit)| {
            let meta = resolve_in_root(root, path).and_then(|p| std::fs::metadata(p).ok());
            let Some(meta) = meta else {
                return Finding::skipped(
                    format!("{path} is owned by root with mode {limit:04o} or stricter"),
                    format!("{path} does not exist in the target"),
                );
            };
            let mode = meta.mode() & 0o7777;
            let desc = format!("{path} is owned by root with mode {limit:04o} or stricter");
            let mut problems = Vec::new();
            if meta.uid() != 0 {
                problems.push(format!("owner is uid {}", meta.uid()));
            }
            if mode & !limit != 0 {
                problems.push(format!("mode is {mode:04o}"));
            }
            if problems.is_empty() {
                Finding::passed(desc)
            } else {
                Finding::failed(desc, format!("{path}: {}", problems.join(", ")))
            }
        })
        .collect()
}

fn capped_note(more: usize) -> Option<Finding> {
    (more > 0).then(|| {
        Finding::failed(
            format!("{more} more findings"),
            format!("{more} further findings were not listed"),
        )
    })
}

fn world_writable(walked: &WalkFindings) -> Vec<Finding> {
    let mut out: Vec<Finding> = walked
        .world_writable
        .iter()
        .map(|f| {
            let kind = if f.is_dir { "directory" } else { "file" };
            let sticky = if f.is_dir && f.mode & 0o1000 != 0 {
                " (sticky)"
            } else {
                ""
            };
            Finding::failed(
                format!("{kind} {} is not world-writable", f.path),
                format!("{} has mode {:04o}{sticky}", f.path, f.mode),
            )
        })
        .collect();
    out.extend(capped_note(walked.world_writable_more));
    if out.is_empty() {
        out.push(Finding::passed(format!(
            "no world-writable entries outside temporary paths among {} entries",
            walked.entries
        )));
    }
    out
}

fn setid(walked: &WalkFindings) -> Vec<Finding> {
    let mut out: Vec<Finding> = walked
        .setid
        .iter()
        .map(|f| {
            let bits = match (f.mode & 0o4000 != 0, f.mode & 0o2000 != 0) {
                (true, true) => "setuid and setgid",
                (true, false) => "setuid",
                _ => "setgid",
            };
            Finding::failed(
                format!("{} has neither setuid nor setgid", f.path),
                format!(
                    "{} is {bits} (mode {:04o}, owner {}:{})",
                    f.path, f.mode, f.uid, f.gid
                ),
            )
        })
        .collect();
    out.extend(capped_note(walked.setid_more));
    if out.is_empty() {
        out.push(Finding::passed("no setuid or setgid executables"));
    }
    out
}

fn non_root(process: Option<&ProcStatus>) -> Vec<Finding> {
    let desc = "the target process runs with a non-zero effective uid";
    vec![match process {
        None => Finding::skipped(desc, "no target process (directory scan)"),
        Some(p) if p.effective_uid() == 0 => {
            Finding::failed(desc, format!("process {:?} runs as uid 0 (root)", p.name))
        }
        Some(p) => Finding::passed(format!(
            "the target process runs as uid {} (not root)",
            p.effective_uid()
        )),
    }]
}

fn capabilities(process: Option<&ProcStatus>) -> Vec<Finding> {
    let Some(p) = process else {
        return vec![Finding::skipped(
            "the target process holds no administrative capabilities",
            "no target process (directory scan)",
        )];
    };
    let present: Vec<String> = FORBIDDEN_CAPS
        .iter()
        .filter(|bit| p.cap_eff.has(**bit))
        .flat_map(|bit| CapSet(1 << bit).names())
        .collect();
    if present.is_empty() {
        return vec![Finding::passed(format!(
            "the target process holds none of the administrative capabilities (CapEff {:016x})",
            p.cap_eff.0
        ))];
    }
    present
        .into_iter()
        .map(|name| {
            Finding::failed(
                format!("the target process does not hold {name}"),
                format!(
                    "{name} is in the effective set (CapEff {:016x})",
                    p.cap_eff.0
                ),
            )
        })
        .collect()
}

/// Which of `names` exist in the binary directories (links followed inside the root; a dangling
/// link is not a usable program). Paths sharing a resolved file are reported once each path.
fn present(root: &Path, names: &[&str], kind: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for dir in BIN_DIRS {
        for name in names {
            let path = format!("{dir}/{name}");
            // /bin -> usr/bin (merged /usr) would list each program twice.
            let Some(resolved) = resolve_in_root(root, &path) else {
                continue;
            };
            let Ok(meta) = std::fs::metadata(&resolved) else {
                continue;
            };
            if !meta.is_file() || meta.mode() & 0o111 == 0 {
                continue;
            }
            let dir_resolved = resolve_in_root(root, dir);
            let canonical_dir = dir_resolved
                .as_deref()
                .and_then(|d| d.strip_prefix(root).ok())
                .map(|d| format!("/{}", d.display()));
            if canonical_dir.as_deref().is_some_and(|d| d != dir) {
                continue;
            }
            out.push(Finding::failed(
                format!("{kind} {path} is not present"),
                format!("{path} is an executable {kind}"),
            ));
        }
    }
    if out.is_empty() {
        out.push(Finding::passed(format!(
            "no {kind} in {}",
            BIN_DIRS.join(", ")
        )));
    }
    out
}

fn is_private_key(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .any(|l| l.starts_with("-----BEGIN ") && l.trim_end().ends_with("PRIVATE KEY-----"))
}

fn private_keys(root: &Path, walked: &WalkFindings) -> Vec<Finding> {
    const READ_LIMIT: u64 = 64 * 1024;
    let mut candidates: Vec<String> = walked.key_candidates.clone();
    let mut dirs: Vec<String> = KEY_DIRS.iter().map(|d| d.to_string()).collect();
    if let Ok(homes) = std::fs::read_dir(root.join("home")) {
        dirs.extend(
            homes
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(|n| format!("/home/{n}/.ssh"))),
        );
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(dir.trim_start_matches('/'))) else {
            continue;
        };
        candidates.extend(entries.flatten().filter_map(|e| {
            if !e.file_type().ok()?.is_file() {
                return None;
            }
            Some(format!("{dir}/{}", e.file_name().to_str()?))
        }));
    }
    candidates.sort();
    candidates.dedup();
    let mut out = Vec::new();
    for path in candidates {
        let host = root.join(path.trim_start_matches('/'));
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        if !meta.is_file() || meta.len() > READ_LIMIT {
            continue;
        }
        let Ok(bytes) = std::fs::read(&host) else {
            continue;
        };
        if is_private_key(&bytes) {
            out.push(Finding::failed(
                format!("{path} holds no private key"),
                format!(
                    "{path} holds a PEM private key (mode {:04o}, owner uid {})",
                    meta.mode() & 0o7777,
                    meta.uid()
                ),
            ));
        }
    }
    if out.is_empty() {
        out.push(Finding::passed(
            "no private keys in the image's common key paths",
        ));
    }
    out
}

fn read_os_release(root: &Path) -> BTreeMap<String, String> {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| read_in_root(root, p))
        .map(|bytes| inventory::parse_os_release(&String::from_utf8_lossy(&bytes)))
        .unwrap_or_default()
}

fn os_identity(os: &BTreeMap<String, String>) -> Vec<Finding> {
    match os.get("PRETTY_NAME").or_else(|| os.get("ID")) {
        Some(name) => vec![Finding {
            status: Status::Passed,
            code_desc: format!("operating system is {name}"),
            message: Some(format!(
                "ID={} VERSION_ID={}",
                os.get("ID").map(String::as_str).unwrap_or(""),
                os.get("VERSION_ID").map(String::as_str).unwrap_or("")
            )),
        }],
        None => vec![Finding::skipped(
            "operating system identity",
            "no /etc/os-release or /usr/lib/os-release in the target",
        )],
    }
}

/// Installed packages from dpkg's status file, distroless' status.d and apk's database.
pub fn installed_packages(root: &Path) -> Vec<inventory::Package> {
    let mut pkgs = Vec::new();
    if let Some(text) = read_in_root(root, "/var/lib/dpkg/status") {
        pkgs.extend(inventory::parse_dpkg_status(&String::from_utf8_lossy(
            &text,
        )));
    }
    if let Some(dir) = resolve_in_root(root, "/var/lib/dpkg/status.d")
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_str().is_some_and(|n| n.ends_with(".md5sums")) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                pkgs.extend(inventory::parse_dpkg_status(&text));
            }
        }
    }
    if let Some(text) = read_in_root(root, "/lib/apk/db/installed") {
        pkgs.extend(inventory::parse_apk_installed(&String::from_utf8_lossy(
            &text,
        )));
    }
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

fn packages(root: &Path) -> Vec<Finding> {
    let pkgs = installed_packages(root);
    if pkgs.is_empty() {
        return vec![Finding::skipped(
            "installed packages",
            "no dpkg or apk package database in the target",
        )];
    }
    pkgs.into_iter()
        .map(|p| Finding::passed(format!("{} package {} {}", p.manager, p.name, p.version)))
        .collect()
}

#[cfg(test)]
mod tests;
