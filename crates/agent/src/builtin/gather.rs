//! The gathering step: everything the checks need, read once from the target's root and its
//! process into a plain [`Evidence`] value, within the [`Limits`]. Read errors and limits reached
//! are data in it. The checks ([`super::checks`]) judge the evidence without touching a
//! descriptor.

use super::checks::{self, ACCOUNT_FILES, KEY_DIRS, PACKAGE_MANAGER_NAMES, SHELL_NAMES};
use super::limits::{Limits, NotChecked};
use super::root::{self, Meta, ReadError, errno_text};
use super::runtime::{Lsm, TargetProcess};
use super::walk::{self, WalkError, Walked};
use crate::procfs::ProcStatus;
use rustix::fd::BorrowedFd;
use rustix::fs::FileType;
use rustix::io::Errno;
use std::collections::BTreeMap;
use std::time::Instant;

/// Everything the checks judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The limits the evidence was gathered within (the checks name them).
    pub limits: Limits,
    /// `stat` of each account file (SIDESCAN-FS-001), by path.
    pub account_files: BTreeMap<String, Result<Meta, Errno>>,
    /// The walk of the tree (the file and key controls).
    pub walk: Walked,
    /// The target process; `None` for a directory scan.
    pub process: Option<ProcessFacts>,
    pub root_mount: RootMount,
    /// Programs in the search directories (SIDESCAN-SW-001, SW-002).
    pub programs: Programs,
    pub accounts: AccountFiles,
    /// `/etc/os-release`, else `/usr/lib/os-release`.
    pub os_release: Text,
    pub packages: PackageFiles,
    /// Bytes read from the target's files, the walk's included.
    pub bytes_read: u64,
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence {
            limits: Limits::DEFAULT,
            account_files: BTreeMap::new(),
            walk: Walked::default(),
            process: None,
            root_mount: RootMount::default(),
            programs: Programs::default(),
            accounts: AccountFiles::default(),
            os_release: Text::Absent,
            packages: PackageFiles::default(),
            bytes_read: 0,
        }
    }
}

/// A target file as the gathering step found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Text {
    /// It does not exist.
    #[default]
    Absent,
    Read(String),
    /// It could not be read: the path and the reason (`/etc/shadow EACCES (Permission denied)`).
    Unreadable(String),
    /// It was not read: over its limit, not a regular file, behind a symlink loop.
    NotChecked(NotChecked),
}

/// What the process controls read of the target process (`/proc/<pid>/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessFacts {
    pub status: ProcStatus,
    pub mountinfo: Result<String, String>,
    pub lsm: Result<Option<Lsm>, String>,
    pub path_env: Result<Option<String>, String>,
    /// The environment was over its limit (the figure) without a `PATH` in the part read.
    pub environ_over: Option<u64>,
}

impl From<&TargetProcess> for ProcessFacts {
    fn from(p: &TargetProcess) -> ProcessFacts {
        ProcessFacts {
            status: p.status.clone(),
            mountinfo: p.mountinfo.clone(),
            lsm: p.lsm.clone(),
            path_env: p.path_env.clone(),
            environ_over: p.environ_over,
        }
    }
}

/// The root's mount id (`statx`, kernel >= 5.8) and whether its filesystem is read-only
/// (`statfs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootMount {
    pub mount_id: Option<u64>,
    pub read_only: Result<bool, Errno>,
}

impl Default for RootMount {
    fn default() -> Self {
        RootMount {
            mount_id: None,
            read_only: Err(Errno::NOSYS),
        }
    }
}

/// The program search: every directory, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Programs {
    /// The standard directories, then the target's `PATH` (at most [`Limits::path_dirs`] of it).
    pub dirs: Vec<SearchDir>,
    /// The `PATH` directories past the limit: not searched.
    pub path_cut: Option<PathCut>,
}

/// The `PATH` entries not searched because of [`Limits::path_dirs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathCut {
    /// Entries past the limit.
    pub entries: usize,
    /// The first of them.
    pub first: String,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    pub dir: String,
    pub found: DirFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirFound {
    /// Missing, not a directory, or reached under an earlier name (`/bin` -> `usr/bin`).
    NotSearched,
    /// The directory could not be examined: why.
    Unexaminable(String),
    /// The program names present: an executable file, or a name that could not be examined.
    Searched(BTreeMap<&'static str, Probe>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Executable,
    /// It could not be examined: why.
    Unexaminable(String),
}

/// The account files the account controls read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountFiles {
    pub passwd: Text,
    pub shadow: Text,
    pub login_defs: Text,
}

/// The package databases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFiles {
    /// dpkg `status`, distroless' `status.d/*`, apk `installed`, in that order.
    pub files: Vec<PackageFile>,
    /// What could not be listed or opened by name (`/var/lib/dpkg/status.d EACCES (...)`).
    pub errors: Vec<String>,
    /// What a limit left unread.
    pub not_checked: Vec<NotChecked>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    pub path: String,
    /// `dpkg` or `apk`.
    pub manager: &'static str,
    pub text: Text,
}

/// What to gather from.
pub struct Request<'a> {
    pub root: BorrowedFd<'a>,
    pub process: Option<&'a TargetProcess>,
    pub limits: &'a Limits,
    /// Walk threads.
    pub threads: usize,
    /// False once the target process has exited.
    pub alive: &'a (dyn Fn() -> bool + Sync),
}

/// The evidence and the time its parts took.
pub struct Gathered {
    pub evidence: Evidence,
    pub walk_seconds: f64,
    pub seconds: f64,
}

/// Reads everything the checks need. [`WalkError::Gone`] when the target exits meanwhile.
pub fn gather(request: &Request<'_>) -> Result<Gathered, WalkError> {
    let clock = Instant::now();
    let root = request.root;
    let limits = request.limits;
    let mut reader = Reader::new(root, limits);
    let accounts = AccountFiles {
        passwd: reader.text("/etc/passwd", limits.account_file, "account files"),
        shadow: reader.text("/etc/shadow", limits.account_file, "account files"),
        login_defs: reader.text("/etc/login.defs", limits.config_file, "configuration files"),
    };
    let os_release = reader.os_release();
    let packages = reader.packages();
    let account_files = ACCOUNT_FILES
        .iter()
        .map(|(path, _)| (path.to_string(), root::stat_in_root(root, path)))
        .collect();
    let process = request.process.map(ProcessFacts::from);
    let path_env = match process.as_ref().map(|p| &p.path_env) {
        Some(Ok(path)) => path.as_deref(),
        _ => None,
    };
    let programs = programs(root, path_env, limits);
    let root_mount = root_mount(root);
    let key_dirs: Vec<String> = KEY_DIRS.iter().map(|d| d.to_string()).collect();
    let key_dirs = walk::resolve_dirs(root, &key_dirs);
    let walk_clock = Instant::now();
    let walked = walk::walk(&walk::WalkRequest {
        root,
        key_dirs: &key_dirs,
        threads: request.threads,
        alive: request.alive,
        limits,
        byte_budget: reader.left,
    })?;
    let walk_seconds = walk_clock.elapsed().as_secs_f64();
    let bytes_read = reader.read + walked.bytes_read;
    Ok(Gathered {
        evidence: Evidence {
            limits: *limits,
            account_files,
            walk: walked,
            process,
            root_mount,
            programs,
            accounts,
            os_release,
            packages,
            bytes_read,
        },
        walk_seconds,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// os-release of the target: `/etc/os-release`, else `/usr/lib/os-release` (empty when neither
/// can be read), within the default limits.
pub fn os_release(root: BorrowedFd<'_>) -> BTreeMap<String, String> {
    os_release_fields(&Reader::new(root, &Limits::DEFAULT).os_release())
}

/// The fields of an os-release text (none when it was not read).
pub fn os_release_fields(text: &Text) -> BTreeMap<String, String> {
    match text {
        Text::Read(text) => super::inventory::parse_os_release(text),
        _ => BTreeMap::new(),
    }
}

/// Reads the target's small files within their limits and the scan's byte limit.
struct Reader<'a> {
    root: BorrowedFd<'a>,
    limits: &'a Limits,
    /// Bytes the scan may still read.
    left: u64,
    /// Bytes read.
    read: u64,
}

impl<'a> Reader<'a> {
    fn new(root: BorrowedFd<'a>, limits: &'a Limits) -> Reader<'a> {
        Reader {
            root,
            limits,
            left: limits.scan_bytes,
            read: 0,
        }
    }

    /// The text of `path`, at most `limit` bytes (`kind` names the limit in the message).
    fn text(&mut self, path: &str, limit: u64, kind: &str) -> Text {
        match root::read_in_root(self.root, path, limit.min(self.left)) {
            Ok(bytes) => {
                self.left -= bytes.len() as u64;
                self.read += bytes.len() as u64;
                Text::Read(String::from_utf8_lossy(&bytes).into_owned())
            }
            Err(ReadError::Missing) => Text::Absent,
            Err(ReadError::TooLarge { size }) if size > limit => Text::NotChecked(NotChecked::new(
                path,
                format!("is {size} bytes, over the {limit} byte limit for {kind}"),
            )),
            Err(ReadError::TooLarge { size }) => Text::NotChecked(NotChecked::new(
                path,
                format!(
                    "is {size} bytes, more than the {} bytes left of the scan's limit of {} \
                     bytes read",
                    self.left, self.limits.scan_bytes
                ),
            )),
            Err(ReadError::NotAFile) => Text::NotChecked(NotChecked::new(
                path,
                "is not a regular file (a directory, FIFO, socket or device)",
            )),
            Err(e @ ReadError::Loop) => Text::NotChecked(NotChecked::new(path, e.to_string())),
            Err(e) => Text::Unreadable(format!("{path} {e}")),
        }
    }

    /// `/etc/os-release`, else `/usr/lib/os-release`; a file that exists but cannot be read
    /// ends the search.
    fn os_release(&mut self) -> Text {
        for path in ["/etc/os-release", "/usr/lib/os-release"] {
            match self.text(path, self.limits.config_file, "configuration files") {
                Text::Absent => continue,
                found => return found,
            }
        }
        Text::Absent
    }

    /// dpkg's status file, distroless' status.d and apk's database.
    fn packages(&mut self) -> PackageFiles {
        let mut out = PackageFiles::default();
        let mut dpkg_files = vec!["/var/lib/dpkg/status".to_string()];
        let status_d = "/var/lib/dpkg/status.d";
        match root::list_dir_in_root(self.root, status_d, self.limits.package_files) {
            Ok(listing) => {
                if listing.more {
                    out.not_checked.push(NotChecked::new(
                        status_d,
                        format!(
                            "holds more than {} entries, the limit; the files past it",
                            self.limits.package_files
                        ),
                    ));
                }
                for entry in listing.entries {
                    let path = format!("{status_d}/{}", root::display_name(&entry.name));
                    if std::str::from_utf8(&entry.name).is_err() || entry.name.contains(&b'\\') {
                        // Shown escaped, the name does not open the file.
                        out.errors
                            .push(format!("{path}: the name is not plain UTF-8; not read"));
                    } else if !path.ends_with(".md5sums") {
                        dpkg_files.push(path);
                    }
                }
            }
            Err(e) if missing(e) => {}
            Err(e) => out.errors.push(format!("{status_d} {}", errno_text(e))),
        }
        let files = dpkg_files
            .into_iter()
            .map(|path| (path, "dpkg"))
            .chain([("/lib/apk/db/installed".to_string(), "apk")]);
        for (path, manager) in files {
            let text = self.text(&path, self.limits.package_db, "package databases");
            if text != Text::Absent {
                out.files.push(PackageFile {
                    path,
                    manager,
                    text,
                });
            }
        }
        out
    }
}

fn missing(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::LOOP || e == Errno::NOTDIR
}

/// Looks for the shells and package managers in the standard directories and the target's
/// `PATH` (at most [`Limits::path_dirs`] of it). A directory reached twice (`/bin` -> `usr/bin`)
/// is searched once, under its first name.
fn programs(root: BorrowedFd<'_>, path_env: Option<&str>, limits: &Limits) -> Programs {
    let (dirs, path_cut) = checks::search_dirs_within(path_env, limits.path_dirs);
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let dirs = dirs
        .into_iter()
        .map(|dir| {
            let found = match root::stat_in_root(root, &dir) {
                Ok(meta) if meta.file_type == FileType::Directory => {
                    if seen.contains(&(meta.dev, meta.ino)) {
                        DirFound::NotSearched
                    } else {
                        seen.push((meta.dev, meta.ino));
                        DirFound::Searched(probe_programs(root, &dir))
                    }
                }
                Ok(_) => DirFound::NotSearched,
                Err(e) if missing(e) => DirFound::NotSearched,
                Err(e) => DirFound::Unexaminable(errno_text(e)),
            };
            SearchDir { dir, found }
        })
        .collect();
    Programs { dirs, path_cut }
}

/// The shells and package managers present in `dir`.
fn probe_programs(root: BorrowedFd<'_>, dir: &str) -> BTreeMap<&'static str, Probe> {
    let mut found = BTreeMap::new();
    for name in SHELL_NAMES.iter().chain(PACKAGE_MANAGER_NAMES.iter()) {
        match root::stat_in_root(root, &format!("{dir}/{name}")) {
            Ok(meta) if meta.is_executable_file() => {
                found.insert(*name, Probe::Executable);
            }
            Ok(_) => {}
            Err(e) if missing(e) => {}
            Err(e) => {
                found.insert(*name, Probe::Unexaminable(errno_text(e)));
            }
        }
    }
    found
}

/// The root's mount id and read-only flag.
fn root_mount(root: BorrowedFd<'_>) -> RootMount {
    use rustix::fs::{AtFlags, StatVfsMountFlags, StatxFlags};
    let mount_id = rustix::fs::statx(root, c"", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID)
        .ok()
        .filter(|st| st.stx_mask & StatxFlags::MNT_ID.bits() != 0)
        .map(|st| st.stx_mnt_id);
    let read_only =
        rustix::fs::fstatvfs(root).map(|s| s.f_flag.contains(StatVfsMountFlags::RDONLY));
    RootMount {
        mount_id,
        read_only,
    }
}
