//! Keeping a scan inside its bounds: Landlock makes the target view read-only, and a child
//! subreaper makes sure nothing a scan started outlives the agent.
//!
//! **Landlock** (Linux ≥ 5.13, unprivileged): the agent builds a ruleset that *handles* every
//! write-type filesystem access the kernel knows (per ABI: write, truncate, remove, make, refer)
//! and allows them only beneath a few directories (the scan's scratch directory, the scanner's
//! `/tmp`, `/dev`). Reads are not handled, so they stay allowed. The ruleset is created in the
//! agent and enforced in the scanner's child process between `fork` and `exec`
//! ([`restrict_self`], async-signal-safe: two system calls), so PRoot and everything it starts
//! inherit it and cannot write into the target, whatever path they use.
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

/// The Landlock ABI version the kernel offers, or why there is none (kernel without Landlock,
/// Landlock not enabled at boot, or a seccomp profile that refuses the call).
pub fn landlock_abi() -> Result<u32, String> {
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
    /// A ruleset denying every write-type access except beneath `writable` (directories).
    pub fn new(writable: &[&Path]) -> Result<ReadOnlyRuleset, String> {
        let abi = landlock_abi()?;
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
        for dir in writable {
            let parent = std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir)
                .map_err(|e| format!("Landlock rule for {}: {e}", dir.display()))?;
            let rule = PathBeneathAttr {
                allowed_access: handled,
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

// ---- system calls PRoot does not translate ---------------------------------------------------

// PRoot 5.1.0 rewrites the paths of the system calls it knows; newer ones with a path argument
// pass through untranslated and would resolve in the scanner's root: `statx` (coreutils `stat`
// and `ls`, Rust programs), `faccessat2` (glibc's `faccessat` with flags), `openat2` and
// `execveat`. In the view they fail with ENOSYS, so the C library and Rust's standard library fall
// back to `newfstatat`/`faccessat`/`openat`/`execve`, which PRoot translates.
#[cfg(target_arch = "x86_64")]
mod arch {
    pub const AUDIT_ARCH: u32 = 0xC000_003E;
    pub const UNTRANSLATED: [u32; 4] = [332, 439, 437, 322]; // statx faccessat2 openat2 execveat
}
#[cfg(target_arch = "aarch64")]
mod arch {
    pub const AUDIT_ARCH: u32 = 0xC000_00B7;
    pub const UNTRANSLATED: [u32; 4] = [291, 439, 437, 281];
}
// Elsewhere the filter matches no architecture and allows everything; the view proof still
// refuses a view that shows the scanner's root.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod arch {
    pub const AUDIT_ARCH: u32 = 0;
    pub const UNTRANSLATED: [u32; 4] = [u32::MAX; 4];
}

#[repr(C)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

/// seccomp_data: `nr` at offset 0, `arch` at offset 4.
static FILTER: [SockFilter; 9] = [
    insn(BPF_LD_W_ABS, 0, 0, 4),
    insn(BPF_JEQ_K, 0, 6, arch::AUDIT_ARCH),
    insn(BPF_LD_W_ABS, 0, 0, 0),
    insn(BPF_JEQ_K, 3, 0, arch::UNTRANSLATED[0]),
    insn(BPF_JEQ_K, 2, 0, arch::UNTRANSLATED[1]),
    insn(BPF_JEQ_K, 1, 0, arch::UNTRANSLATED[2]),
    insn(BPF_JEQ_K, 0, 1, arch::UNTRANSLATED[3]),
    insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
    insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
];

/// Sets no_new_privs (needed for an unprivileged seccomp filter and for Landlock) and installs the
/// filter that makes PRoot's untranslated path system calls fail with ENOSYS. Async-signal-safe.
pub fn deny_untranslated_syscalls() -> std::io::Result<()> {
    let prog = SockFprog {
        len: FILTER.len() as u16,
        filter: FILTER.as_ptr(),
    };
    // SAFETY: prctl with a pointer to a valid, static filter program.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &prog as *const SockFprog,
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

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
    fn the_filter_jumps_land_on_its_returns() {
        // Every syscall comparison jumps to the ENOSYS return when equal; the last one falls
        // through to ALLOW when not; a foreign architecture goes straight to ALLOW.
        for (i, insn) in FILTER.iter().enumerate().skip(3).take(4) {
            assert_eq!(i + 1 + insn.jt as usize, 7, "instruction {i}");
        }
        assert_eq!(6 + 1 + FILTER[6].jf as usize, 8);
        assert_eq!(1 + 1 + FILTER[1].jf as usize, 8);
        assert_eq!(FILTER[7].k, SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
        assert_eq!(FILTER[8].k, SECCOMP_RET_ALLOW);
    }

    #[test]
    fn untranslated_calls_fail_and_programs_fall_back() {
        use std::os::unix::process::CommandExt;
        // coreutils `stat` calls statx; with the filter glibc falls back to fstatat.
        let mut command = std::process::Command::new("stat");
        command.args(["-c", "%i", "/"]);
        // SAFETY: only the async-signal-safe prctl calls run between fork and exec.
        unsafe {
            command.pre_exec(deny_untranslated_syscalls);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ino = std::fs::metadata("/").map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.ino()
        });
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            ino.unwrap().to_string()
        );
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
