//! Keeping a scan inside its bounds: Landlock makes the target view read-only, and a child
//! subreaper makes sure nothing a scan started outlives the agent.
//!
//! **Landlock** (Linux ≥ 5.13, unprivileged): the agent builds a ruleset that *handles* every
//! write-type filesystem access the kernel knows (per ABI: write, truncate, remove, make, refer)
//! and allows them only beneath the scan's scratch directory (where PRoot's own files, `HOME`,
//! `TMPDIR` and the report are) and on the device files the view's programs write
//! ([`VIEW_DEVICES`]: `/dev/null`); never the scanner's `/tmp` or the rest of `/dev` (the pod's
//! `/dev/shm` is the target's too). Reads are not handled, so they stay allowed. The ruleset is
//! created in the agent and enforced in the scanner's child process between `fork` and `exec`
//! ([`restrict_self`], async-signal-safe: two system calls), so PRoot and everything it starts
//! inherit it and cannot write into the target, whatever path they use. The builtin backend's
//! scan threads enforce one with no rule at all ([`confine_thread`]). What Landlock does not
//! govern (mode, owner, timestamps, extended attributes) and what ABI 1 and 2 do not
//! (truncation) the seccomp filters refuse ([`crate::seccomp`]).
//!
//! `SIDESCAN_LANDLOCK_MAX_ABI` (a test switch, not a setting: the host tests run the views at ABI
//! 1 as Linux 5.13 to 5.19 offer it) caps the ABI the agent uses; `0` acts as a kernel without
//! Landlock.
//!
//! **Containment**: the agent marks itself a child subreaper, so processes a scan daemonizes
//! (double fork, `setsid`) are reparented to the agent instead of PID 1, and
//! [`kill_descendants`] finds every one of them through the parent links in `/proc/*/stat`.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

// Landlock's user API (include/uapi/linux/landlock.h); the syscall numbers are the same on every
// architecture (added after the syscall table unification).
const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444;
const SYS_LANDLOCK_ADD_RULE: libc::c_long = 445;
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = 446;
const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;

/// The test switch capping the ABI used (see the module documentation).
pub const MAX_ABI_ENV: &str = "SIDESCAN_LANDLOCK_MAX_ABI";

pub const ACCESS_FS_WRITE_FILE: u64 = 1 << 1;
pub const ACCESS_FS_REMOVE_DIR: u64 = 1 << 4;
pub const ACCESS_FS_REMOVE_FILE: u64 = 1 << 5;
pub const ACCESS_FS_MAKE_CHAR: u64 = 1 << 6;
pub const ACCESS_FS_MAKE_DIR: u64 = 1 << 7;
pub const ACCESS_FS_MAKE_REG: u64 = 1 << 8;
pub const ACCESS_FS_MAKE_SOCK: u64 = 1 << 9;
pub const ACCESS_FS_MAKE_FIFO: u64 = 1 << 10;
pub const ACCESS_FS_MAKE_BLOCK: u64 = 1 << 11;
pub const ACCESS_FS_MAKE_SYM: u64 = 1 << 12;
/// ABI 2: linking or renaming a file into another directory.
pub const ACCESS_FS_REFER: u64 = 1 << 13;
/// ABI 3: `truncate(2)`, `ftruncate` and `O_TRUNC`.
pub const ACCESS_FS_TRUNCATE: u64 = 1 << 14;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The write-type accesses Landlock ABI `abi` can handle (0 when Landlock is unavailable).
pub fn write_accesses(abi: u32) -> u64 {
    if abi == 0 {
        return 0;
    }
    let mut access = ACCESS_FS_WRITE_FILE
        | ACCESS_FS_REMOVE_DIR
        | ACCESS_FS_REMOVE_FILE
        | ACCESS_FS_MAKE_CHAR
        | ACCESS_FS_MAKE_DIR
        | ACCESS_FS_MAKE_REG
        | ACCESS_FS_MAKE_SOCK
        | ACCESS_FS_MAKE_FIFO
        | ACCESS_FS_MAKE_BLOCK
        | ACCESS_FS_MAKE_SYM;
    if abi >= 2 {
        access |= ACCESS_FS_REFER;
    }
    if abi >= 3 {
        access |= ACCESS_FS_TRUNCATE;
    }
    access
}

/// The write-type accesses a rule on a single file may allow (Landlock refuses directory-only
/// rights, such as making or removing entries, on a file).
pub fn file_accesses(abi: u32) -> u64 {
    write_accesses(abi) & (ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE)
}

/// The device files the view's programs write: `/dev/null` (Ruby's `File::NULL`, spawned commands'
/// redirections, PRoot). Nothing else of `/dev` is writable in the view.
pub const VIEW_DEVICES: [&str; 1] = ["/dev/null"];

/// The Landlock ABI the agent uses: the kernel's ([`kernel_landlock_abi`]), capped by
/// `SIDESCAN_LANDLOCK_MAX_ABI` when set; or why there is none.
pub fn landlock_abi() -> Result<u32, String> {
    cap_abi(
        kernel_landlock_abi(),
        std::env::var(MAX_ABI_ENV).ok().as_deref(),
    )
}

/// The kernel's ABI capped by the test switch's value (pure).
pub fn cap_abi(kernel: Result<u32, String>, max: Option<&str>) -> Result<u32, String> {
    let kernel = kernel?;
    let Some(max) = max else {
        return Ok(kernel);
    };
    match max.trim().parse::<u32>() {
        Ok(0) => Err(format!(
            "Landlock turned off by the test switch {MAX_ABI_ENV}=0 (the kernel offers ABI {kernel})"
        )),
        Ok(max) => Ok(kernel.min(max)),
        Err(_) => Err(format!(
            "{MAX_ABI_ENV}={max}: not a number (a test switch: 0 or the highest ABI to use)"
        )),
    }
}

/// The Landlock ABI version the kernel offers, or why there is none (kernel without Landlock,
/// Landlock not enabled at boot, or a seccomp profile that refuses the call).
pub fn kernel_landlock_abi() -> Result<u32, String> {
    // SAFETY: landlock_create_ruleset with a NULL attribute and the VERSION flag only queries.
    let ret = unsafe {
        libc::syscall(
            SYS_LANDLOCK_CREATE_RULESET,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        let err = std::io::Error::last_os_error();
        let why = match err.raw_os_error() {
            Some(libc::ENOSYS) => "the kernel has no Landlock (Linux >= 5.13 needed)".to_string(),
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built into the kernel but not enabled (boot parameter lsm=...,landlock)"
                    .to_string()
            }
            Some(libc::EPERM) => {
                "a seccomp profile refuses the landlock_create_ruleset system call".to_string()
            }
            _ => format!("landlock_create_ruleset: {err}"),
        };
        return Err(why);
    }
    Ok(ret as u32)
}

/// A Landlock ruleset ready to be enforced in a child process.
#[derive(Debug)]
pub struct ReadOnlyRuleset {
    fd: OwnedFd,
    pub abi: u32,
    pub handled: u64,
}

impl ReadOnlyRuleset {
    /// The view's ruleset: writes only beneath the scan's scratch directory and to
    /// [`VIEW_DEVICES`].
    pub fn for_view(scratch: &Path) -> Result<ReadOnlyRuleset, String> {
        let devices: Vec<&Path> = VIEW_DEVICES.iter().map(Path::new).collect();
        ReadOnlyRuleset::new(&[scratch], &devices)
    }

    /// A ruleset denying every write-type access except beneath the directories `dirs` and to
    /// the files `files` (writing and truncating them only). With neither, nothing may be
    /// written anywhere.
    pub fn new(dirs: &[&Path], files: &[&Path]) -> Result<ReadOnlyRuleset, String> {
        ReadOnlyRuleset::with_abi(landlock_abi()?, dirs, files)
    }

    /// [`ReadOnlyRuleset::new`] handling what ABI `abi` knows (at most the kernel's).
    pub fn with_abi(abi: u32, dirs: &[&Path], files: &[&Path]) -> Result<ReadOnlyRuleset, String> {
        let handled = write_accesses(abi);
        let attr = RulesetAttr {
            handled_access_fs: handled,
        };
        // SAFETY: a valid attribute of the size passed; the kernel returns a new fd or -1.
        let ret = unsafe {
            libc::syscall(
                SYS_LANDLOCK_CREATE_RULESET,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0u32,
            )
        };
        if ret < 0 {
            return Err(format!(
                "landlock_create_ruleset: {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: the kernel just returned this new descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(ret as RawFd) };
        let rules = dirs
            .iter()
            .map(|d| (d, libc::O_DIRECTORY, handled))
            .chain(files.iter().map(|f| (f, 0, file_accesses(abi))));
        for (dir, kind, allowed_access) in rules {
            let parent = std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_PATH | kind | libc::O_CLOEXEC)
                .open(dir)
                .map_err(|e| format!("Landlock rule for {}: {e}", dir.display()))?;
            let rule = PathBeneathAttr {
                allowed_access,
                parent_fd: parent.as_raw_fd(),
            };
            // SAFETY: valid ruleset fd and rule attribute; the kernel copies the attribute.
            let ret = unsafe {
                libc::syscall(
                    SYS_LANDLOCK_ADD_RULE,
                    fd.as_raw_fd(),
                    LANDLOCK_RULE_PATH_BENEATH,
                    &rule as *const PathBeneathAttr,
                    0u32,
                )
            };
            if ret < 0 {
                return Err(format!(
                    "landlock_add_rule for {}: {}",
                    dir.display(),
                    std::io::Error::last_os_error()
                ));
            }
        }
        Ok(ReadOnlyRuleset { fd, abi, handled })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

use std::os::unix::fs::OpenOptionsExt;

/// Enforces the ruleset `ruleset_fd` on the calling process (and everything it will start).
/// Async-signal-safe (no allocation): meant for the child between `fork` and `exec`.
pub fn restrict_self(ruleset_fd: RawFd) -> std::io::Result<()> {
    // SAFETY: plain system calls with integer arguments.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0u32) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Confines the calling thread, and the threads it starts afterwards, with `ruleset` (Landlock,
/// when there is one), the builtin scan's seccomp filter ([`crate::seccomp::Scope::Scan`]) and
/// no capability. Landlock, seccomp and capabilities are the calling thread's only: the rest of
/// the agent (the async runtime that writes the results and uploads them) stays as it was.
/// Irreversible for that thread: call it on a thread made for the purpose ([`in_confined_thread`]).
///
/// Why a thread and not the whole agent: a Landlocked process may not open `/proc/<pid>/root`,
/// `exe` or `environ` of a process outside its domain (Landlock's ptrace rule), which
/// identifying and verifying the target need; the scan reads through the descriptor opened
/// before.
pub fn confine_thread(ruleset: Option<&ReadOnlyRuleset>) -> std::io::Result<()> {
    if let Some(ruleset) = ruleset {
        restrict_self(ruleset.raw_fd())?;
    }
    crate::seccomp::install(crate::seccomp::filter(crate::seccomp::Scope::Scan))?;
    clear_capabilities()
}

/// Runs `f` on a new thread confined by [`confine_thread`] (its own threads inherit it) and
/// returns its result; the calling thread stays as it was.
pub fn in_confined_thread<T: Send>(
    ruleset: Option<&ReadOnlyRuleset>,
    f: impl FnOnce() -> T + Send,
) -> std::io::Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                confine_thread(ruleset)?;
                Ok(f())
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

// ---- capabilities -----------------------------------------------------------------------------

/// Empties the calling thread's effective, permitted, inheritable and ambient capability sets.
/// With `no_new_privs` set, no later `execve` can give any back (the kernel intersects what a
/// file or a root identity would grant with the permitted set it had: `cap_bprm_creds_from_file`).
/// Async-signal-safe (two system calls): meant for the child between `fork` and `exec`, and for
/// `view-exec` before it executes the scanner's program.
pub fn clear_capabilities() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let empty = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset with a version-3 header and its two data words; prctl with integers.
    unsafe {
        // EINVAL: a kernel before 4.3, which has no ambient set to clear.
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        ) != 0
            && *libc::__errno_location() != libc::EINVAL
        {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_capset, &header as *const Header, empty.as_ptr()) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

// ---- descriptors ------------------------------------------------------------------------------

/// Clears close-on-exec on `fd`, so the next `exec` hands it on. Async-signal-safe.
pub fn inherit_fd(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor number; fails with EBADF when it is not open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

// ---- containment ------------------------------------------------------------------------------

/// Makes the calling process a child subreaper: orphaned descendants are reparented to it.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The parent PID (field 4) of a `/proc/<pid>/stat` line; the command may contain ')' and spaces.
pub fn parse_ppid(stat: &str) -> Option<u32> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// Every descendant of `root` in the (pid, parent pid) table, children before grandchildren.
pub fn descendants(table: &[(u32, u32)], root: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in table {
            if ppid == parent && pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// (pid, parent pid) of every process in `proc`.
pub fn process_table(proc: &Path) -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
        Some((pid, parse_ppid(&stat)?))
    })
    .collect()
}

/// Whether `name` (an entry of a temporary directory) is a file PRoot `pid` made there: its glue
/// directory `proot-<pid>-XXXXXX` or its extracted loader `prooted-<pid>-XXXXXX`.
pub fn is_proot_leftover(name: &str, pid: u32) -> bool {
    ["proot-", "prooted-"].iter().any(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(&format!("{pid}-")))
            .is_some_and(|suffix| !suffix.is_empty() && !suffix.contains('/'))
    })
}

/// Removes what PRoot `pid` left in `tmp`. PRoot cannot clean its glue directory itself in the
/// view (its `chmod` is refused: a program in the view can plant a symlink there, which that
/// `chmod` would follow), and a killed PRoot leaves its loader too. Symlinks are removed, never
/// followed. Returns how many entries were removed.
pub fn remove_proot_leftovers(tmp: &Path, pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir(tmp) else {
        return 0;
    };
    let mut removed = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(|n| is_proot_leftover(n, pid)) {
            continue;
        }
        let path = entry.path();
        // file_type() does not follow symlinks; remove_dir_all removes links, not their targets.
        let result = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        match result {
            Ok(()) => removed += 1,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "PRoot's temporary file not removed")
            }
        }
    }
    removed
}

/// Kills every descendant of `root` (normally the agent itself) with SIGKILL and reaps those that
/// are the caller's children, until none is left or `deadline` passes. Returns how many processes
/// were killed. Processes forked while this runs are caught by the next pass (their parent's death
/// reparents them to the subreaper agent).
pub fn kill_descendants(proc: &Path, root: u32, deadline: Duration) -> usize {
    let own = root;
    let until = Instant::now() + deadline;
    let mut killed = std::collections::BTreeSet::new();
    loop {
        let left = descendants(&process_table(proc), own);
        if left.is_empty() {
            return killed.len();
        }
        for &pid in &left {
            // SAFETY: kill and waitpid with plain integers; a PID that exited meanwhile gives
            // ESRCH/ECHILD, which is what we want anyway.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            killed.insert(pid);
        }
        for &pid in &left {
            let mut status = 0;
            // Reap our own children (zombies stay in the table until reaped).
            unsafe {
                libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
            }
        }
        if Instant::now() >= until {
            tracing::warn!(left = ?left, "processes of the scan survived SIGKILL");
            return killed.len();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_accesses_grow_with_the_abi() {
        assert_eq!(write_accesses(0), 0);
        let v1 = write_accesses(1);
        assert_ne!(v1 & ACCESS_FS_WRITE_FILE, 0);
        assert_ne!(v1 & ACCESS_FS_REMOVE_FILE, 0);
        assert_eq!(v1 & (ACCESS_FS_REFER | ACCESS_FS_TRUNCATE), 0);
        assert_ne!(write_accesses(2) & ACCESS_FS_REFER, 0);
        assert_eq!(write_accesses(2) & ACCESS_FS_TRUNCATE, 0);
        assert_eq!(write_accesses(7), write_accesses(3));
        // Reading (bit 2: READ_FILE, bit 0: EXECUTE, bit 3: READ_DIR) is never handled.
        assert_eq!(write_accesses(7) & 0b1101, 0);
    }

    #[test]
    fn the_test_switch_caps_the_abi() {
        assert_eq!(cap_abi(Ok(7), None), Ok(7));
        assert_eq!(cap_abi(Ok(7), Some("1")), Ok(1));
        assert_eq!(cap_abi(Ok(2), Some("3")), Ok(2));
        let off = cap_abi(Ok(7), Some("0")).unwrap_err();
        assert!(off.contains("SIDESCAN_LANDLOCK_MAX_ABI=0"), "{off}");
        assert!(
            cap_abi(Ok(7), Some("x"))
                .unwrap_err()
                .contains("not a number")
        );
        assert_eq!(cap_abi(Err("none".into()), Some("1")), Err("none".into()));
        // A rule on a file may only allow what a file can be asked for.
        assert_eq!(file_accesses(1), ACCESS_FS_WRITE_FILE);
        assert_eq!(file_accesses(7), ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE);
    }

    /// Runs `attempt` in a child after `setup`; the errno it reported, `None` if it succeeded.
    fn in_child(
        setup: impl Fn() -> std::io::Result<()> + Send + Sync + 'static,
        attempt: impl Fn() -> std::io::Result<()> + Send + Sync + 'static,
    ) -> Option<i32> {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new("true");
        // SAFETY: the closures make system calls on memory that exists before the fork.
        unsafe {
            command.pre_exec(move || {
                setup()?;
                attempt()
            });
        }
        match command.spawn() {
            Ok(mut child) => {
                child.wait().unwrap();
                None
            }
            Err(e) => Some(e.raw_os_error().expect("an errno from the child")),
        }
    }

    fn open_for_writing(path: &'static std::ffi::CStr, flags: libc::c_int) -> std::io::Result<()> {
        // SAFETY: open and close with a valid C string.
        let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        unsafe { libc::close(fd) };
        Ok(())
    }

    #[test]
    fn the_views_ruleset_allows_the_scratch_and_dev_null_only() {
        let Ok(abi) = landlock_abi() else {
            eprintln!("no Landlock here: nothing to check");
            return;
        };
        let scratch = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let ruleset = ReadOnlyRuleset::for_view(scratch.path()).unwrap();
        assert_eq!(ruleset.abi, abi);
        let fd = ruleset.raw_fd();
        let leak = |p: &Path| -> &'static std::ffi::CStr {
            let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
            Box::leak(c.into_boxed_c_str())
        };
        let in_scratch = leak(&scratch.path().join("new"));
        let beside = leak(&outside.path().join("new"));
        let shm = leak(Path::new("/dev/shm/sidescan-landlock-test"));
        let restricted = move || restrict_self(fd);
        let create = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
        assert_eq!(
            in_child(restricted, move || open_for_writing(in_scratch, create)),
            None
        );
        assert_eq!(
            in_child(restricted, move || open_for_writing(
                c"/dev/null",
                libc::O_WRONLY
            )),
            None
        );
        assert_eq!(
            in_child(restricted, move || open_for_writing(beside, create)),
            Some(libc::EACCES)
        );
        assert!(!outside.path().join("new").exists());
        if Path::new("/dev/shm").is_dir() {
            assert_eq!(
                in_child(restricted, move || open_for_writing(shm, create)),
                Some(libc::EACCES),
                "/dev/shm is the pod's, the target's too"
            );
        }
        assert_eq!(
            in_child(restricted, move || open_for_writing(
                c"/dev/zero",
                libc::O_WRONLY
            )),
            Some(libc::EACCES)
        );
    }

    #[test]
    fn capabilities_are_cleared_for_good() {
        use std::os::unix::process::CommandExt;
        let mut command = std::process::Command::new("grep");
        command.args(["^Cap", "/proc/self/status"]);
        // SAFETY: prctl and capset only, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                clear_capabilities()
            });
        }
        let out = command.output().unwrap();
        let status = String::from_utf8_lossy(&out.stdout);
        for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
            assert!(
                status.contains(&format!("{set}:\t0000000000000000")),
                "{set}: {status}"
            );
        }
    }

    #[test]
    fn proot_leftovers_are_matched_by_pid() {
        assert!(is_proot_leftover("proot-42-AbC123", 42));
        assert!(is_proot_leftover("prooted-42-xYz789", 42));
        assert!(!is_proot_leftover("proot-421-AbC123", 42));
        assert!(!is_proot_leftover("proot-42-", 42));
        assert!(!is_proot_leftover("proot-42", 42));
        assert!(!is_proot_leftover("sidescan-proot-42-a", 42));
        assert!(!is_proot_leftover("view-marker", 42));
    }

    #[test]
    fn leftovers_go_and_symlinks_in_them_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "kept").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o640)).unwrap();
        let glue = tmp.path().join("proot-42-AbC123");
        std::fs::create_dir_all(glue.join("proc")).unwrap();
        std::os::unix::fs::symlink(&victim, glue.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.path(), glue.join("dirlink")).unwrap();
        std::fs::write(tmp.path().join("prooted-42-xYz789"), "loader").unwrap();
        std::fs::create_dir(tmp.path().join("proot-43-AbC123")).unwrap();
        assert_eq!(remove_proot_leftovers(tmp.path(), 42), 2);
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["proot-43-AbC123"]);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o7777, 0o640);
    }

    #[test]
    fn ppid_from_stat_with_odd_command_names() {
        assert_eq!(parse_ppid("42 (sleep) S 17 42 17 0 -1"), Some(17));
        assert_eq!(parse_ppid("42 (a) b (c) S 9 42 17 0 -1"), Some(9));
        assert_eq!(parse_ppid("garbage"), None);
    }

    #[test]
    fn descendants_follow_every_generation_and_skip_others() {
        let table = [
            (1, 0),
            (10, 1),
            (11, 10),
            (12, 11),
            (13, 10),
            (20, 1),
            (21, 20),
        ];
        let mut found = descendants(&table, 10);
        found.sort_unstable();
        assert_eq!(found, [11, 12, 13]);
        assert!(descendants(&table, 12).is_empty());
    }

    #[test]
    fn killing_descendants_leaves_none() {
        // A shell with a child and a grandchild; only the shell's descendants are killed (other
        // tests in this process have children of their own).
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sh -c 'sleep 300 & wait' & wait"])
            .spawn()
            .unwrap();
        let shell = child.id();
        let proc = Path::new("/proc");
        let deadline = Instant::now() + Duration::from_secs(5);
        while descendants(&process_table(proc), shell).len() < 2 {
            assert!(Instant::now() < deadline, "grandchild did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let killed = kill_descendants(proc, shell, Duration::from_secs(5));
        assert!(killed >= 2, "{killed}");
        assert!(descendants(&process_table(proc), shell).is_empty());
        let _ = child.wait();
    }
}
