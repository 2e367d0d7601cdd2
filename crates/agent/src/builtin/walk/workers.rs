//! The walk's threads: a shared stack of directories, per-thread findings merged at the end, the
//! scan-wide budgets (entries, bytes) every thread draws from.

use super::{Gap, TEMP_DIRS, WalkError, WalkRequest, Walked};
use crate::builtin::limits::{Limits, NotChecked};
use crate::builtin::listed::Capped;
use crate::builtin::root::{self, errno_text};
use crate::builtin::walk::{CredentialFound, Found, KeyFound};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, StatxFlags};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

/// Directories a worker walks between two checks that the target still runs.
const ALIVE_EVERY: u32 = 64;
/// Bytes a worker takes from the shared byte budget at once (one atomic operation per chunk, not
/// per file).
const BUDGET_CHUNK: u64 = 8 * 1024 * 1024;

pub(super) const STATX_MASK: StatxFlags = StatxFlags::TYPE
    .union(StatxFlags::MODE)
    .union(StatxFlags::UID)
    .union(StatxFlags::GID)
    .union(StatxFlags::INO)
    .union(StatxFlags::SIZE)
    .union(StatxFlags::MNT_ID);
pub(super) const STATX_AT: AtFlags = AtFlags::SYMLINK_NOFOLLOW.union(AtFlags::NO_AUTOMOUNT);

/// How a directory to walk is reached.
pub(super) enum Opener {
    /// Already open (the root, a temporary directory reached from the root).
    Open(OwnedFd),
    /// A child of an open directory, opened without following a symlink.
    Child { parent: Arc<OwnedFd>, name: CString },
}

pub(super) struct Pending {
    pub opener: Opener,
    /// Path inside the target, "" for the root.
    pub path: String,
    /// Directories between the root and this one (the root: 0).
    pub depth: usize,
    /// The mount the directory belongs to (its subtree stays on it).
    pub mount: u64,
    pub dev: u64,
    pub ino: u64,
    /// Inside a key directory (or a `.ssh` directory).
    pub key_dir: bool,
}

impl Pending {
    /// The path as the report shows it.
    pub fn shown(&self) -> String {
        if self.path.is_empty() {
            "/".to_string()
        } else {
            self.path.clone()
        }
    }
}

/// Per-thread findings, merged at the end.
pub(super) struct Local {
    pub entries: u64,
    pub files_read: u64,
    pub bytes_read: u64,
    /// Bytes taken from the shared budget and not yet read.
    pub allowance: u64,
    pub world_writable: Capped<Found>,
    pub setid: Capped<Found>,
    pub keys: Capped<KeyFound>,
    pub credentials: Capped<CredentialFound>,
    pub dir_gaps: Capped<Gap>,
    pub file_gaps: Capped<Gap>,
    pub credential_gaps: Capped<Gap>,
    pub unchecked_large: Capped<Gap>,
    pub large_elsewhere: u64,
    pub other_mounts: Capped<String>,
    pub vanished: u64,
    pub unwalked: Capped<NotChecked>,
    pub unread: Capped<NotChecked>,
    pub credentials_unread: Capped<NotChecked>,
    pub scan_limit_reached: bool,
    pub visited_temp: Vec<String>,
}

impl Local {
    pub fn new(cap: usize) -> Local {
        Local {
            entries: 0,
            files_read: 0,
            bytes_read: 0,
            allowance: 0,
            world_writable: Capped::new(cap),
            setid: Capped::new(cap),
            keys: Capped::new(cap),
            credentials: Capped::new(cap),
            dir_gaps: Capped::new(cap),
            file_gaps: Capped::new(cap),
            credential_gaps: Capped::new(cap),
            unchecked_large: Capped::new(cap),
            large_elsewhere: 0,
            other_mounts: Capped::new(cap),
            vanished: 0,
            unwalked: Capped::new(cap),
            unread: Capped::new(cap),
            credentials_unread: Capped::new(cap),
            scan_limit_reached: false,
            visited_temp: Vec::new(),
        }
    }

    fn merge(&mut self, other: Local) {
        self.entries += other.entries;
        self.files_read += other.files_read;
        self.bytes_read += other.bytes_read;
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
        self.unwalked.merge(other.unwalked);
        self.unread.merge(other.unread);
        self.credentials_unread.merge(other.credentials_unread);
        self.scan_limit_reached |= other.scan_limit_reached;
        self.visited_temp.extend(other.visited_temp);
    }

    fn finish(self) -> Walked {
        Walked {
            entries: self.entries,
            files_read: self.files_read,
            bytes_read: self.bytes_read,
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
            unwalked: self.unwalked.finish(),
            unread: self.unread.finish(),
            credentials_unread: self.credentials_unread.finish(),
            scan_limit_reached: self.scan_limit_reached,
        }
    }

    /// Takes `n` bytes of the scan's byte budget: false (and nothing taken) when less is left.
    /// One thread's answers depend only on the order of its reads.
    pub fn take_bytes(&mut self, shared: &Shared<'_>, n: u64) -> bool {
        if self.allowance >= n {
            self.allowance -= n;
            return true;
        }
        let need = n - self.allowance;
        let want = need.max(BUDGET_CHUNK);
        match shared
            .budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                (left >= need).then(|| left - want.min(left))
            }) {
            Ok(left) => {
                self.allowance += want.min(left);
                self.allowance -= n;
                true
            }
            Err(_) => {
                self.scan_limit_reached = true;
                if shared.parallel {
                    // This walk will be run again on one thread: stop reading now.
                    shared.halt();
                }
                false
            }
        }
    }

    /// Records a directory the walk will not descend because a scan-wide limit was reached.
    fn not_walked(&mut self, limits: &Limits, item: &Pending) {
        self.unwalked.push(NotChecked::new(
            item.shown(),
            format!(
                "was not walked: the walk reached its limit of {} entries",
                limits.entries
            ),
        ));
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

pub(super) struct Shared<'a> {
    queue: Mutex<Queue>,
    ready: Condvar,
    /// Mirrors `Queue::idle > 0` without the lock.
    hungry: AtomicBool,
    stop: AtomicBool,
    gone: AtomicBool,
    pub key_dirs: &'a [(u64, u64)],
    /// Mount identity from `stx_mnt_id` (kernel >= 5.8), else from the device number.
    use_mount_id: bool,
    alive: &'a (dyn Fn() -> bool + Sync),
    pub limits: &'a Limits,
    /// Entries of the directories examined so far (published once per directory).
    pub entries: AtomicU64,
    /// Bytes of content the walk may still read, taken in chunks.
    budget: AtomicU64,
    /// The walk reached its entry limit: workers stop and list what they hold as not walked.
    full: AtomicBool,
    /// More than one worker: a walk that reaches a scan-wide limit is abandoned (see
    /// [`super::walk`]).
    parallel: bool,
}

impl Shared<'_> {
    pub fn mount_of(&self, st: &rustix::fs::Statx) -> u64 {
        if self.use_mount_id {
            st.stx_mnt_id
        } else {
            rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor)
        }
    }

    /// Stops every worker: the walk reached its entry limit.
    pub fn fill(&self) {
        self.full.store(true, Ordering::SeqCst);
        self.halt();
    }

    /// Stops every worker. The lock is taken to notify, so a worker between its check of `stop`
    /// and its wait cannot miss the wakeup.
    fn halt(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _queue = self.queue.lock().unwrap();
        self.ready.notify_all();
    }

    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }
}

pub(super) fn identity(st: &rustix::fs::Statx) -> (u64, u64) {
    (
        rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor),
        st.stx_ino,
    )
}

/// One walk of the tree with `threads` workers.
pub(super) fn walk_once(request: &WalkRequest<'_>, threads: usize) -> Result<Walked, WalkError> {
    let gone = |entries| WalkError::Gone { entries };
    let limits = request.limits;
    let root_stat = match rustix::fs::statx(request.root, c"", AtFlags::EMPTY_PATH, STATX_MASK) {
        Ok(st) => st,
        Err(e) if root::means_gone(e) => return Err(gone(0)),
        Err(e) => {
            let mut local = Local::new(limits.findings);
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
        limits,
        entries: AtomicU64::new(0),
        budget: AtomicU64::new(request.byte_budget),
        full: AtomicBool::new(false),
        parallel: threads > 1,
    };
    let mut total = Local::new(limits.findings);
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
                depth: 0,
                mount: shared.mount_of(&root_stat),
                dev,
                ino,
                key_dir: request.key_dirs.contains(&(dev, ino)),
            };
            total.merge(run_workers(&shared, vec![root], threads));
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
    if shared.is_full() {
        for start in &starts {
            total.not_walked(limits, start);
        }
    } else if !starts.is_empty() {
        total.merge(run_workers(&shared, starts, threads));
        if shared.gone.load(Ordering::SeqCst) {
            return Err(gone(total.entries));
        }
    }
    if !(request.alive)() {
        return Err(gone(total.entries));
    }
    total.scan_limit_reached |= shared.is_full();
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
        depth: dir.matches('/').count(),
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
    let mut total = std::thread::scope(|scope| {
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
    });
    // Directories still waiting when the entry limit stopped the workers.
    let left: Vec<Pending> = std::mem::take(&mut shared.queue.lock().unwrap().stack);
    if shared.is_full() {
        for item in &left {
            total.not_walked(shared.limits, item);
        }
    }
    total
}

/// Per-thread buffers.
pub(super) struct Buffers {
    pub dirents: Vec<u8>,
    pub content: Vec<u8>,
}

fn worker(shared: &Shared<'_>) -> Local {
    let mut local = Local::new(shared.limits.findings);
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
        let children = super::dir::walk_dir(shared, item, &mut local, &mut buffers);
        mine.extend(children);
        done += 1;
        if done.is_multiple_of(ALIVE_EVERY) && !(shared.alive)() {
            shared.gone.store(true, Ordering::SeqCst);
            shared.halt();
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
    if shared.is_full() {
        for item in &mine {
            local.not_walked(shared.limits, item);
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
