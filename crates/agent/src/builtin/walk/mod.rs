//! One pass over the target's tree collecting what the file checks need.
//!
//! The walk holds directory file descriptors, never path strings: it descends with
//! `openat(dir, name, O_DIRECTORY | O_NOFOLLOW)`, lists with getdents and examines each entry with
//! `statx(dir, name, AT_SYMLINK_NOFOLLOW)`, so no symlink is ever followed and nothing outside the
//! target's root is reached. It stays on the root's mount: other filesystems mounted inside the
//! target (volumes, Kubernetes' bind-mounted `/etc/hosts`) are listed, not walked, except the
//! temporary directories, which are walked wherever they are mounted. `/proc`, `/sys` and `/dev`
//! (kernel and device filesystems) are left out, `/dev/shm` excepted.
//!
//! Every regular file up to [`Limits::content_file`] is read once (a head first; binary files stop
//! there) for private keys, and files named like credential files are checked for secrets. What
//! could not be read is collected with the reason, so the controls report it instead of passing.
//!
//! The work is bounded by [`Limits`]: directories deeper than `depth` are not descended, a
//! directory is examined up to `dir_entries` entries, the whole walk up to `entries` entries and
//! `scan_bytes` bytes of content. What a limit leaves unexamined is collected (`unwalked`,
//! `unread`) so the controls say "not checked".
//!
//! Worker threads share one stack of directories; findings are kept per thread and merged, and
//! each list keeps the [`Limits::findings`] smallest paths, so the report does not depend on which
//! thread saw what. Where a parallel walk stops at a scan-wide limit depends on scheduling, so
//! such a walk is run again on one thread ([`walk`]).

mod dir;
mod file;
mod workers;

use super::content::CredentialKind;
use super::limits::{Limits, NotChecked};
use super::listed::Listed;
use super::root;
use rustix::fd::{AsFd, BorrowedFd};
use rustix::fs::FileType;

/// Directories never descended: kernel and device filesystems.
pub const SKIPPED_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];
/// Temporary directories: walked (setuid files and keys count there too) wherever they are
/// mounted; only the world-writable check exempts them.
pub const TEMP_DIRS: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

/// A file found by the walk, with its path inside the target (`/etc/passwd`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Found {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub is_dir: bool,
}

/// A private key found in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyFound {
    pub path: String,
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
}

/// A credential file holding a secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CredentialFound {
    pub path: String,
    pub kind: CredentialKind,
    pub mode: u32,
    pub uid: u32,
}

/// Something that could not be examined, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gap {
    pub path: String,
    pub reason: String,
}

/// What one walk collected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Walked {
    /// Directory entries seen (symlinks included).
    pub entries: u64,
    /// Regular files whose content was read (binary files: their head only).
    pub files_read: u64,
    /// Bytes of file content read (a walk run again on one thread: both runs).
    pub bytes_read: u64,
    pub world_writable: Listed<Found>,
    pub setid: Listed<Found>,
    pub keys: Listed<KeyFound>,
    pub credentials: Listed<CredentialFound>,
    /// Directories whose entries could not be listed or examined: every walk-based control is
    /// incomplete.
    pub dir_gaps: Listed<Gap>,
    /// Regular files that could not be read: the key check is incomplete.
    pub file_gaps: Listed<Gap>,
    /// Files named like credential files that could not be read (or are over the limit).
    pub credential_gaps: Listed<Gap>,
    /// Files over [`Limits::content_file`] in key directories or with key-like names: not checked.
    pub unchecked_large: Listed<Gap>,
    /// Other files over [`Limits::content_file`] (not read).
    pub large_elsewhere: u64,
    /// Other filesystems mounted inside the target: not walked.
    pub other_mounts: Listed<String>,
    /// Entries that disappeared between listing and examining (a live container changes).
    pub vanished: u64,
    /// Directories not descended or examined in part because a limit was reached (depth, entries
    /// per directory, entries per scan): every walk-based control is incomplete there.
    pub unwalked: Listed<NotChecked>,
    /// Regular files not read because the scan's byte limit was reached: the key check is
    /// incomplete.
    pub unread: Listed<NotChecked>,
    /// The credential candidates among `unread`.
    pub credentials_unread: Listed<NotChecked>,
    /// A scan-wide limit (entries, bytes) was reached.
    pub scan_limit_reached: bool,
}

/// Why the walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkError {
    /// The target process exited (or its root vanished): nothing is complete.
    Gone { entries: u64 },
}

/// What the walk needs to know.
pub struct WalkRequest<'a> {
    /// The target's `/`.
    pub root: BorrowedFd<'a>,
    /// (device, inode) of the key directories (`/etc/ssl/private`, ...), resolved inside the root.
    pub key_dirs: &'a [(u64, u64)],
    /// Worker threads (at least one).
    pub threads: usize,
    /// False once the target process has exited.
    pub alive: &'a (dyn Fn() -> bool + Sync),
    pub limits: &'a Limits,
    /// Bytes of content the walk may read (what the scan's byte limit leaves it).
    pub byte_budget: u64,
}

/// True for names that commonly hold private keys.
pub fn is_key_name(name: &str) -> bool {
    let name = name.as_bytes();
    let ends = |suffix: &[u8]| {
        name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    ends(b".key")
        || ends(b".pem")
        || ends(b".p8")
        || [&b"id_rsa"[..], b"id_dsa", b"id_ecdsa", b"id_ed25519"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        || (name.len() >= 9 && name[..9].eq_ignore_ascii_case(b"ssh_host_") && ends(b"_key"))
}

pub fn in_any(path: &str, dirs: &[&str]) -> bool {
    dirs.iter().any(|d| {
        path == *d
            || path
                .strip_prefix(d)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Walks the target's tree. Returns [`WalkError::Gone`] when the target exits meanwhile.
///
/// Where a walk of several threads stops at a scan-wide limit (entries, bytes) depends on which
/// thread got there first; such a walk is run again on one thread, so the report is the same for
/// the same tree. Its work is then at most twice the limits.
pub fn walk(request: &WalkRequest<'_>) -> Result<Walked, WalkError> {
    let first = workers::walk_once(request, request.threads)?;
    // Threads publish their entries once per directory, so a parallel walk may pass the entry
    // limit by a few directories without any thread seeing it: that counts as reaching it.
    let reached = first.scan_limit_reached || first.entries > request.limits.entries;
    if request.threads <= 1 || !reached {
        return Ok(first);
    }
    tracing::debug!(
        entries = first.entries,
        bytes_read = first.bytes_read,
        "a scan-wide limit stopped the parallel walk: walking again on one thread"
    );
    let mut again = workers::walk_once(request, 1)?;
    again.bytes_read += first.bytes_read;
    Ok(again)
}

/// The (device, inode) of each of `dirs` that exists inside the root (symlinks followed inside it).
pub fn resolve_dirs(root: BorrowedFd<'_>, dirs: &[String]) -> Vec<(u64, u64)> {
    dirs.iter()
        .filter_map(|dir| root::stat_in_root(root.as_fd(), dir).ok())
        .filter(|meta| meta.file_type == FileType::Directory)
        .map(|meta| (meta.dev, meta.ino))
        .collect()
}

#[cfg(test)]
mod tests;
