//! Each control's decision: evidence in, findings out. Evidence that could not be gathered is an
//! `error` finding naming what and why, never a pass.

use super::accounts;
use super::content::CONTENT_LIMIT;
use super::policy::Inputs;
use super::report::Finding;
use super::root::{self, ReadError, errno_text};
use super::runtime::{self, TargetProcess};
use super::walk::{Found, Gap, Listed, Walked};
use crate::procfs::CapSet;
use rustix::fd::BorrowedFd;
use rustix::fs::FileType;
use rustix::io::Errno;
use std::collections::BTreeMap;

/// Largest account or package database file read (dpkg's status of a large image is a few MiB).
pub const DATABASE_LIMIT: u64 = 64 * 1024 * 1024;

/// (path, most permissive mode allowed).
const ACCOUNT_FILES: [(&str, u32); 4] = [
    ("/etc/passwd", 0o644),
    ("/etc/group", 0o644),
    ("/etc/shadow", 0o640),
    ("/etc/gshadow", 0o640),
];
const FORBIDDEN_CAPS: [u32; 6] = [21, 12, 16, 19, 17, 39];
/// Where programs are looked for, before the target's own PATH.
pub const BIN_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];
pub const SHELL_NAMES: [&str; 10] = [
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh", "busybox",
];
pub const PACKAGE_MANAGER_NAMES: [&str; 11] = [
    "apt", "apt-get", "dpkg", "apk", "yum", "dnf", "microdnf", "rpm", "zypper", "pip", "pip3",
];
/// Directories whose files are keys whatever their names.
pub const KEY_DIRS: [&str; 5] = [
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/root/.ssh",
    "/etc/kubernetes/pki",
];

/// The input that accepts named unreadable paths.
const UNREADABLE_INPUT: &str = "allowed_unreadable_paths";

fn missing(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::LOOP || e == Errno::NOTDIR
}

/// SIDESCAN-FS-001.
pub fn account_files(root: BorrowedFd<'_>) -> Vec<Finding> {
    ACCOUNT_FILES
        .iter()
        .map(|(path, limit)| {
            let desc = format!("{path} is owned by root with mode {limit:04o} or stricter");
            let meta = match root::stat_in_root(root, path) {
                Ok(meta) => meta,
                Err(e) if missing(e) => {
                    return Finding::skipped(desc, format!("{path} does not exist in the target"));
                }
                Err(e) => {
                    return Finding::error(
                        desc,
                        format!("{path} cannot be examined: {}", errno_text(e)),
                    );
                }
            };
            let mut problems = Vec::new();
            if meta.uid != 0 {
                problems.push(format!("owner is uid {}", meta.uid));
            }
            if meta.mode & !limit != 0 {
                problems.push(format!("mode is {:04o}", meta.mode));
            }
            if problems.is_empty() {
                Finding::passed(desc)
            } else {
                Finding::failed(desc, format!("{path}: {}", problems.join(", ")))
            }
        })
        .collect()
}

/// What the walk could not cover, as results of a walk-based control: `error` for each gap,
/// `skipped` for a gap the input `allowed_unreadable_paths` accepts (still listed, with the reason).
struct Coverage<'a> {
    inputs: &'a Inputs,
    dir_gaps: &'a Listed<Gap>,
    /// Files not read (content-based controls only).
    file_gaps: Option<&'a Listed<Gap>>,
    /// Files not checked because of their size (content-based controls only).
    too_large: Option<&'a Listed<Gap>>,
    mounts: &'a Listed<String>,
}

impl Coverage<'_> {
    fn gap(&self, code_desc: String, path: &str, why: String) -> Finding {
        if self.inputs.allows(UNREADABLE_INPUT, path) {
            Finding::skipped(
                code_desc,
                format!("{why}; accepted by input {UNREADABLE_INPUT}"),
            )
        } else {
            Finding::error(code_desc, why)
        }
    }

    fn add_to(&self, out: &mut Vec<Finding>) {
        for gap in &self.dir_gaps.items {
            out.push(self.gap(
                format!("directory {} was walked", gap.path),
                &gap.path,
                format!(
                    "{} could not be read: {}; what it holds is unknown",
                    gap.path, gap.reason
                ),
            ));
        }
        if self.dir_gaps.more > 0 {
            out.push(Finding::error(
                format!("{} more directories were walked", self.dir_gaps.more),
                format!(
                    "{} further directories could not be read",
                    self.dir_gaps.more
                ),
            ));
        }
        for (list, what) in [(self.file_gaps, "read"), (self.too_large, "checked")] {
            let Some(list) = list else { continue };
            for gap in &list.items {
                out.push(self.gap(
                    format!("file {} was {what}", gap.path),
                    &gap.path,
                    format!("{} was not {what}: {}", gap.path, gap.reason),
                ));
            }
            if list.more > 0 {
                out.push(Finding::error(
                    format!("{} more files were {what}", list.more),
                    format!("{} further files were not {what}", list.more),
                ));
            }
        }
        for mount in &self.mounts.items {
            out.push(Finding::skipped(
                format!("{mount} was walked"),
                format!(
                    "{mount} is another filesystem mounted in the target (a volume): not walked"
                ),
            ));
        }
        if self.mounts.more > 0 {
            out.push(Finding::skipped(
                format!("{} more mounts were walked", self.mounts.more),
                format!(
                    "{} further filesystems mounted in the target were not walked",
                    self.mounts.more
                ),
            ));
        }
    }
}

fn more_findings(out: &mut Vec<Finding>, more: usize) {
    if more > 0 {
        out.push(Finding::failed(
            format!("{more} more findings"),
            format!("{more} further findings were not listed"),
        ));
    }
}

/// Failed or allowed (passed, naming the input) for each finding.
fn judge(
    out: &mut Vec<Finding>,
    inputs: &Inputs,
    input: &str,
    path: &str,
    code_desc: String,
    message: String,
) {
    if inputs.allows(input, path) {
        out.push(Finding::passed_with(
            code_desc,
            format!("{message}; allowed by input {input}"),
        ));
    } else {
        out.push(Finding::failed(code_desc, message));
    }
}

/// True when `out` holds no pass/fail/error result (only skipped ones, or nothing).
fn nothing_decided(out: &[Finding]) -> bool {
    out.iter().all(|f| f.status == crate::hdf::Status::Skipped)
}

/// SIDESCAN-FS-002.
pub fn world_writable(walked: &Walked, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in &walked.world_writable.items {
        let kind = if f.is_dir { "directory" } else { "file" };
        let sticky = if f.is_dir && f.mode & 0o1000 != 0 {
            " (sticky)"
        } else {
            ""
        };
        judge(
            &mut out,
            inputs,
            "allowed_world_writable_paths",
            &f.path,
            format!("{kind} {} is not world-writable", f.path),
            format!("{} has mode {:04o}{sticky}", f.path, f.mode),
        );
    }
    finish_walk_check(
        out,
        walked,
        inputs,
        walked.world_writable.more,
        format!(
            "no world-writable entries outside temporary paths among {} entries",
            walked.entries
        ),
    )
}

/// Ends a check decided from the walk's entries alone: the findings cut off, what the walk could
/// not read, and `passed` when nothing was decided otherwise.
fn finish_walk_check(
    mut out: Vec<Finding>,
    walked: &Walked,
    inputs: &Inputs,
    more: usize,
    passed: String,
) -> Vec<Finding> {
    more_findings(&mut out, more);
    Coverage {
        inputs,
        dir_gaps: &walked.dir_gaps,
        file_gaps: None,
        too_large: None,
        mounts: &walked.other_mounts,
    }
    .add_to(&mut out);
    if nothing_decided(&out) {
        out.push(Finding::passed(passed));
    }
    out
}

fn setid_bits(f: &Found) -> &'static str {
    match (f.mode & 0o4000 != 0, f.mode & 0o2000 != 0) {
        (true, true) => "setuid and setgid",
        (true, false) => "setuid",
        _ => "setgid",
    }
}

/// SIDESCAN-FS-003.
pub fn setid(walked: &Walked, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for f in &walked.setid.items {
        judge(
            &mut out,
            inputs,
            "allowed_setid_binaries",
            &f.path,
            format!("{} has neither setuid nor setgid", f.path),
            format!(
                "{} is {} (mode {:04o}, owner {}:{})",
                f.path,
                setid_bits(f),
                f.mode,
                f.uid,
                f.gid
            ),
        );
    }
    finish_walk_check(
        out,
        walked,
        inputs,
        walked.setid.more,
        format!("no setuid or setgid files among {} entries", walked.entries),
    )
}

/// SIDESCAN-KEY-001.
pub fn private_keys(walked: &Walked, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for k in &walked.keys.items {
        judge(
            &mut out,
            inputs,
            "allowed_private_keys",
            &k.path,
            format!("{} holds no private key", k.path),
            format!(
                "{} holds a private key: {} (mode {:04o}, owner uid {})",
                k.path, k.kind, k.mode, k.uid
            ),
        );
    }
    more_findings(&mut out, walked.keys.more);
    Coverage {
        inputs,
        dir_gaps: &walked.dir_gaps,
        file_gaps: Some(&walked.file_gaps),
        too_large: Some(&walked.unchecked_large),
        mounts: &walked.other_mounts,
    }
    .add_to(&mut out);
    if nothing_decided(&out) {
        out.push(Finding::passed_with(
            format!("no private keys in the {} files read", walked.files_read),
            format!(
                "{} other files over {} bytes were not read",
                walked.large_elsewhere, CONTENT_LIMIT
            ),
        ));
    }
    out
}

/// SIDESCAN-KEY-002.
pub fn credential_files(walked: &Walked, inputs: &Inputs) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &walked.credentials.items {
        judge(
            &mut out,
            inputs,
            "allowed_credential_files",
            &c.path,
            format!("{} holds no credentials", c.path),
            format!(
                "{} holds credentials: {} (mode {:04o}, owner uid {})",
                c.path,
                c.kind.describe(),
                c.mode,
                c.uid
            ),
        );
    }
    more_findings(&mut out, walked.credentials.more);
    Coverage {
        inputs,
        dir_gaps: &walked.dir_gaps,
        file_gaps: Some(&walked.credential_gaps),
        too_large: None,
        mounts: &walked.other_mounts,
    }
    .add_to(&mut out);
    if nothing_decided(&out) {
        out.push(Finding::passed(
            "no credential files with secrets in the target",
        ));
    }
    out
}

const NO_PROCESS: &str = "no target process (directory scan)";

/// SIDESCAN-PROC-001.
pub fn non_root(process: Option<&TargetProcess>) -> Vec<Finding> {
    let desc = "the target process runs with a non-zero effective uid";
    vec![match process {
        None => Finding::skipped(desc, NO_PROCESS),
        Some(p) if p.status.effective_uid() == 0 => Finding::failed(
            desc,
            format!("process {:?} runs as uid 0 (root)", p.status.name),
        ),
        Some(p) => Finding::passed(format!(
            "the target process runs as uid {} (not root)",
            p.status.effective_uid()
        )),
    }]
}

/// SIDESCAN-PROC-002.
pub fn capabilities(process: Option<&TargetProcess>) -> Vec<Finding> {
    let Some(p) = process else {
        return vec![Finding::skipped(
            "the target process holds no administrative capabilities",
            NO_PROCESS,
        )];
    };
    let eff = p.status.cap_eff;
    let present: Vec<String> = FORBIDDEN_CAPS
        .iter()
        .filter(|bit| eff.has(**bit))
        .flat_map(|bit| CapSet(1 << bit).names())
        .collect();
    if present.is_empty() {
        return vec![Finding::passed(format!(
            "the target process holds none of the administrative capabilities (CapEff {:016x})",
            eff.0
        ))];
    }
    present
        .into_iter()
        .map(|name| {
            Finding::failed(
                format!("the target process does not hold {name}"),
                format!("{name} is in the effective set (CapEff {:016x})", eff.0),
            )
        })
        .collect()
}

/// SIDESCAN-PROC-003.
pub fn no_new_privs(process: Option<&TargetProcess>) -> Vec<Finding> {
    let desc = "the target process has no_new_privs set";
    vec![match process.map(|p| p.status.no_new_privs) {
        None => Finding::skipped(desc, NO_PROCESS),
        Some(Some(true)) => Finding::passed_with(desc, "NoNewPrivs: 1"),
        Some(Some(false)) => Finding::failed(
            desc,
            "NoNewPrivs: 0: setuid binaries and file capabilities can raise the process' privileges",
        ),
        Some(None) => Finding::error(
            desc,
            "/proc/<pid>/status has no NoNewPrivs field (kernel older than 4.10)",
        ),
    }]
}

/// SIDESCAN-PROC-004.
pub fn seccomp(process: Option<&TargetProcess>) -> Vec<Finding> {
    let desc = "the target process runs under a seccomp filter";
    vec![match process.map(|p| p.status.seccomp) {
        None => Finding::skipped(desc, NO_PROCESS),
        Some(Some(2)) => Finding::passed_with(desc, "Seccomp: 2 (filter)"),
        Some(Some(1)) => Finding::passed_with(desc, "Seccomp: 1 (strict)"),
        Some(Some(0)) => Finding::failed(
            desc,
            "Seccomp: 0: no seccomp filter, every system call is reachable",
        ),
        Some(Some(mode)) => Finding::error(desc, format!("Seccomp: {mode} is not a known mode")),
        Some(None) => Finding::error(
            desc,
            "/proc/<pid>/status has no Seccomp field (kernel without CONFIG_SECCOMP?)",
        ),
    }]
}

/// SIDESCAN-PROC-005. `root_mount_id` is the root's `stx_mnt_id`; `root_read_only` the root's
/// statfs flag, used when mountinfo does not list the root's mount (a chroot-started process).
pub fn read_only_root(
    process: Option<&TargetProcess>,
    root_mount_id: Option<u64>,
    root_read_only: Result<bool, Errno>,
) -> Vec<Finding> {
    let desc = "the target's root filesystem is mounted read-only";
    let Some(p) = process else {
        return vec![Finding::skipped(desc, NO_PROCESS)];
    };
    let facts = match (&p.mountinfo, root_mount_id) {
        (Ok(text), Some(id)) => runtime::mount_facts(text, id),
        _ => None,
    };
    let (read_only, what) = match (facts, root_read_only) {
        (Some(f), _) => (
            f.read_only,
            format!(
                "root mount: {} {} ({})",
                f.fs_type,
                f.source,
                if f.read_only { "ro" } else { "rw" }
            ),
        ),
        (None, Ok(ro)) => (
            ro,
            format!("root filesystem flags: {}", if ro { "ro" } else { "rw" }),
        ),
        (None, Err(e)) => {
            let why = match &p.mountinfo {
                Err(m) => format!("mountinfo: {m}"),
                Ok(_) => "the root's mount is not in mountinfo".into(),
            };
            return vec![Finding::error(
                desc,
                format!("{why}; statfs of the root: {}", errno_text(e)),
            )];
        }
    };
    vec![if read_only {
        Finding::passed_with(desc, what)
    } else {
        Finding::failed(
            desc,
            format!("{what}: the process can change the image's files"),
        )
    }]
}

/// SIDESCAN-PROC-006.
pub fn lsm(process: Option<&TargetProcess>) -> Vec<Finding> {
    let desc = "the target process is confined by AppArmor or SELinux";
    let Some(p) = process else {
        return vec![Finding::skipped(desc, NO_PROCESS)];
    };
    vec![match &p.lsm {
        Err(e) => Finding::error(desc, format!("the LSM label could not be read: {e}")),
        Ok(None) => Finding::skipped(
            desc,
            "no AppArmor or SELinux is active for the process (attr/current has no label): \
             confinement cannot be checked on this node",
        ),
        Ok(Some(label)) => match runtime::lsm_confines(label) {
            Some(true) => Finding::passed_with(desc, label.to_string()),
            Some(false) => Finding::failed(desc, format!("{label} does not confine the process")),
            None => Finding::skipped(desc, format!("{label}: not an LSM this check evaluates")),
        },
    }]
}

/// The directories programs are looked for in: the standard ones, then the target's PATH.
pub fn search_dirs(path_env: Option<&str>) -> Vec<String> {
    let mut dirs: Vec<String> = BIN_DIRS.iter().map(|d| d.to_string()).collect();
    for dir in path_env.unwrap_or("").split(':') {
        let dir = dir.trim_end_matches('/');
        if dir.starts_with('/') && !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_string());
        }
    }
    dirs
}

/// SIDESCAN-SW-001 and SW-002: which of `names` exist as executables in the search
/// directories. A directory reached twice (`/bin` -> `usr/bin`) is searched once, under its first
/// name.
pub fn programs(
    root: BorrowedFd<'_>,
    process: Option<&TargetProcess>,
    names: &[&str],
    kind: &str,
    input: &str,
    inputs: &Inputs,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let path_env = match process.map(|p| &p.path_env) {
        None => None,
        Some(Ok(path)) => path.clone(),
        Some(Err(e)) => {
            out.push(Finding::error(
                format!("the target's PATH was searched for a {kind}"),
                format!("/proc/<pid>/environ could not be read ({e}): only the standard directories were searched"),
            ));
            None
        }
    };
    let dirs = search_dirs(path_env.as_deref());
    let mut seen: Vec<(u64, u64)> = Vec::new();
    for dir in &dirs {
        let meta = match root::stat_in_root(root, dir) {
            Ok(meta) if meta.file_type == FileType::Directory => meta,
            Ok(_) => continue,
            Err(e) if missing(e) => continue,
            Err(e) => {
                out.push(Finding::error(
                    format!("{dir} was searched for a {kind}"),
                    format!("{dir} cannot be examined: {}", errno_text(e)),
                ));
                continue;
            }
        };
        if seen.contains(&(meta.dev, meta.ino)) {
            continue;
        }
        seen.push((meta.dev, meta.ino));
        for name in names {
            let path = format!("{dir}/{name}");
            match root::stat_in_root(root, &path) {
                Ok(meta) if meta.is_executable_file() => judge(
                    &mut out,
                    inputs,
                    input,
                    &path,
                    format!("{kind} {path} is not present"),
                    format!("{path} is an executable {kind}"),
                ),
                Ok(_) => {}
                Err(e) if missing(e) => {}
                Err(e) => out.push(Finding::error(
                    format!("{kind} {path} is not present"),
                    format!("{path} cannot be examined: {}", errno_text(e)),
                )),
            }
        }
    }
    if out.is_empty() {
        out.push(Finding::passed(format!("no {kind} in {}", dirs.join(", "))));
    }
    out
}

/// The text of a target file; `Ok(None)` when it does not exist.
fn read_text(root: BorrowedFd<'_>, path: &str) -> Result<Option<String>, String> {
    match root::read_in_root(root, path, DATABASE_LIMIT) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(ReadError::Missing) => Ok(None),
        Err(e) => Err(format!("{path} {e}")),
    }
}

/// The account files the account controls read.
pub struct AccountFiles {
    pub passwd: Result<Option<String>, String>,
    pub shadow: Result<Option<String>, String>,
    pub login_defs: Result<Option<String>, String>,
}

impl AccountFiles {
    pub fn read(root: BorrowedFd<'_>) -> AccountFiles {
        AccountFiles {
            passwd: read_text(root, "/etc/passwd"),
            shadow: read_text(root, "/etc/shadow"),
            login_defs: read_text(root, "/etc/login.defs"),
        }
    }

    fn entries(&self, desc: &str) -> Result<Vec<accounts::PasswdEntry>, Finding> {
        match &self.passwd {
            Ok(Some(text)) => Ok(accounts::parse_passwd(text)),
            Ok(None) => Err(Finding::skipped(desc, "no /etc/passwd in the target")),
            Err(e) => Err(Finding::error(desc, format!("cannot be read: {e}"))),
        }
    }
}

/// SIDESCAN-ACCT-001.
pub fn uid0_accounts(files: &AccountFiles, inputs: &Inputs) -> Vec<Finding> {
    let desc = "only root has UID 0";
    let entries = match files.entries(desc) {
        Ok(entries) => entries,
        Err(finding) => return vec![finding],
    };
    let mut out = Vec::new();
    for e in accounts::uid0_aliases(&entries) {
        judge(
            &mut out,
            inputs,
            "allowed_uid0_accounts",
            &e.name,
            format!("account {} does not have UID 0", e.name),
            format!("account {} has UID 0 (shell {})", e.name, e.shell),
        );
    }
    if out.is_empty() {
        out.push(Finding::passed(format!(
            "no account other than root has UID 0 ({} accounts)",
            entries.len()
        )));
    }
    out
}

/// SIDESCAN-ACCT-002.
pub fn empty_passwords(files: &AccountFiles) -> Vec<Finding> {
    let desc = "no account has an empty password";
    let entries = match files.entries(desc) {
        Ok(entries) => entries,
        Err(finding) => return vec![finding],
    };
    let mut names: Vec<String> = entries
        .iter()
        .filter(|e| e.password_empty)
        .map(|e| e.name.clone())
        .collect();
    let mut out = Vec::new();
    match &files.shadow {
        Ok(Some(text)) => names.extend(accounts::empty_shadow_passwords(text)),
        Ok(None) => {}
        Err(e) => out.push(Finding::error(
            "/etc/shadow was read",
            format!("password hashes cannot be checked: {e}"),
        )),
    }
    names.sort();
    names.dedup();
    for name in names {
        out.push(Finding::failed(
            format!("account {name} has a password or is locked"),
            format!("account {name} has an empty password field: it logs in without a password"),
        ));
    }
    if out.is_empty() {
        let shadow = if matches!(files.shadow, Ok(Some(_))) {
            "/etc/passwd and /etc/shadow"
        } else {
            "/etc/passwd (no /etc/shadow)"
        };
        out.push(Finding::passed(format!(
            "no empty password field in {shadow}"
        )));
    }
    out
}

/// SIDESCAN-ACCT-003.
pub fn system_account_shells(files: &AccountFiles, inputs: &Inputs) -> Vec<Finding> {
    let desc = "system accounts have no login shell";
    let entries = match files.entries(desc) {
        Ok(entries) => entries,
        Err(finding) => return vec![finding],
    };
    let bound = match (inputs.system_uid_max, &files.login_defs) {
        (Some(max), _) => max.saturating_add(1),
        (None, Ok(text)) => accounts::uid_min(text.as_deref()),
        (None, Err(_)) => accounts::uid_min(None),
    };
    let mut out = Vec::new();
    for e in accounts::system_accounts_with_shell(&entries, bound) {
        judge(
            &mut out,
            inputs,
            "allowed_shell_accounts",
            &e.name,
            format!("system account {} has no login shell", e.name),
            format!(
                "system account {} (UID {}) has the login shell {}",
                e.name, e.uid, e.shell
            ),
        );
    }
    if out.is_empty() {
        out.push(Finding::passed(format!(
            "no system account (UID 1 to {}) has a login shell",
            bound.saturating_sub(1)
        )));
    }
    out
}

/// os-release of the target: `/etc/os-release`, else `/usr/lib/os-release` (empty when neither
/// can be read).
pub fn os_release(root: BorrowedFd<'_>) -> BTreeMap<String, String> {
    read_os_release(root).unwrap_or_default()
}

/// os-release of the target; `Err` when a file exists but cannot be read.
pub fn read_os_release(root: BorrowedFd<'_>) -> Result<BTreeMap<String, String>, String> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        if let Some(text) = read_text(root, path)? {
            return Ok(super::inventory::parse_os_release(&text));
        }
    }
    Ok(BTreeMap::new())
}

/// SIDESCAN-INV-001.
pub fn os_identity(os: &Result<BTreeMap<String, String>, String>) -> Vec<Finding> {
    let os = match os {
        Ok(os) => os,
        Err(e) => {
            return vec![Finding::error(
                "operating system identity",
                format!("cannot be read: {e}"),
            )];
        }
    };
    match os.get("PRETTY_NAME").or_else(|| os.get("ID")) {
        Some(name) => vec![Finding::passed_with(
            format!("operating system is {name}"),
            format!(
                "ID={} VERSION_ID={}",
                os.get("ID").map(String::as_str).unwrap_or(""),
                os.get("VERSION_ID").map(String::as_str).unwrap_or("")
            ),
        )],
        None => vec![Finding::skipped(
            "operating system identity",
            "no /etc/os-release or /usr/lib/os-release in the target",
        )],
    }
}

/// Installed packages from dpkg's status file, distroless' status.d and apk's database, and the
/// databases that exist but could not be read.
pub fn installed_packages(root: BorrowedFd<'_>) -> (Vec<super::inventory::Package>, Vec<String>) {
    use super::inventory::{parse_apk_installed, parse_dpkg_status};
    let mut errors = Vec::new();
    let mut dpkg_files = vec!["/var/lib/dpkg/status".to_string()];
    match root::list_dir_in_root(root, "/var/lib/dpkg/status.d") {
        Ok(entries) => {
            for entry in entries {
                let path = format!("/var/lib/dpkg/status.d/{}", root::display_name(&entry.name));
                if std::str::from_utf8(&entry.name).is_err() || entry.name.contains(&b'\\') {
                    // Shown escaped, the name does not open the file.
                    errors.push(format!("{path}: the name is not plain UTF-8; not read"));
                } else if !path.ends_with(".md5sums") {
                    dpkg_files.push(path);
                }
            }
        }
        Err(e) if missing(e) => {}
        Err(e) => errors.push(format!("/var/lib/dpkg/status.d {}", errno_text(e))),
    }
    let mut pkgs = Vec::new();
    let files = dpkg_files
        .iter()
        .map(|path| (path.as_str(), parse_dpkg_status as fn(&str) -> _))
        .chain([(
            "/lib/apk/db/installed",
            parse_apk_installed as fn(&str) -> _,
        )]);
    for (path, parse) in files {
        match read_text(root, path) {
            Ok(Some(text)) => pkgs.extend(parse(&text)),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    pkgs.sort();
    pkgs.dedup();
    (pkgs, errors)
}

/// SIDESCAN-INV-002.
pub fn packages(root: BorrowedFd<'_>) -> Vec<Finding> {
    let (pkgs, errors) = installed_packages(root);
    let mut out: Vec<Finding> = errors
        .into_iter()
        .map(|e| {
            Finding::error(
                "the package databases were read",
                format!("cannot be read: {e}"),
            )
        })
        .collect();
    if pkgs.is_empty() && out.is_empty() {
        return vec![Finding::skipped(
            "installed packages",
            "no dpkg or apk package database in the target",
        )];
    }
    out.extend(
        pkgs.into_iter()
            .map(|p| Finding::passed(format!("{} package {} {}", p.manager, p.name, p.version))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::policy::Policy;
    use crate::hdf::Status;

    fn gap(path: &str) -> Gap {
        Gap {
            path: path.into(),
            reason: "EACCES (Permission denied)".into(),
        }
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
        let mut policy = Policy::default();
        policy
            .add_inputs("allowed_unreadable_paths: [/var/cache/apt/archives/partial]\n")
            .unwrap();
        let statuses = |findings: Vec<Finding>| -> Vec<(Status, String)> {
            findings
                .into_iter()
                .map(|f| (f.status, f.code_desc))
                .collect()
        };
        assert_eq!(
            statuses(setid(&walked, &policy.inputs)),
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
            statuses(private_keys(&walked, &policy.inputs))
                .contains(&(Status::Error, "file /etc/shadow was read".to_string()))
        );
        // Accepting every gap lets the control pass, each gap still listed.
        policy
            .add_inputs("allowed_unreadable_paths: [/root, /var/cache/apt/archives/partial]\n")
            .unwrap();
        let findings = setid(&walked, &policy.inputs);
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
        let found = os_identity(&Err("/etc/os-release EACCES (Permission denied)".into()));
        assert_eq!(found[0].status, Status::Error);
        let absent = os_identity(&Ok(BTreeMap::new()));
        assert_eq!(absent[0].status, Status::Skipped);
    }

    #[test]
    fn search_dirs_add_the_targets_path() {
        assert_eq!(search_dirs(None), BIN_DIRS);
        let dirs = search_dirs(Some("/opt/tools/bin:/usr/bin/:relative:/bin"));
        assert_eq!(dirs.len(), BIN_DIRS.len() + 1);
        assert_eq!(dirs.last().unwrap(), "/opt/tools/bin");
    }
}
