//! One regular file of the walk: read within the per-file and per-scan byte limits, searched for
//! keys and, if named like one, for credentials.

use super::workers::{Local, Shared};
use super::{CredentialFound, Gap, KeyFound};
use crate::builtin::content::{self, BINARY_PROBE, CredentialKind};
use crate::builtin::limits::NotChecked;
use crate::builtin::root::{self, errno_text};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::ffi::CStr;

/// Files up to this size are read with one `read` (most text files of an image are smaller).
const SMALL_FILE: usize = 8 * 1024;

/// Opens a directory entry for reading, never through a symlink.
pub(super) fn open_file(dir: &OwnedFd, name: &CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        root::READ_FLAGS | OFlags::NOFOLLOW,
        Mode::empty(),
    )
}

pub(super) struct FileToRead<'a> {
    pub opened: Result<OwnedFd, Errno>,
    pub path: &'a str,
    /// The size `statx` reported (a sparse file's apparent size).
    pub size: u64,
    pub mode: u32,
    pub uid: u32,
    /// In a key directory or named like a key: a file too large to read is reported.
    pub key_context: bool,
}

/// Reads one regular file for keys and credentials.
pub(super) fn read_file(
    shared: &Shared<'_>,
    file: FileToRead<'_>,
    local: &mut Local,
    buffer: &mut Vec<u8>,
) {
    let limit = shared.limits.content_file;
    let credential = content::credential_candidate(file.path);
    if file.size == 0 {
        return;
    }
    if file.size > limit {
        let gap = Gap {
            path: file.path.to_string(),
            reason: format!(
                "{} bytes, over the {} byte content limit: not checked",
                file.size, limit
            ),
        };
        if credential.is_some() {
            local.credential_gaps.push(gap.clone());
        }
        if file.key_context {
            local.unchecked_large.push(gap);
        } else {
            local.large_elsewhere += 1;
        }
        return;
    }
    let fd = match file.opened {
        Ok(ref fd) => fd,
        // Gone, or swapped for a symlink: nothing to read at that name now.
        Err(Errno::NOENT) | Err(Errno::LOOP) => {
            local.vanished += 1;
            return;
        }
        Err(e) => {
            let gap = Gap {
                path: file.path.to_string(),
                reason: errno_text(e),
            };
            if credential.is_some() {
                local.credential_gaps.push(gap.clone());
            }
            local.file_gaps.push(gap);
            return;
        }
    };
    if !local.take_bytes(shared, file.size) {
        let unread = NotChecked::new(
            file.path,
            format!(
                "was not read: the scan reached its limit of {} bytes read",
                shared.limits.scan_bytes
            ),
        );
        if credential.is_some() {
            local.credentials_unread.push(unread.clone());
        }
        local.unread.push(unread);
        return;
    }
    let read = scan_content(fd, &file, credential, local, buffer);
    local.bytes_read += read;
    // What was taken for the file and not read (a binary file's tail) goes back to the budget.
    local.allowance += file.size - read;
}

/// Reads the file's head and, for a text file, the rest (at most its size); records the keys and
/// credentials it holds. Returns the bytes read.
fn scan_content(
    fd: &OwnedFd,
    file: &FileToRead<'_>,
    credential: Option<CredentialKind>,
    local: &mut Local,
    buffer: &mut Vec<u8>,
) -> u64 {
    let size = file.size as usize;
    if buffer.len() < size {
        buffer.resize(size.max(BINARY_PROBE), 0);
    }
    let unread = |e: Errno, local: &mut Local| {
        let gap = Gap {
            path: file.path.to_string(),
            reason: format!("read failed: {}", errno_text(e)),
        };
        if credential.is_some() {
            local.credential_gaps.push(gap.clone());
        }
        local.file_gaps.push(gap);
    };
    // The head decides: a binary file is done after it (only DER keys are recognised, from
    // their first bytes), a text file is read whole. Small files are read whole at once.
    let first = if size <= SMALL_FILE {
        size
    } else {
        BINARY_PROBE
    };
    let head = match root::read_into(fd, &mut buffer[..first]) {
        Ok(n) => n,
        Err(e) => {
            unread(e, local);
            return 0;
        }
    };
    local.files_read += 1;
    let key = |kind: String| KeyFound {
        path: file.path.to_string(),
        kind,
        mode: file.mode,
        uid: file.uid,
    };
    if content::is_binary(&buffer[..head.min(BINARY_PROBE)]) {
        if let Some(kind) = content::der_key(&buffer[..head], file.size) {
            local.keys.push(key(kind.0));
        }
        return head as u64;
    }
    let mut len = head;
    if head == first && size > head {
        match root::read_into(fd, &mut buffer[head..size]) {
            Ok(n) => len += n,
            Err(e) => {
                unread(e, local);
                return head as u64;
            }
        }
    }
    let text = &buffer[..len];
    for kind in content::keys_in_text(text) {
        local.keys.push(key(kind.0));
    }
    if let Some(kind) = credential
        && content::credential_present(kind, text)
    {
        local.credentials.push(CredentialFound {
            path: file.path.to_string(),
            kind,
            mode: file.mode,
            uid: file.uid,
        });
    }
    len as u64
}
