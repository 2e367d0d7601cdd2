//! The file controls: account file permissions (SIDESCAN-FS-001) and the walk-based controls
//! (world-writable entries, setuid/setgid files, private keys, credential files).

use super::coverage::Coverage;
use super::{judge, nothing_decided};
use crate::builtin::gather::Evidence;
use crate::builtin::limits::NotChecked;
use crate::builtin::policy::Inputs;
use crate::builtin::report::Finding;
use crate::builtin::root::{ReadError, errno_text};
use crate::builtin::walk::{Found, Walked};
use rustix::io::Errno;

/// (path, most permissive mode allowed).
pub const ACCOUNT_FILES: [(&str, u32); 4] = [
    ("/etc/passwd", 0o644),
    ("/etc/group", 0o644),
    ("/etc/shadow", 0o640),
    ("/etc/gshadow", 0o640),
];
/// Directories whose files are keys whatever their names.
pub const KEY_DIRS: [&str; 5] = [
    "/etc/ssh",
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/root/.ssh",
    "/etc/kubernetes/pki",
];

/// SIDESCAN-FS-001.
pub fn account_files(evidence: &Evidence) -> Vec<Finding> {
    ACCOUNT_FILES
        .iter()
        .map(|(path, limit)| {
            let desc = format!("{path} is owned by root with mode {limit:04o} or stricter");
            let meta = match evidence.account_files.get(*path) {
                Some(Ok(meta)) => meta,
                None => return Finding::error(desc, format!("{path} was not examined")),
                Some(Err(e)) if *e == Errno::NOENT || *e == Errno::NOTDIR => {
                    return Finding::skipped(desc, format!("{path} does not exist in the target"));
                }
                Some(Err(Errno::LOOP)) => {
                    let why = NotChecked::new(*path, ReadError::Loop.to_string());
                    return Finding::skipped(desc, why.to_string());
                }
                Some(Err(e)) => {
                    return Finding::error(
                        desc,
                        format!("{path} cannot be examined: {}", errno_text(*e)),
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

fn more_findings(out: &mut Vec<Finding>, more: usize) {
    if more > 0 {
        out.push(Finding::failed(
            format!("{more} more findings"),
            format!("{more} further findings were not listed"),
        ));
    }
}

/// SIDESCAN-FS-002.
pub fn world_writable(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    let walked = &evidence.walk;
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
/// not read or reach, and `passed` when nothing was decided otherwise.
fn finish_walk_check(
    mut out: Vec<Finding>,
    walked: &Walked,
    inputs: &Inputs,
    more: usize,
    passed: String,
) -> Vec<Finding> {
    more_findings(&mut out, more);
    Coverage::of_entries(walked, inputs).add_to(&mut out);
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
pub fn setid(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    let walked = &evidence.walk;
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
pub fn private_keys(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    let walked = &evidence.walk;
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
        file_gaps: Some(&walked.file_gaps),
        too_large: Some(&walked.unchecked_large),
        unread: Some(&walked.unread),
        ..Coverage::of_entries(walked, inputs)
    }
    .add_to(&mut out);
    if nothing_decided(&out) {
        out.push(Finding::passed_with(
            format!("no private keys in the {} files read", walked.files_read),
            format!(
                "{} other files over {} bytes were not read",
                walked.large_elsewhere, evidence.limits.content_file
            ),
        ));
    }
    out
}

/// SIDESCAN-KEY-002.
pub fn credential_files(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    let walked = &evidence.walk;
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
        file_gaps: Some(&walked.credential_gaps),
        unread: Some(&walked.credentials_unread),
        ..Coverage::of_entries(walked, inputs)
    }
    .add_to(&mut out);
    if nothing_decided(&out) {
        out.push(Finding::passed(
            "no credential files with secrets in the target",
        ));
    }
    out
}
