//! The target process as the kernel runs it: `/proc/<pid>/status` (`NoNewPrivs`, `Seccomp`),
//! `/proc/<pid>/mountinfo` (is its root mounted read-only), its LSM label
//! (`/proc/<pid>/attr/apparmor/current` or `attr/current`) and its `PATH`
//! (`/proc/<pid>/environ`). Parsing and decisions are pure; [`TargetProcess::read`] is the I/O.

use super::limits::Limits;
use crate::procfs::{self, ProcStatus};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use std::path::Path;

/// What the scan knows about the target process.
#[derive(Debug)]
pub struct TargetProcess {
    pub pid: u32,
    pub status: ProcStatus,
    /// `/proc/<pid>/mountinfo`, or why it could not be read.
    pub mountinfo: Result<String, String>,
    /// The LSM label: `Ok(None)` when no LSM (AppArmor, SELinux) is active.
    pub lsm: Result<Option<Lsm>, String>,
    /// `PATH` from the process' environment, or why it is unknown.
    pub path_env: Result<Option<String>, String>,
    /// The environment is larger than [`Limits::environ`] (the figure) and `PATH` is not in the
    /// part read: whether it names other directories is not known.
    pub environ_over: Option<u64>,
    /// How the scan tells that the process still runs.
    liveness: Liveness,
}

/// How to tell that the target process still runs.
#[derive(Debug)]
enum Liveness {
    /// A pidfd: readable once the process exits (kernel >= 5.3).
    PidFd(OwnedFd),
    /// Without pidfd_open (an older kernel, a seccomp profile without it): the process' start
    /// time, which a reused PID does not share.
    StartTime {
        proc: std::path::PathBuf,
        start: u64,
    },
    /// Tests and directory scans.
    Always,
}

impl TargetProcess {
    /// A process described by its parts (tests, directory scans); always alive.
    pub fn from_parts(
        status: ProcStatus,
        mountinfo: Result<String, String>,
        lsm: Result<Option<Lsm>, String>,
        path_env: Result<Option<String>, String>,
    ) -> TargetProcess {
        TargetProcess {
            pid: 0,
            status,
            mountinfo,
            lsm,
            path_env,
            environ_over: None,
            liveness: Liveness::Always,
        }
    }

    /// Reads what the runtime controls need. `Err` (ENOENT or ESRCH) when the process is gone.
    pub fn read(proc: &Path, pid: u32) -> Result<TargetProcess, Errno> {
        let pidfd = rustix::process::Pid::from_raw(pid as i32).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
        let liveness = match pidfd {
            Some(fd) => Liveness::PidFd(fd),
            None => Liveness::StartTime {
                proc: proc.to_path_buf(),
                start: procfs::start_time(proc, pid).ok_or(Errno::SRCH)?,
            },
        };
        let dir = proc.join(pid.to_string());
        let read = |name: &str| -> Result<Vec<u8>, Errno> {
            std::fs::read(dir.join(name)).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))
        };
        let limit = Limits::DEFAULT.environ;
        let text = read("status")?;
        let status =
            ProcStatus::parse(&String::from_utf8_lossy(&text)).map_err(|_| Errno::INVAL)?;
        // A target allowed to mount can list many mounts: the lines read whole are kept (the
        // root's mount is among the first; without it PROC-005 decides from statfs).
        let mountinfo = read_at_most(&dir.join("mountinfo"), Limits::DEFAULT.mountinfo)
            .map(|(b, whole)| {
                let end = if whole {
                    b.len()
                } else {
                    b.iter().rposition(|c| *c == b'\n').map_or(0, |i| i + 1)
                };
                String::from_utf8_lossy(&b[..end]).into_owned()
            })
            .map_err(super::root::errno_text);
        let lsm = match read("attr/apparmor/current") {
            Ok(text) => Ok(parse_lsm_label(&String::from_utf8_lossy(&text), true)),
            Err(e) if e == Errno::INVAL => Ok(None),
            Err(e) if e != Errno::NOENT => Err(super::root::errno_text(e)),
            Err(_) => match read("attr/current") {
                Ok(text) => Ok(parse_lsm_label(&String::from_utf8_lossy(&text), false)),
                // No LSM provides the attribute.
                Err(e) if e == Errno::INVAL || e == Errno::NOENT => Ok(None),
                Err(e) => Err(super::root::errno_text(e)),
            },
        };
        let environ = match read_at_most(&dir.join("environ"), limit) {
            // Mode 0400, owned by the target: a scanner with CAP_SYS_PTRACE but no
            // CAP_DAC_OVERRIDE reads the same bytes from the process' memory instead.
            Err(Errno::ACCESS) => environ_from_memory(&dir, pid, limit),
            other => other,
        };
        let (path_env, environ_over) = match environ {
            Ok((raw, whole)) => {
                let path = path_in_environ(&raw, whole);
                let over = (!whole && path.is_none()).then_some(limit);
                (Ok(path), over)
            }
            Err(e) => (Err(super::root::errno_text(e)), None),
        };
        let process = TargetProcess {
            pid,
            status,
            mountinfo,
            lsm,
            path_env,
            environ_over,
            liveness,
        };
        if !process.alive() {
            return Err(Errno::SRCH);
        }
        Ok(process)
    }

    /// False once the process has exited.
    pub fn alive(&self) -> bool {
        let fd = match &self.liveness {
            Liveness::PidFd(fd) => fd,
            Liveness::StartTime { proc, start } => {
                return procfs::start_time(proc, self.pid) == Some(*start);
            }
            Liveness::Always => return true,
        };
        let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(0) => true,
            Ok(_) => false,
            Err(_) => true,
        }
    }
}

/// At most `limit` bytes of a `/proc` file, and whether that is all of it.
fn read_at_most(path: &Path, limit: u64) -> Result<(Vec<u8>, bool), Errno> {
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let mut raw = Vec::new();
    super::root::read_to_end(&fd, &mut raw, limit + 1)?;
    let whole = raw.len() as u64 <= limit;
    raw.truncate(limit as usize);
    Ok((raw, whole))
}

/// `PATH` from an environment; of a part (`whole` false) only the entries it holds entirely.
fn path_in_environ(raw: &[u8], whole: bool) -> Option<String> {
    let complete = if whole {
        raw
    } else {
        &raw[..raw.iter().rposition(|b| *b == 0).map_or(0, |i| i + 1)]
    };
    procfs::environ_var(complete, "PATH")
}

/// The initial environment of `pid` read from its memory (`process_vm_readv`, which the kernel
/// allows with ptrace access: what `/proc/<pid>/environ` itself does), at most `limit` bytes, and
/// whether that is all of it.
fn environ_from_memory(dir: &Path, pid: u32, limit: u64) -> Result<(Vec<u8>, bool), Errno> {
    let stat = std::fs::read_to_string(dir.join("stat"))
        .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
    let (start, end) = procfs::parse_env_range(&stat).ok_or(Errno::ACCESS)?;
    let size = end.saturating_sub(start);
    let whole = size <= limit;
    let len = size.min(limit) as usize;
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: start as usize as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: `local` describes `buf`, which lives across the call; the kernel checks `remote`
    // against the target's address space and writes at most `len` bytes into `buf`.
    let read = unsafe { libc::process_vm_readv(pid as libc::pid_t, &local, 1, &remote, 1, 0) };
    if read < 0 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    buf.truncate(read as usize);
    Ok((buf, whole))
}

/// An LSM label of the target process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lsm {
    /// `unconfined`, or `<profile> (<mode>)`.
    AppArmor {
        profile: String,
        mode: Option<String>,
    },
    /// `user:role:type:level`.
    SeLinux {
        context: String,
    },
    Other(String),
}

/// Parses the text of `attr/current` (or `attr/apparmor/current` when `apparmor`); `None` for an
/// empty label.
pub fn parse_lsm_label(text: &str, apparmor: bool) -> Option<Lsm> {
    let label = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if label.is_empty() {
        return None;
    }
    let looks_selinux = !label.contains(' ') && label.split(':').count() >= 3;
    if !apparmor && looks_selinux {
        return Some(Lsm::SeLinux {
            context: label.to_string(),
        });
    }
    if apparmor || label == "unconfined" || label.ends_with(')') {
        let (profile, mode) = match label.rsplit_once(" (") {
            Some((profile, mode)) => (
                profile.to_string(),
                Some(mode.trim_end_matches(')').to_string()),
            ),
            None => (label.to_string(), None),
        };
        return Some(Lsm::AppArmor { profile, mode });
    }
    Some(Lsm::Other(label.to_string()))
}

/// SELinux types that do not confine a container.
const UNCONFINED_SELINUX_TYPES: [&str; 6] = [
    "unconfined_t",
    "unconfined_service_t",
    "spc_t",
    "kernel_t",
    "init_t",
    "initrc_t",
];

/// Whether the label confines the process: `Some(true)` confined, `Some(false)` not,
/// `None` for an LSM this check does not know.
pub fn lsm_confines(lsm: &Lsm) -> Option<bool> {
    match lsm {
        Lsm::AppArmor { profile, mode } => Some(
            profile != "unconfined"
                && !matches!(mode.as_deref(), Some("complain") | Some("unconfined")),
        ),
        Lsm::SeLinux { context } => {
            let selinux_type = context.split(':').nth(2).unwrap_or("");
            Some(!UNCONFINED_SELINUX_TYPES.contains(&selinux_type))
        }
        Lsm::Other(_) => None,
    }
}

impl std::fmt::Display for Lsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lsm::AppArmor {
                profile,
                mode: Some(mode),
            } => write!(f, "AppArmor profile {profile} ({mode})"),
            Lsm::AppArmor {
                profile,
                mode: None,
            } => write!(f, "AppArmor profile {profile}"),
            Lsm::SeLinux { context } => write!(f, "SELinux context {context}"),
            Lsm::Other(label) => write!(f, "LSM label {label}"),
        }
    }
}

/// A mount of the target's `mountinfo`: is it read-only, and what is it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFacts {
    pub read_only: bool,
    pub fs_type: String,
    pub source: String,
}

/// The mount with `mount_id` in a `mountinfo` text: read-only when its per-mount options or its
/// superblock options hold `ro`.
pub fn mount_facts(mountinfo: &str, mount_id: u64) -> Option<MountFacts> {
    mountinfo.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.first()?.parse::<u64>().ok()? != mount_id {
            return None;
        }
        let separator = fields.iter().position(|f| *f == "-")?;
        let per_mount = fields.get(5)?;
        let fs_type = fields.get(separator + 1)?;
        let source = fields.get(separator + 2)?;
        let super_options = fields.get(separator + 3).unwrap_or(&"");
        let ro = |opts: &str| opts.split(',').any(|o| o == "ro");
        Some(MountFacts {
            read_only: ro(per_mount) || ro(super_options),
            fs_type: fs_type.to_string(),
            source: source.to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_labels() {
        assert_eq!(
            parse_lsm_label("docker-default (enforce)\n", true),
            Some(Lsm::AppArmor {
                profile: "docker-default".into(),
                mode: Some("enforce".into())
            })
        );
        let unconfined = parse_lsm_label("unconfined\n", false).unwrap();
        assert_eq!(lsm_confines(&unconfined), Some(false));
        let complain = parse_lsm_label("cri-containerd.apparmor.d (complain)", true).unwrap();
        assert_eq!(lsm_confines(&complain), Some(false));
        let enforce = parse_lsm_label("cri-containerd.apparmor.d (enforce)", false).unwrap();
        assert_eq!(lsm_confines(&enforce), Some(true));
        assert_eq!(parse_lsm_label("\n", true), None);
    }

    #[test]
    fn selinux_labels() {
        let confined = parse_lsm_label("system_u:system_r:container_t:s0:c1,c2\0", false).unwrap();
        assert!(matches!(confined, Lsm::SeLinux { .. }));
        assert_eq!(lsm_confines(&confined), Some(true));
        let spc = parse_lsm_label("system_u:system_r:spc_t:s0", false).unwrap();
        assert_eq!(lsm_confines(&spc), Some(false));
        let other = parse_lsm_label("_", false).unwrap();
        assert_eq!(lsm_confines(&other), None);
    }

    const MOUNTINFO: &str = "\
1290 1125 0:310 / / ro,relatime master:455 - overlay overlay rw,lowerdir=/l,upperdir=/u\n\
1291 1290 0:314 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n\
1300 1290 253:1 /var/lib/kubelet/pods/x/volumes/data /data rw,relatime - ext4 /dev/vda1 rw\n\
1400 1290 253:1 /srv/root / rw,relatime - ext4 /dev/vda1 ro,errors=remount-ro\n";

    #[test]
    fn root_mount_options() {
        let root = mount_facts(MOUNTINFO, 1290).unwrap();
        assert!(root.read_only);
        assert_eq!(root.fs_type, "overlay");
        assert!(!mount_facts(MOUNTINFO, 1300).unwrap().read_only);
        // A read-only superblock makes the mount read-only too.
        assert!(mount_facts(MOUNTINFO, 1400).unwrap().read_only);
        assert_eq!(mount_facts(MOUNTINFO, 9), None);
    }

    #[test]
    fn environment_from_memory_matches_proc_environ() {
        let dir = Path::new("/proc/self");
        let (from_memory, whole) = environ_from_memory(dir, std::process::id(), 1 << 20).unwrap();
        let from_proc = std::fs::read(dir.join("environ")).unwrap();
        assert_eq!(from_memory, from_proc);
        assert!(whole);
        let (part, whole) = environ_from_memory(dir, std::process::id(), 4).unwrap();
        assert_eq!((part.as_slice(), whole), (&from_proc[..4], false));
    }

    #[test]
    fn path_is_taken_only_from_whole_entries() {
        let raw = b"HOME=/root\0PATH=/usr/bin:/bin\0X=1\0";
        assert_eq!(path_in_environ(raw, true).as_deref(), Some("/usr/bin:/bin"));
        // Cut inside PATH: its value is not known, and not guessed from the part.
        assert_eq!(path_in_environ(&raw[..20], false), None);
        assert_eq!(
            path_in_environ(&raw[..30], false).as_deref(),
            Some("/usr/bin:/bin")
        );
        let me = std::path::PathBuf::from(format!("/proc/{}/environ", std::process::id()));
        let (raw, whole) = read_at_most(&me, 3).unwrap();
        assert_eq!((raw.len(), whole), (3, false));
    }

    #[test]
    fn a_process_without_pidfd_is_followed_by_its_start_time() {
        let me = std::process::id();
        let start = procfs::start_time(Path::new("/proc"), me).unwrap();
        let mut process = TargetProcess::read(Path::new("/proc"), me).unwrap();
        process.liveness = Liveness::StartTime {
            proc: "/proc".into(),
            start,
        };
        assert!(process.alive());
        // Another start time: the PID now names another process.
        process.liveness = Liveness::StartTime {
            proc: "/proc".into(),
            start: start + 1,
        };
        assert!(!process.alive());
    }

    #[test]
    fn reads_this_process() {
        let me = TargetProcess::read(Path::new("/proc"), std::process::id()).unwrap();
        assert!(me.alive());
        assert!(me.status.no_new_privs.is_some());
        assert!(me.mountinfo.is_ok());
        let gone = TargetProcess::read(Path::new("/proc"), u32::MAX / 2);
        assert!(gone.is_err());
    }
}
