//! One directory of the walk: open it without following a link, list it within the limits,
//! examine each entry and return the subdirectories to walk.

use super::file::{self, FileToRead};
use super::workers::{Buffers, Local, Opener, Pending, STATX_AT, STATX_MASK, Shared, identity};
use super::{Found, Gap, SKIPPED_DIRS, TEMP_DIRS, in_any, is_key_name};
use crate::builtin::limits::NotChecked;
use crate::builtin::root::{display_name, errno_text};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::ffi::CStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Lists one directory, examines its entries and returns the subdirectories to walk.
pub(super) fn walk_dir(
    shared: &Shared<'_>,
    item: Pending,
    local: &mut Local,
    buffers: &mut Buffers,
) -> Vec<Pending> {
    if TEMP_DIRS.contains(&item.path.as_str()) {
        local.visited_temp.push(item.path.clone());
    }
    let Some(fd) = open_dir(&item, local) else {
        return Vec::new();
    };
    let limits = shared.limits;
    let shown = item.shown();
    // Entries of the directories finished before this one (all workers); this directory's are
    // published when it is done.
    let before = shared.entries.load(Ordering::Relaxed);
    let mut here: u64 = 0;
    let mut children = Vec::new();
    let Buffers { dirents, content } = buffers;
    dirents.clear();
    let mut dir = rustix::fs::RawDir::new(&*fd, dirents.spare_capacity_mut());
    while let Some(entry) = dir.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                local.dir_gaps.push(Gap {
                    path: shown.clone(),
                    reason: format!("listing stopped: {}", errno_text(e)),
                });
                break;
            }
        };
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        if here >= limits.dir_entries {
            local.unwalked.push(NotChecked::new(
                shown.clone(),
                format!(
                    "holds more than {} entries, the limit for one directory; the entries past it",
                    limits.dir_entries
                ),
            ));
            break;
        }
        if before + here >= limits.entries {
            local.unwalked.push(NotChecked::new(
                shown.clone(),
                format!(
                    "was walked in part: the walk reached its limit of {} entries; the entries \
                     past it",
                    limits.entries
                ),
            ));
            local.scan_limit_reached = true;
            shared.fill();
            break;
        }
        here += 1;
        local.entries += 1;
        let entry = Entry {
            dir: &fd,
            name,
            d_type: entry.file_type(),
        };
        match examine(shared, &item, entry, local, content) {
            Examined::Next => {}
            Examined::Child(child) => children.push(child),
            Examined::StopListing => break,
        }
    }
    shared.entries.fetch_add(here, Ordering::Relaxed);
    children
}

/// Opens a directory to walk and checks that it is the one listed by its parent: a swap in
/// between is not followed.
fn open_dir(item: &Pending, local: &mut Local) -> Option<Arc<OwnedFd>> {
    let fd = match &item.opener {
        Opener::Open(fd) => fd.try_clone().map_err(|e| Errno::from_io_error(&e)),
        Opener::Child { parent, name } => rustix::fs::openat(
            &**parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(Some),
    };
    let gap = |local: &mut Local, reason: String| {
        local.dir_gaps.push(Gap {
            path: item.shown(),
            reason,
        });
    };
    let fd = match fd {
        Ok(fd) => fd,
        Err(Some(Errno::NOENT)) => {
            local.vanished += 1;
            return None;
        }
        Err(e) => {
            gap(local, errno_text(e.unwrap_or(Errno::IO)));
            return None;
        }
    };
    match rustix::fs::statx(&fd, c"", AtFlags::EMPTY_PATH, STATX_MASK) {
        Ok(st) if identity(&st) == (item.dev, item.ino) => Some(Arc::new(fd)),
        Ok(_) => {
            gap(local, "replaced during the walk".into());
            None
        }
        Err(e) => {
            gap(local, errno_text(e));
            None
        }
    }
}

/// One directory entry as getdents listed it.
struct Entry<'a> {
    dir: &'a Arc<OwnedFd>,
    name: &'a CStr,
    d_type: FileType,
}

/// What examining an entry gave.
enum Examined {
    Next,
    /// A subdirectory to walk.
    Child(Pending),
    /// The directory's entries cannot be examined (no search permission).
    StopListing,
}

/// Examines one entry: its mode (world-writable, setuid), its content (regular files), and
/// whether to descend (directories on the same mount, within the depth limit).
fn examine(
    shared: &Shared<'_>,
    item: &Pending,
    entry: Entry<'_>,
    local: &mut Local,
    content: &mut Vec<u8>,
) -> Examined {
    if entry.d_type == FileType::Symlink {
        return Examined::Next;
    }
    let bytes = entry.name.to_bytes();
    let shown_name = display_name(bytes);
    let path = format!("{}/{shown_name}", item.path);
    // A regular file is opened first and examined through its descriptor: one path lookup
    // instead of two (statx by name, then open), which is most of the walk's cost.
    let mut opened: Option<Result<OwnedFd, Errno>> = None;
    if entry.d_type == FileType::RegularFile {
        match file::open_file(entry.dir, entry.name) {
            Err(Errno::NOENT) | Err(Errno::LOOP) => {
                local.vanished += 1;
                return Examined::Next;
            }
            result => opened = Some(result),
        }
    }
    let stat = match &opened {
        Some(Ok(file)) => rustix::fs::statx(file, c"", AtFlags::EMPTY_PATH, STATX_MASK),
        _ => rustix::fs::statx(&**entry.dir, entry.name, STATX_AT, STATX_MASK),
    };
    let st = match stat {
        Ok(st) => st,
        Err(Errno::NOENT) => {
            local.vanished += 1;
            return Examined::Next;
        }
        Err(Errno::ACCESS) => {
            // Listing without search permission: no entry can be examined.
            local.dir_gaps.push(Gap {
                path: item.shown(),
                reason: format!("entries cannot be examined: {}", errno_text(Errno::ACCESS)),
            });
            return Examined::StopListing;
        }
        Err(e) => {
            local.dir_gaps.push(Gap {
                path,
                reason: errno_text(e),
            });
            return Examined::Next;
        }
    };
    let file_type = FileType::from_raw_mode(st.stx_mode as u32);
    if file_type == FileType::Symlink
        || file_type == FileType::Directory && in_any(&path, &SKIPPED_DIRS)
    {
        return Examined::Next;
    }
    let mount = shared.mount_of(&st);
    let temp_dir = file_type == FileType::Directory && TEMP_DIRS.contains(&path.as_str());
    if mount != item.mount && !temp_dir {
        local.other_mounts.push(path);
        return Examined::Next;
    }
    let mode = st.stx_mode as u32 & 0o7777;
    let found = || Found {
        path: path.clone(),
        mode,
        uid: st.stx_uid,
        gid: st.stx_gid,
        is_dir: file_type == FileType::Directory,
    };
    if mode & 0o002 != 0 && !in_any(&path, &TEMP_DIRS) {
        local.world_writable.push(found());
    }
    match file_type {
        FileType::RegularFile => {
            if mode & 0o6000 != 0 {
                local.setid.push(found());
            }
            let file = FileToRead {
                opened: opened.unwrap_or_else(|| file::open_file(entry.dir, entry.name)),
                path: &path,
                size: st.stx_size,
                mode,
                uid: st.stx_uid,
                key_context: item.key_dir || is_key_name(&shown_name),
            };
            file::read_file(shared, file, local, content);
            Examined::Next
        }
        FileType::Directory => {
            let depth = item.depth + 1;
            if depth > shared.limits.depth {
                local.unwalked.push(NotChecked::new(
                    path,
                    format!(
                        "was not walked: it is {depth} directories below the root, over the \
                         depth limit of {}",
                        shared.limits.depth
                    ),
                ));
                return Examined::Next;
            }
            let (dev, ino) = identity(&st);
            Examined::Child(Pending {
                opener: Opener::Child {
                    parent: Arc::clone(entry.dir),
                    name: entry.name.to_owned(),
                },
                path,
                depth,
                mount,
                dev,
                ino,
                key_dir: item.key_dir || bytes == b".ssh" || shared.key_dirs.contains(&(dev, ino)),
            })
        }
        _ => Examined::Next,
    }
}
