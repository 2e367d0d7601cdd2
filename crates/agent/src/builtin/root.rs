//! The target's root as a directory file descriptor, and every lookup inside it.
//!
//! Through `/proc/<pid>/root` the kernel enters the target's root once, but a path string
//! resolved under it again (`/proc/<pid>/root/etc/pki/tls/private`) meets absolute symlinks that
//! the kernel resolves against the *scanner's* root. So the root is opened once, as a file
//! descriptor, and every lookup that follows symlinks is `openat2(root, path, RESOLVE_IN_ROOT |
//! RESOLVE_NO_MAGICLINKS)`: the kernel treats the descriptor as `/` for absolute links and `..`,
//! and refuses `/proc/<pid>/...` magic links, so no lookup can leave the target. Files are only
//! ever opened read-only.

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::path::Path;

/// How every symlink-following lookup inside the target resolves.
pub const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Flags for reading a file: read-only, no controlling terminal, no blocking on a FIFO swapped in
/// after the type check.
pub const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK);

/// Opens `/proc/<pid>/root` as an `O_PATH` directory descriptor (the kernel's ptrace access check
/// happens here, once).
pub fn open_proc_root(proc: &Path, pid: u32) -> Result<OwnedFd, Errno> {
    open_dir_path(&proc.join(pid.to_string()).join("root"))
}

/// Opens any directory as a root (tests, directory scans).
pub fn open_dir_path(path: &Path) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// True for the errors that mean "the target process is gone": its `/proc` entry vanished
/// (ENOENT) or the kernel no longer finds the task (ESRCH).
pub fn means_gone(errno: Errno) -> bool {
    errno == Errno::NOENT || errno == Errno::SRCH
}

/// `path` (absolute inside the target, `/etc/passwd`) as the relative form openat2 takes.
fn relative(path: &str) -> &str {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() { "." } else { rel }
}

/// Opens `path` inside the root, following symlinks inside it only.
pub fn open_in_root(root: BorrowedFd<'_>, path: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::openat2(
        root,
        relative(path),
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        IN_ROOT,
    )
}

/// Owner, mode and identity of a file inside the root (symlinks followed inside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub file_type: FileType,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
}

impl Meta {
    pub fn from_stat(st: &rustix::fs::Stat) -> Meta {
        Meta {
            file_type: FileType::from_raw_mode(st.st_mode),
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size as u64,
            dev: st.st_dev,
            ino: st.st_ino,
        }
    }

    pub fn is_executable_file(&self) -> bool {
        self.file_type == FileType::RegularFile && self.mode & 0o111 != 0
    }
}

pub fn fd_meta(fd: impl AsFd) -> Result<Meta, Errno> {
    rustix::fs::fstat(fd).map(|st| Meta::from_stat(&st))
}

/// `stat` of `path` inside the root.
pub fn stat_in_root(root: BorrowedFd<'_>, path: &str) -> Result<Meta, Errno> {
    let fd = open_in_root(root, path, OFlags::PATH)?;
    fd_meta(&fd)
}

/// Why a file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// It does not exist (ENOENT, a dangling link, ENOTDIR).
    Missing,
    /// It is not a regular file.
    NotAFile,
    /// Larger than the limit the caller set.
    TooLarge { size: u64 },
    /// A symlink loop, a chain of more than 40 links (the kernel's limit) or a `/proc` magic link
    /// (ELOOP): not followed.
    Loop,
    /// Swapped for another file between the type check and the open.
    Replaced,
    /// The kernel refused (EACCES, EPERM, EIO, ...).
    Failed(Errno),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => f.write_str("does not exist"),
            ReadError::NotAFile => f.write_str("is not a regular file"),
            ReadError::TooLarge { size } => write!(f, "is too large ({size} bytes)"),
            ReadError::Loop => f.write_str(
                "is a symlink loop, a chain of more than 40 links (the kernel's limit) or a /proc \
                 magic link",
            ),
            ReadError::Replaced => f.write_str("was replaced while being opened"),
            ReadError::Failed(errno) => f.write_str(&errno_text(*errno)),
        }
    }
}

fn classify(errno: Errno) -> ReadError {
    if errno == Errno::NOENT || errno == Errno::NOTDIR {
        ReadError::Missing
    } else if errno == Errno::LOOP {
        ReadError::Loop
    } else {
        ReadError::Failed(errno)
    }
}

/// Reads a regular file of the target, following symlinks inside the root, at most `limit` bytes.
/// The file is examined through an `O_PATH` descriptor first, so a FIFO or a device in its place
/// is never opened for reading.
pub fn read_in_root(root: BorrowedFd<'_>, path: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
    let probe = open_in_root(root, path, OFlags::PATH).map_err(classify)?;
    let meta = fd_meta(&probe).map_err(ReadError::Failed)?;
    if meta.file_type != FileType::RegularFile {
        return Err(ReadError::NotAFile);
    }
    if meta.size > limit {
        return Err(ReadError::TooLarge { size: meta.size });
    }
    let fd = open_in_root(root, path, READ_FLAGS).map_err(classify)?;
    let opened = fd_meta(&fd).map_err(ReadError::Failed)?;
    if (opened.dev, opened.ino) != (meta.dev, meta.ino) {
        return Err(ReadError::Replaced);
    }
    let mut out = Vec::with_capacity(meta.size.min(limit) as usize);
    read_to_end(&fd, &mut out, limit).map_err(ReadError::Failed)?;
    Ok(out)
}

/// Appends at most `limit` bytes of `fd` to `out`.
pub fn read_to_end(fd: impl AsFd, out: &mut Vec<u8>, limit: u64) -> Result<(), Errno> {
    let limit = limit as usize;
    while out.len() < limit {
        let start = out.len();
        let chunk = (limit - start).min(64 * 1024);
        out.resize(start + chunk, 0);
        match rustix::io::read(fd.as_fd(), &mut out[start..]) {
            Ok(0) => {
                out.truncate(start);
                return Ok(());
            }
            Ok(n) => out.truncate(start + n),
            Err(Errno::INTR) => out.truncate(start),
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Fills `buf` from `fd` until it is full or the file ends; returns the bytes read.
pub fn read_into(fd: impl AsFd, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::io::read(fd.as_fd(), &mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// One directory entry: raw name bytes and the type getdents reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub file_type: FileType,
}

/// A directory's entries, and whether it holds more than were listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub entries: Vec<DirEntry>,
    /// The directory holds more than the `max` entries asked for.
    pub more: bool,
}

/// Lists a directory of the target (symlinks followed inside the root), `.` and `..` left out:
/// the first `max` entries the kernel returns, sorted by name.
pub fn list_dir_in_root(root: BorrowedFd<'_>, path: &str, max: usize) -> Result<Listing, Errno> {
    let fd = open_in_root(root, path, OFlags::RDONLY | OFlags::DIRECTORY)?;
    let mut out = Vec::new();
    let mut more = false;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut dir = rustix::fs::RawDir::new(&fd, buf.spare_capacity_mut());
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if out.len() == max {
            more = true;
            break;
        }
        out.push(DirEntry {
            name: name.to_vec(),
            file_type: entry.file_type(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Listing { entries: out, more })
}

/// A file name as the report shows it: UTF-8 kept, every other byte and every control character
/// as `\xNN`, a backslash as `\\`, so distinct names never look alike.
pub fn display_name(bytes: &[u8]) -> String {
    // Most names are printable ASCII: nothing to escape.
    if bytes
        .iter()
        .all(|b| (0x20..0x7f).contains(b) && *b != b'\\')
    {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => {
                    let mut utf8 = [0u8; 4];
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// `EACCES (Permission denied)`: the symbolic name a reader searches for, and the text.
pub fn errno_text(errno: Errno) -> String {
    let name = match errno {
        Errno::ACCESS => "EACCES",
        Errno::PERM => "EPERM",
        Errno::NOENT => "ENOENT",
        Errno::SRCH => "ESRCH",
        Errno::LOOP => "ELOOP",
        Errno::NOTDIR => "ENOTDIR",
        Errno::ISDIR => "EISDIR",
        Errno::MFILE => "EMFILE",
        Errno::NFILE => "ENFILE",
        Errno::NOMEM => "ENOMEM",
        Errno::IO => "EIO",
        Errno::STALE => "ESTALE",
        Errno::XDEV => "EXDEV",
        Errno::OVERFLOW => "EOVERFLOW",
        Errno::NAMETOOLONG => "ENAMETOOLONG",
        Errno::INVAL => "EINVAL",
        Errno::AGAIN => "EAGAIN",
        Errno::NXIO => "ENXIO",
        Errno::NODEV => "ENODEV",
        Errno::NOSYS => "ENOSYS",
        _ => "",
    };
    let text = std::io::Error::from_raw_os_error(errno.raw_os_error()).to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    if name.is_empty() {
        format!("errno {} ({text})", errno.raw_os_error())
    } else {
        format!("{name} ({text})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root(dir: &Path) -> OwnedFd {
        open_dir_path(dir).unwrap()
    }

    #[test]
    fn absolute_and_relative_links_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"scanner side").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::write(r.join("usr/lib/os-release"), b"ID=inside\n").unwrap();
        symlink("/usr/lib/os-release", r.join("etc/os-release")).unwrap();
        symlink("../../../../../../etc/hostname", r.join("etc/escape")).unwrap();
        // An absolute link to a directory that exists only on the scanner's side.
        symlink(outside.path(), r.join("etc/outside")).unwrap();
        symlink("loop", r.join("etc/loop")).unwrap();
        let fd = root(r);
        assert_eq!(
            read_in_root(fd.as_fd(), "/etc/os-release", 1024).unwrap(),
            b"ID=inside\n"
        );
        // `..` stops at the target root: /etc/hostname of the target, which does not exist.
        assert_eq!(
            read_in_root(fd.as_fd(), "/etc/escape", 1024),
            Err(ReadError::Missing)
        );
        assert_eq!(
            read_in_root(fd.as_fd(), "/etc/outside/secret", 1024),
            Err(ReadError::Missing)
        );
        // A loop is not an absent file: what it hides is unknown.
        assert_eq!(
            read_in_root(fd.as_fd(), "/etc/loop", 1024),
            Err(ReadError::Loop)
        );
        assert_eq!(
            read_in_root(fd.as_fd(), "/etc", 1024),
            Err(ReadError::NotAFile)
        );
        assert_eq!(
            read_in_root(fd.as_fd(), "/usr/lib/os-release", 3),
            Err(ReadError::TooLarge { size: 10 })
        );
        assert_eq!(
            stat_in_root(fd.as_fd(), "/").unwrap().file_type,
            FileType::Directory
        );
    }

    #[test]
    fn magic_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        // /proc/self/root inside the tree is a magic link to the scanner's own root.
        symlink("/proc/self/root/etc/hostname", dir.path().join("etc/magic")).unwrap();
        let fd = root(dir.path());
        // Resolved in the root, /proc does not exist there: nothing leaves the root.
        assert!(read_in_root(fd.as_fd(), "/etc/magic", 1024).is_err());
        // Even a real /proc magic link, reached directly, is refused.
        let proc_root = open_dir_path(Path::new("/proc/self")).unwrap();
        assert_eq!(
            open_in_root(proc_root.as_fd(), "root", OFlags::PATH).unwrap_err(),
            Errno::LOOP
        );
    }

    #[test]
    fn directory_listing_is_sorted_and_raw() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/b"), b"").unwrap();
        std::fs::write(
            dir.path().join(std::ffi::OsStr::from_bytes(b"d/a\xff")),
            b"",
        )
        .unwrap();
        let fd = root(dir.path());
        let listing = list_dir_in_root(fd.as_fd(), "/d", 10).unwrap();
        assert!(!listing.more);
        let names: Vec<Vec<u8>> = listing.entries.into_iter().map(|e| e.name).collect();
        assert_eq!(names, [b"a\xff".to_vec(), b"b".to_vec()]);
        assert_eq!(
            list_dir_in_root(fd.as_fd(), "/missing", 10).unwrap_err(),
            Errno::NOENT
        );
        let cut = list_dir_in_root(fd.as_fd(), "/d", 1).unwrap();
        assert_eq!((cut.entries.len(), cut.more), (1, true));
    }

    #[test]
    fn names_are_escaped_unambiguously() {
        assert_eq!(display_name(b"plain.txt"), "plain.txt");
        assert_eq!(display_name(b"caf\xc3\xa9"), "café");
        assert_eq!(display_name(b"bad\xff\xfename"), "bad\\xff\\xfename");
        assert_eq!(display_name(b"back\\xff"), "back\\\\xff");
        assert_eq!(display_name(b"new\nline"), "new\\x0aline");
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_text(Errno::ACCESS), "EACCES (Permission denied)");
        assert!(errno_text(Errno::from_raw_os_error(200)).starts_with("errno 200"));
        assert!(means_gone(Errno::SRCH) && means_gone(Errno::NOENT));
        assert!(!means_gone(Errno::ACCESS));
    }
}
