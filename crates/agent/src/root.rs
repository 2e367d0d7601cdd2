//! The target's root, held open: one `O_PATH | O_DIRECTORY` descriptor of `/proc/<pid>/root`
//! plus the process it belongs to (PID and start time, field 22 of `/proc/<pid>/stat`).
//!
//! Why a descriptor and not the path: `/proc/<pid>/root` is a magic link that resolves only while
//! the process lives, `readlink` of it says `/` for a `pivot_root`ed container (so any tool that
//! canonicalizes the path lands in the scanner's own root), and a Landlocked process may not open
//! `/proc/<pid>` of a process outside its domain. A descriptor opened before any of that pins the
//! root directory itself; `/proc/self/fd/<n>/` then resolves to it in whichever process holds
//! descriptor `n` (the agent, PRoot, and every program PRoot starts, which inherit it).
//!
//! Both backends scan through this handle: the builtin one reads beneath the descriptor, the
//! cinc one passes it to PRoot.

use crate::procfs;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file's identity: (device, inode).
pub type FileId = (u64, u64);

pub fn file_id(meta: &std::fs::Metadata) -> FileId {
    (meta.dev(), meta.ino())
}

/// Whether the target process is still the one whose root was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Running,
    Exited,
    /// The PID now names another process (its start time differs).
    Replaced,
}

/// What a start time read now says about the process identified earlier (pure).
pub fn liveness(then: u64, now: Option<u64>) -> Liveness {
    match now {
        None => Liveness::Exited,
        Some(now) if now == then => Liveness::Running,
        Some(_) => Liveness::Replaced,
    }
}

/// The target's root directory, open.
#[derive(Debug)]
pub struct TargetRoot {
    fd: OwnedFd,
    pub pid: u32,
    /// Start time of the process in clock ticks since boot (`/proc/<pid>/stat` field 22).
    pub start_time: u64,
    /// (device, inode) of the root directory.
    pub identity: FileId,
}

impl TargetRoot {
    /// Opens `<proc>/<pid>/root`. The start time is read before and after opening: equal values
    /// prove the descriptor belongs to that process and not to a successor with a reused PID.
    pub fn open(proc: &Path, pid: u32) -> std::io::Result<TargetRoot> {
        use std::os::unix::fs::OpenOptionsExt;
        let gone = || std::io::Error::from_raw_os_error(libc::ESRCH);
        let before = procfs::start_time(proc, pid).ok_or_else(gone)?;
        let file = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(proc.join(pid.to_string()).join("root"))?;
        let after = procfs::start_time(proc, pid).ok_or_else(gone)?;
        if before != after {
            return Err(gone());
        }
        let identity = file_id(&file.metadata()?);
        Ok(TargetRoot {
            fd: file.into(),
            pid,
            start_time: before,
            identity,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `/proc/self/fd/<n>`: the root as a path, valid in this process and in children that
    /// inherit descriptor `n`.
    pub fn fd_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.raw_fd()))
    }

    /// The root as PRoot's `-r` argument: with a trailing slash, so PRoot joins guest paths under
    /// the directory instead of treating the magic link itself as the root (`ls /` gives ELOOP
    /// without it).
    pub fn view_root(&self) -> String {
        format!("/proc/self/fd/{}/", self.raw_fd())
    }

    /// Is the process that owned this root still running?
    pub fn liveness(&self, proc: &Path) -> Liveness {
        liveness(self.start_time, procfs::start_time(proc, self.pid))
    }

    /// The names in the target's `/`, sorted.
    pub fn entries(&self) -> std::io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(self.fd_path())?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The identity of `path` (absolute, inside the target) resolved beneath the root with the
    /// target's own symlinks (`openat2` with `RESOLVE_IN_ROOT`: `..` and absolute links never
    /// leave the root). `None` when it does not exist.
    pub fn stat_in_root(&self, path: &str) -> std::io::Result<Option<FileId>> {
        match open_in_root(self.fd(), path) {
            Ok(file) => Ok(Some(file_id(&file.metadata()?))),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Opens `path` beneath `root` as an `O_PATH` descriptor, resolving as if `root` were `/` (the
/// builtin backend's resolver, with the same flags).
pub fn open_in_root(root: BorrowedFd<'_>, path: &str) -> std::io::Result<std::fs::File> {
    crate::builtin::root::open_in_root(root, path, rustix::fs::OFlags::PATH)
        .map(std::fs::File::from)
        .map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_from_start_times() {
        assert_eq!(liveness(100, Some(100)), Liveness::Running);
        assert_eq!(liveness(100, None), Liveness::Exited);
        assert_eq!(liveness(100, Some(250)), Liveness::Replaced);
    }

    #[test]
    fn own_root_opens_and_resolves_inside() {
        let root = TargetRoot::open(Path::new("/proc"), std::process::id()).unwrap();
        let slash = file_id(&std::fs::metadata("/").unwrap());
        assert_eq!(root.identity, slash);
        assert_eq!(root.liveness(Path::new("/proc")), Liveness::Running);
        assert!(root.entries().unwrap().contains(&"proc".to_string()));
        assert!(root.view_root().ends_with('/'));
        let etc = file_id(&std::fs::metadata("/etc").unwrap());
        assert_eq!(root.stat_in_root("/etc").unwrap(), Some(etc));
        assert_eq!(root.stat_in_root("/../../etc").unwrap(), Some(etc));
        assert_eq!(root.stat_in_root("/no/such/file").unwrap(), None);
    }

    #[test]
    fn absolute_links_stay_in_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/os-release"), "ID=inside\n").unwrap();
        std::os::unix::fs::symlink("/etc/os-release", dir.path().join("link")).unwrap();
        let fd: OwnedFd = std::fs::File::open(dir.path()).unwrap().into();
        let resolved = open_in_root(fd.as_fd(), "/link").unwrap();
        let inside = std::fs::metadata(dir.path().join("etc/os-release")).unwrap();
        assert_eq!(file_id(&resolved.metadata().unwrap()), file_id(&inside));
    }

    #[test]
    fn a_missing_process_cannot_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        let err = TargetRoot::open(dir.path(), 4242).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
