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
//! Every regular file up to [`CONTENT_LIMIT`] is read once (a head first; binary files stop there)
//! for private keys, and files named like credential files are checked for secrets. What could not
//! be read is collected with the reason, so the controls report it instead of passing.
//!
//! Two worker threads share one stack of directories; findings are kept per thread and merged, and
//! each list keeps the [`MAX_FINDINGS`] smallest paths, so the report does not depend on which
//! thread saw what.

use super::content::{self, BINARY_PROBE, CONTENT_LIMIT, CredentialKind};
use super::root::{self, display_name, errno_text};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, StatxFlags};
use rustix::io::Errno;
use std::collections::BinaryHeap;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Directories never descended: kernel and device filesystems.
pub const SKIPPED_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];
/// Temporary directories: walked (setuid files and keys count there too) wherever they are
/// mounted; only the world-writable check exempts them.
pub const TEMP_DIRS: [&str; 4] = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];
/// At most this many findings are kept per kind; the rest are counted.
pub const MAX_FINDINGS: usize = 500;
/// Files up to this size are read with one `read` (most text files of an image are smaller).
const SMALL_FILE: usize = 8 * 1024;
/// Directories a worker walks between two checks that the target still runs.
const ALIVE_EVERY: u32 = 64;

/// A list that keeps the `MAX_FINDINGS` smallest items and counts the others.
#[derive(Debug, Clone)]
pub struct Capped<T: Ord> {
    heap: BinaryHeap<T>,
    more: usize,
}

impl<T: Ord> Default for Capped<T> {
    fn default() -> Self {
        Capped {
            heap: BinaryHeap::new(),
            more: 0,
        }
    }
}

impl<T: Ord> Capped<T> {
    pub fn push(&mut self, item: T) {
        if self.heap.len() < MAX_FINDINGS {
            self.heap.push(item);
        } else if self.heap.peek().is_some_and(|largest| item < *largest) {
            self.heap.pop();
            self.heap.push(item);
            self.more += 1;
        } else {
            self.more += 1;
        }
    }

    fn merge(&mut self, other: Capped<T>) {
        self.more += other.more;
        for item in other.heap {
            self.push(item);
        }
    }

    fn finish(self) -> Listed<T> {
        Listed {
            items: self.heap.into_sorted_vec(),
            more: self.more,
        }
    }
}

/// Up to [`MAX_FINDINGS`] items, smallest first, and how many more there were.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub more: usize,
}

impl<T> Default for Listed<T> {
    fn default() -> Self {
        Listed {
            items: Vec::new(),
            more: 0,
        }
    }
}

impl<T> Listed<T> {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.more == 0
    }
    pub fn total(&self) -> usize {
        self.items.len() + self.more
    }
}

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
    /// Files over [`CONTENT_LIMIT`] in key directories or with key-like names: not checked.
    pub unchecked_large: Listed<Gap>,
    /// Other files over [`CONTENT_LIMIT`] (not read).
    pub large_elsewhere: u64,
    /// Other filesystems mounted inside the target: not walked.
    pub other_mounts: Listed<String>,
    /// Entries that disappeared between listing and examining (a live container changes).
    pub vanished: u64,
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

/// How a directory to walk is reached.
enum Opener {
    /// Already open (the root, a temporary directory reached from the root).
    Open(OwnedFd),
    /// A child of an open directory, opened without following a symlink.
    Child { parent: Arc<OwnedFd>, name: CString },
}

struct Pending {
    opener: Opener,
    /// Path inside the target, "" for the root.
    path: String,
    /// The mount the directory belongs to (its subtree stays on it).
    mount: u64,
    dev: u64,
    ino: u64,
    /// Inside a key directory (or a `.ssh` directory).
    key_dir: bool,
}

/// Per-thread findings, merged at the end.
#[derive(Default)]
struct Local {
    entries: u64,
    files_read: u64,
    world_writable: Capped<Found>,
    setid: Capped<Found>,
    keys: Capped<KeyFound>,
    credentials: Capped<CredentialFound>,
    dir_gaps: Capped<Gap>,
    file_gaps: Capped<Gap>,
    credential_gaps: Capped<Gap>,
    unchecked_large: Capped<Gap>,
    large_elsewhere: u64,
    other_mounts: Capped<String>,
    vanished: u64,
    visited_temp: Vec<String>,
}

impl Local {
    fn merge(&mut self, other: Local) {
        self.entries += other.entries;
        self.files_read += other.files_read;
        self.world_writable.merge(other.world_writable);
        self.setid.merge(other.setid);
        self.keys.merge(other.keys);
        self.credentials.merge(other.credentials);
        self.dir_gaps.merge(other.dir_gaps);
        self.file_gaps.merge(other.file_gaps);
        self.credential_gaps.merge(other.credential_gaps);
        self.unchecked_large.merge(other.unchecked_large);
        self.large_elsewhere += other.large_elsewhere;
        self.other_mounts.merge(other.other_mounts);
        self.vanished += other.vanished;
        self.visited_temp.extend(other.visited_temp);
    }

    fn finish(self) -> Walked {
        Walked {
            entries: self.entries,
            files_read: self.files_read,
            world_writable: self.world_writable.finish(),
            setid: self.setid.finish(),
            keys: self.keys.finish(),
            credentials: self.credentials.finish(),
            dir_gaps: self.dir_gaps.finish(),
            file_gaps: self.file_gaps.finish(),
            credential_gaps: self.credential_gaps.finish(),
            unchecked_large: self.unchecked_large.finish(),
            large_elsewhere: self.large_elsewhere,
            other_mounts: self.other_mounts.finish(),
            vanished: self.vanished,
        }
    }
}

/// Directories waiting for a worker. Each worker walks depth-first from its own stack and hands
/// work over here only when another worker is idle, so the lock is taken rarely.
struct Queue {
    stack: Vec<Pending>,
    /// Workers waiting for work.
    idle: usize,
    /// Workers in this walk.
    workers: usize,
    /// Every worker ran out of work.
    finished: bool,
}

struct Shared<'a> {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Mirrors `Queue::idle > 0` without the lock.
    hungry: AtomicBool,
    stop: AtomicBool,
    gone: AtomicBool,
    key_dirs: &'a [(u64, u64)],
    /// Mount identity from `stx_mnt_id` (kernel >= 5.8), else from the device number.
    use_mount_id: bool,
    alive: &'a (dyn Fn() -> bool + Sync),
}

const STATX_MASK: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::UID)
    .union(StatxFlags::GID)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MNT_ID);
const STATX_AT: AtFlags = AtFlags::SYMLINK_NOFOLLOW.union(AtFlags::NO_AUTOMOUNT);

impl Shared<'_> {
    fn mount_of(&self, st: &rustix::fs::Statx) -> u64 {
        if self.use_mount_id {
            st.stx_mnt_id
        } else {
            rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor)
        }
    }
}

fn identity(st: &rustix::fs::Statx) -> (u64, u64) {
    (
        rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
        st.stx_ino,
    )
}

/// Walks the target's tree. Returns [`WalkError::Gone`] when the target exits meanwhile.
pub fn walk(request: &WalkRequest<'_>) -> Result<Walked, WalkError> {
    let gone = |entries| WalkError::Gone { entries };
    let root_stat = match rustix::fs::statx(request.root, c"", AtFlags::EMPTY_PATH, STATX_MASK) {
        Ok(st) => st,
        Err(e) if root::means_gone(e) => return Err(gone(0)),
        Err(e) => {
            let mut local = Local::default();
            local.dir_gaps.push(Gap {
                path: "/".into(),
                reason: errno_text(e),
            });
            return Ok(local.finish());
        }
    };
    let shared = Shared {
        queue: Mutex::new(Queue {
            stack: Vec::new(),
            idle: 0,
            workers: 0,
            finished: false,
        }),
        ready: Condvar::new(),
        hungry: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        gone: AtomicBool::new(false),
        key_dirs: request.key_dirs,
        use_mount_id: root_stat.stx_mask & StatxFlags::MNT_ID.bits() != 0,
        alive: request.alive,
    };
    let mut total = Local::default();
    match rustix::fs::openat(
        request.root,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let (dev, ino) = identity(&root_stat);
            let root = Pending {
                opener: Opener::Open(fd),
                path: String::new(),
                mount: shared.mount_of(&root_stat),
                dev,
                ino,
                key_dir: request.key_dirs.contains(&(dev, ino)),
            };
            total.merge(run_workers(&shared, vec![root], request.threads));
        }
        Err(e) if root::means_gone(e) => return Err(gone(0)),
        Err(e) => total.dir_gaps.push(Gap {
            path: "/".into(),
            reason: errno_text(e),
        }),
    }
    if shared.gone.load(Ordering::SeqCst) {
        return Err(gone(total.entries));
    }
    // Temporary directories the walk did not reach (under /dev, or under another mount).
    let starts: Vec<Pending> = TEMP_DIRS
        .iter()
        .filter(|dir| !total.visited_temp.iter().any(|v| v == *dir))
        .filter_map(|dir| open_temp_dir(&shared, request.root, dir))
        .collect();
    if !starts.is_empty() {
        total.merge(run_workers(&shared, starts, request.threads));
        if shared.gone.load(Ordering::SeqCst) {
            return Err(gone(total.entries));
        }
    }
    if !(request.alive)() {
        return Err(gone(total.entries));
    }
    Ok(total.finish())
}

/// A temporary directory as a walk start: no symlink anywhere on its path (a link would lead to a
/// directory the walk covers anyway).
fn open_temp_dir(shared: &Shared<'_>, root: BorrowedFd<'_>, dir: &str) -> Option<Pending> {
    let fd = rustix::fs::openat2(
        root,
        dir.trim_start_matches('/'),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS,
    )
    .ok()?;
    let st = rustix::fs::statx(&fd, c"", AtFlags::EMPTY_PATH, STATX_MASK).ok()?;
    let (dev, ino) = identity(&st);
    Some(Pending {
        opener: Opener::Open(fd),
        path: dir.to_string(),
        mount: shared.mount_of(&st),
        dev,
        ino,
        key_dir: false,
    })
}

fn run_workers(shared: &Shared<'_>, starts: Vec<Pending>, threads: usize) -> Local {
    let threads = threads.max(1);
    {
        let mut queue = shared.queue.lock().unwrap();
        queue.stack.extend(starts);
        queue.idle = 0;
        queue.workers = threads;
        queue.finished = false;
    }
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads)
            .map(|_| scope.spawn(|| worker(shared)))
            .collect();
        let mut total = worker(shared);
        for helper in helpers {
            // A worker that panicked would lose findings: stop the walk rather than pass.
            match helper.join() {
                Ok(local) => total.merge(local),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        total
    })
}

/// Per-thread buffers.
struct Buffers {
    dirents: Vec<u8>,
    content: Vec<u8>,
}

fn worker(shared: &Shared<'_>) -> Local {
    let mut local = Local::default();
    let mut buffers = Buffers {
        dirents: Vec::with_capacity(32 * 1024),
        content: Vec::new(),
    };
    let mut mine: Vec<Pending> = Vec::new();
    let mut done: u32 = 0;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let item = match mine.pop() {
            Some(item) => item,
            None => match take_shared(shared) {
                Some(item) => item,
                None => break,
            },
        };
        let children = walk_dir(shared, item, &mut local, &mut buffers);
        mine.extend(children);
        done += 1;
        if done.is_multiple_of(ALIVE_EVERY) && !(shared.alive)() {
            shared.gone.store(true, Ordering::SeqCst);
            shared.stop.store(true, Ordering::SeqCst);
            shared.ready.notify_all();
            break;
        }
        // Another worker ran dry: hand over the bottom half of this stack (the directories
        // nearest the root, the largest subtrees).
        if mine.len() > 1 && shared.hungry.load(Ordering::Relaxed) {
            let mut queue = shared.queue.lock().unwrap();
            let half = mine.len() / 2;
            queue.stack.extend(mine.drain(..half));
            shared.ready.notify_all();
        }
    }
    local
}

/// A directory from the shared stack, waiting while other workers may still hand some over;
/// `None` when every worker is out of work (or the walk stopped).
fn take_shared(shared: &Shared<'_>) -> Option<Pending> {
    let mut queue = shared.queue.lock().unwrap();
    loop {
        if queue.finished || shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        if let Some(item) = queue.stack.pop() {
            return Some(item);
        }
        if queue.idle + 1 == queue.workers {
            // Every other worker waits and nothing is left: the walk is done.
            queue.finished = true;
            shared.ready.notify_all();
            return None;
        }
        queue.idle += 1;
        shared.hungry.store(true, Ordering::SeqCst);
        queue = shared.ready.wait(queue).unwrap();
        queue.idle -= 1;
        shared.hungry.store(queue.idle > 0, Ordering::SeqCst);
    }
}

/// Lists one directory, examines its entries and returns the subdirectories to walk.
fn walk_dir(
    shared: &Shared<'_>,
    item: Pending,
    local: &mut Local,
    buffers: &mut Buffers,
) -> Vec<Pending> {
    let shown = if item.path.is_empty() {
        "/".to_string()
    } else {
        item.path.clone()
    };
    if TEMP_DIRS.contains(&item.path.as_str()) {
        local.visited_temp.push(item.path.clone());
    }
    let fd = match item.opener {
        Opener::Open(fd) => fd,
        Opener::Child { parent, name } => {
            match rustix::fs::openat(
                &*parent,
                &name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    local.vanished += 1;
                    return Vec::new();
                }
                Err(e) => {
                    local.dir_gaps.push(Gap {
                        path: shown,
                        reason: errno_text(e),
                    });
                    return Vec::new();
                }
            }
        }
    };
    // The directory opened must be the one examined: a swap in between is not followed.
    match rustix::fs::statx(&fd, c"", AtFlags::EMPTY_PATH, STATX_MASK) {
        Ok(st) if identity(&st) == (item.dev, item.ino) => {}
        Ok(_) => {
            local.dir_gaps.push(Gap {
                path: shown,
                reason: "replaced during the walk".into(),
            });
            return Vec::new();
        }
        Err(e) => {
            local.dir_gaps.push(Gap {
                path: shown,
                reason: errno_text(e),
            });
            return Vec::new();
        }
    }
    let fd = Arc::new(fd);
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
        local.entries += 1;
        if entry.file_type() == FileType::Symlink {
            continue;
        }
        let shown_name = display_name(bytes);
        let path = format!("{}/{shown_name}", item.path);
        // A regular file is opened first and examined through its descriptor: one path lookup
        // instead of two (statx by name, then open), which is most of the walk's cost.
        let mut opened: Option<Result<OwnedFd, Errno>> = None;
        if entry.file_type() == FileType::RegularFile {
            match open_file(&fd, name) {
                Err(Errno::NOENT) | Err(Errno::LOOP) => {
                    local.vanished += 1;
                    continue;
                }
                result => opened = Some(result),
            }
        }
        let stat = match &opened {
            Some(Ok(file)) => rustix::fs::statx(file, c"", AtFlags::EMPTY_PATH, STATX_MASK),
            _ => rustix::fs::statx(&*fd, name, STATX_AT, STATX_MASK),
        };
        let st = match stat {
            Ok(st) => st,
            Err(Errno::NOENT) => {
                local.vanished += 1;
                continue;
            }
            Err(Errno::ACCESS) => {
                // Listing without search permission: no entry can be examined.
                local.dir_gaps.push(Gap {
                    path: shown.clone(),
                    reason: format!("entries cannot be examined: {}", errno_text(Errno::ACCESS)),
                });
                break;
            }
            Err(e) => {
                local.dir_gaps.push(Gap {
                    path,
                    reason: errno_text(e),
                });
                continue;
            }
        };
        let file_type = FileType::from_raw_mode(st.stx_mode as u32);
        if file_type == FileType::Symlink
            || file_type == FileType::Directory && in_any(&path, &SKIPPED_DIRS)
        {
            continue;
        }
        let mount = shared.mount_of(&st);
        let temp_dir = file_type == FileType::Directory && TEMP_DIRS.contains(&path.as_str());
        if mount != item.mount && !temp_dir {
            local.other_mounts.push(path);
            continue;
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
                    opened: opened.unwrap_or_else(|| open_file(&fd, name)),
                    path: &path,
                    size: st.stx_size,
                    mode,
                    uid: st.stx_uid,
                    key_context: item.key_dir || is_key_name(&shown_name),
                };
                read_file(file, local, content);
            }
            FileType::Directory => {
                let (dev, ino) = identity(&st);
                children.push(Pending {
                    opener: Opener::Child {
                        parent: Arc::clone(&fd),
                        name: name.to_owned(),
                    },
                    path,
                    mount,
                    dev,
                    ino,
                    key_dir: item.key_dir
                        || bytes == b".ssh"
                        || shared.key_dirs.contains(&(dev, ino)),
                });
            }
            _ => {}
        }
    }
    children
}

/// Opens a directory entry for reading, never through a symlink.
fn open_file(dir: &OwnedFd, name: &CStr) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        root::READ_FLAGS | OFlags::NOFOLLOW,
        Mode::empty(),
    )
}

struct FileToRead<'a> {
    opened: Result<OwnedFd, Errno>,
    path: &'a str,
    size: u64,
    mode: u32,
    uid: u32,
    /// In a key directory or named like a key: a file too large to read is reported.
    key_context: bool,
}

/// Reads one regular file for keys and credentials.
fn read_file(file: FileToRead<'_>, local: &mut Local, buffer: &mut Vec<u8>) {
    let credential = content::credential_candidate(file.path);
    if file.size == 0 {
        return;
    }
    if file.size > CONTENT_LIMIT {
        let gap = Gap {
            path: file.path.to_string(),
            reason: format!(
                "{} bytes, over the {} byte content limit: not checked",
                file.size, CONTENT_LIMIT
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
        Ok(fd) => fd,
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
    let size = file.size.min(CONTENT_LIMIT) as usize;
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
    let head = match root::read_into(&fd, &mut buffer[..first]) {
        Ok(n) => n,
        Err(e) => return unread(e, local),
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
        return;
    }
    let mut len = head;
    if head == first && size > head {
        match root::read_into(&fd, &mut buffer[head..size]) {
            Ok(n) => len += n,
            Err(e) => return unread(e, local),
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
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::Path;

    fn touch(root: &Path, rel: &str, mode: u32) {
        write(root, rel, "x", mode);
    }

    fn write(root: &Path, rel: &str, text: &str, mode: u32) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn run(root: &Path, threads: usize) -> Walked {
        let fd = root::open_dir_path(root).unwrap();
        walk(&WalkRequest {
            root: fd.as_fd(),
            key_dirs: &[],
            threads,
            alive: &|| true,
        })
        .unwrap()
    }

    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n";

    #[test]
    fn finds_world_writable_outside_temp_and_setid_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "usr/bin/su", 0o4755);
        touch(root, "usr/bin/wall", 0o2755);
        touch(root, "usr/bin/ls", 0o755);
        touch(root, "etc/open.conf", 0o666);
        touch(root, "tmp/scratch", 0o666);
        touch(root, "tmp/sneaky-su", 0o4755);
        touch(root, "var/tmp/x/y", 0o666);
        std::fs::create_dir_all(root.join("srv/drop")).unwrap();
        std::fs::set_permissions(
            root.join("srv/drop"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .unwrap();
        touch(root, "proc/1/status", 0o666);
        symlink("/etc/open.conf", root.join("etc/link")).unwrap();
        for threads in [1, 2] {
            let found = run(root, threads);
            let ww: Vec<&str> = found
                .world_writable
                .items
                .iter()
                .map(|f| f.path.as_str())
                .collect();
            assert_eq!(ww, ["/etc/open.conf", "/srv/drop"]);
            assert!(found.world_writable.items[1].is_dir);
            let setid: Vec<&str> = found.setid.items.iter().map(|f| f.path.as_str()).collect();
            assert_eq!(setid, ["/tmp/sneaky-su", "/usr/bin/su", "/usr/bin/wall"]);
            assert_eq!(found.setid.items[1].mode, 0o4755);
            assert!(found.dir_gaps.is_empty());
        }
    }

    #[test]
    fn keys_are_found_by_content_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "etc/tls/tls.crt",
            &format!("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n{KEY}"),
            0o644,
        );
        write(root, "tmp/dropped", KEY, 0o600);
        write(
            root,
            "opt/certs/ca.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            0o644,
        );
        // A big text file with the key past the head.
        let mut big = "# padding\n".repeat(20_000);
        big.push_str(KEY);
        write(root, "srv/notes.txt", &big, 0o644);
        // A binary file mentioning a key is not read past its head.
        write(root, "usr/lib/libx.so", &format!("\x7fELF\0\0{KEY}"), 0o755);
        // A non-UTF-8 directory name with a key beneath.
        let odd = root.join(std::ffi::OsStr::from_bytes(b"srv/caf\xe9"));
        std::fs::create_dir_all(&odd).unwrap();
        std::fs::write(odd.join("id"), KEY).unwrap();
        let found = run(root, 2);
        let keys: Vec<(&str, &str)> = found
            .keys
            .items
            .iter()
            .map(|k| (k.path.as_str(), k.kind.as_str()))
            .collect();
        let kind = "PEM private key (PKCS#8, not encrypted)";
        assert_eq!(
            keys,
            [
                ("/etc/tls/tls.crt", kind),
                ("/srv/caf\\xe9/id", kind),
                ("/srv/notes.txt", kind),
                ("/tmp/dropped", kind),
            ]
        );
    }

    #[test]
    fn large_files_in_key_places_are_reported_not_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let big = "a".repeat(CONTENT_LIMIT as usize + 1);
        write(root, "etc/ssl/private/huge", &big, 0o600);
        write(root, "home/u/.ssh/id_rsa", &big, 0o600);
        write(root, "srv/server.key", &big, 0o600);
        write(root, "srv/data.csv", &big, 0o644);
        let fd = root::open_dir_path(root).unwrap();
        let key_dirs = resolve_dirs(fd.as_fd(), &["/etc/ssl/private".to_string()]);
        let found = walk(&WalkRequest {
            root: fd.as_fd(),
            key_dirs: &key_dirs,
            threads: 2,
            alive: &|| true,
        })
        .unwrap();
        let paths: Vec<&str> = found
            .unchecked_large
            .items
            .iter()
            .map(|g| g.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "/etc/ssl/private/huge",
                "/home/u/.ssh/id_rsa",
                "/srv/server.key"
            ]
        );
        assert!(
            found.unchecked_large.items[0]
                .reason
                .contains("not checked")
        );
        assert_eq!(found.large_elsewhere, 1);
    }

    #[test]
    fn credential_files_are_found_and_named_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "root/.aws/credentials",
            "[default]\naws_secret_access_key = SIDESCANSECRETVALUE\n",
            0o600,
        );
        write(root, "home/u/.netrc", "machine m login u\n", 0o600);
        let found = run(root, 1);
        assert_eq!(found.credentials.items.len(), 1);
        assert_eq!(found.credentials.items[0].path, "/root/.aws/credentials");
        assert_eq!(
            found.credentials.items[0].kind,
            CredentialKind::AwsCredentials
        );
        assert!(!format!("{found:?}").contains("SIDESCANSECRETVALUE"));
    }

    #[test]
    fn findings_are_capped_and_counted_the_same_with_any_thread_count() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(MAX_FINDINGS + 7) {
            touch(dir.path(), &format!("data/d{}/f{i}", i % 13), 0o666);
        }
        let one = run(dir.path(), 1);
        let two = run(dir.path(), 2);
        assert_eq!(one.world_writable.items.len(), MAX_FINDINGS);
        assert_eq!(one.world_writable.more, 7);
        assert_eq!(one, two);
    }

    #[test]
    fn a_target_that_exits_stops_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..300 {
            touch(dir.path(), &format!("d{i}/f"), 0o644);
        }
        let fd = root::open_dir_path(dir.path()).unwrap();
        let checks = std::sync::atomic::AtomicU32::new(0);
        let alive = || checks.fetch_add(1, Ordering::SeqCst) < 2;
        let err = walk(&WalkRequest {
            root: fd.as_fd(),
            key_dirs: &[],
            threads: 2,
            alive: &alive,
        })
        .unwrap_err();
        let WalkError::Gone { entries } = err;
        assert!(entries > 0, "{entries}");
    }

    #[test]
    fn temp_dirs_under_dev_are_walked_and_dev_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "dev/null-ish", 0o666);
        touch(root, "dev/shm/suid", 0o4755);
        let found = run(root, 1);
        let setid: Vec<&str> = found.setid.items.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(setid, ["/dev/shm/suid"]);
        assert!(found.world_writable.is_empty());
    }
}
