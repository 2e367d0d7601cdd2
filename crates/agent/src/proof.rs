//! Proving, before every scan, that the scanner sees the target and only the target.
//!
//! The evidence is a handful of file identities (device, inode) gathered on both sides: by the
//! agent (the pinned root descriptor, its own `/`, `/proc/<pid>/exe`, a marker file only the
//! scanner has) and *through the view* the scan will use (for `cinc`: a probe program run with the
//! very PRoot command line the scan uses; for `builtin`: paths resolved beneath the descriptor).
//! [`check`] compares them; any mismatch ends the run (exit 3) before a result can be produced.
//! For `cinc` the probe also tries the metadata calls Landlock does not govern on a file of the
//! scanner's own (each a no-op were it allowed): every one must be refused with `EPERM`.
//!
//! Read-only is proven, not assumed: through the view (for `builtin`: from a scan thread,
//! through `/proc/self/fd/<root>/…`) the agent tries to write into the target
//! ([`try_writes`]): an existing regular file opened for writing (without `O_TRUNC`), truncated to
//! its own size, a uniquely named file and directory in `/` and in the target's `/tmp` (for
//! `cinc` also in `/dev/shm`, the pod's shared memory), and last an `O_RDONLY | O_TRUNC` open.
//! Each would change nothing or is removed at once if it succeeded; the tries stop at the first
//! success, and any success ends the run (exit 3) naming it. For `cinc` the probe also reports
//! its own capability sets (all must be empty) and tries to reach other processes (`ptrace`,
//! `/proc/<pid>/mem` of the target and the agent): all must be refused.

use crate::root::FileId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Not;

/// What both sides saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Evidence {
    /// The scanner's own `/`.
    pub scanner_root: FileId,
    /// The pinned target root descriptor (`fstat`).
    pub target_root: FileId,
    /// `/` as seen through the view.
    pub view_root: FileId,
    /// The target's `/` entries read through the descriptor, sorted.
    pub target_entries: Vec<String>,
    /// `/` entries listed through the view, sorted.
    pub view_entries: Vec<String>,
    /// Names the view may add to the target's `/` (its own mount points: the scanner prefix,
    /// `proc`, `dev`, `sys`).
    pub view_extras: Vec<String>,
    /// The target's executable (`stat /proc/<pid>/exe`) and its path (`readlink`), when the
    /// path still names it (not `(deleted)`).
    pub target_exe: Option<(String, FileId)>,
    /// That path resolved through the view.
    pub target_exe_in_view: Option<FileId>,
    /// A marker only the scanner has: its scanner-side path and identity.
    pub marker: (String, FileId),
    /// The marker's scanner-side path resolved through the view (must not be the marker).
    pub marker_in_view: Option<FileId>,
    /// The marker reached through the scanner's prefix in the view (`cinc` only: the tool finds
    /// its own files there); `None` when not applicable.
    pub marker_through_prefix: Option<Option<FileId>>,
    /// What each metadata call on the marker gave in the view (`cinc` only; must all be
    /// `EPERM`); `None` when not applicable.
    pub metadata_in_view: Option<BTreeMap<String, String>>,
    /// Each write tried into the target through the view; none may succeed. `None`: not tried
    /// (no Landlock, so a try would have written).
    pub writes: Option<Vec<WriteAttempt>>,
    /// `/proc/thread-self/status` lines of a program in the view (`cinc`): its capability sets
    /// must be empty. `None` when not applicable.
    pub view_status: Option<BTreeMap<String, String>>,
    /// What a program in the view got reaching other processes (`cinc`); none may succeed.
    pub other_processes: Option<BTreeMap<String, String>>,
}

/// One write tried into the target, and how it ended: `ok …` (it succeeded), an errno's name,
/// or [`NOT_TRIED`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteAttempt {
    pub attempt: String,
    pub outcome: String,
}

impl WriteAttempt {
    pub fn succeeded(&self) -> bool {
        self.outcome.starts_with("ok")
    }
}

/// The outcome of an attempt after an earlier one succeeded (or with nothing to try it on).
pub const NOT_TRIED: &str = "not tried";

/// What to try writing, as paths in the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WritePlan {
    /// An existing regular file of the target.
    pub file: Option<String>,
    /// Directories to create a uniquely named file and directory in.
    pub dirs: Vec<String>,
    /// The unique name (a dot file naming the run).
    pub unique: String,
}

/// What the probe tries besides looking and the metadata calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbePlan {
    pub writes: Option<WritePlan>,
    /// Processes a program in the view must not reach (the target, the agent).
    pub other_pids: Vec<u32>,
}

/// The capability sets that must be empty in the view.
pub const EMPTY_CAPABILITY_SETS: [&str; 4] = ["CapInh", "CapPrm", "CapEff", "CapAmb"];

/// Checks the evidence; the error says what the view showed instead.
pub fn check(e: &Evidence) -> Result<(), String> {
    if e.target_root == e.scanner_root {
        return Err(format!(
            "the target's root is the scanner's own root (device {}, inode {}): the target \
             process shares the scanner's filesystem, so nothing would tell them apart",
            e.scanner_root.0, e.scanner_root.1
        ));
    }
    if e.view_root != e.target_root {
        let whose = if e.view_root == e.scanner_root {
            "the scanner's own root"
        } else {
            "neither the target's nor the scanner's root"
        };
        return Err(format!(
            "the view's / is {whose} (device {}, inode {}), not the target's (device {}, inode {})",
            e.view_root.0, e.view_root.1, e.target_root.0, e.target_root.1
        ));
    }
    let missing: Vec<&String> = e
        .target_entries
        .iter()
        .filter(|n| !e.view_entries.contains(n))
        .collect();
    let foreign: Vec<&String> = e
        .view_entries
        .iter()
        .filter(|n| !e.target_entries.contains(n) && !e.view_extras.contains(n))
        .collect();
    if !missing.is_empty() || !foreign.is_empty() {
        return Err(format!(
            "the view's / lists [{}], the target's root [{}]",
            e.view_entries.join(", "),
            e.target_entries.join(", ")
        ));
    }
    if let Some((path, exe)) = &e.target_exe
        && e.target_exe_in_view != Some(*exe)
    {
        return Err(match e.target_exe_in_view {
            None => format!("the target's executable {path} is not visible in the view"),
            Some(_) => format!("{path} in the view is not the target's executable"),
        });
    }
    if e.marker_in_view == Some(e.marker.1) {
        return Err(format!(
            "the scanner's marker {} is visible at its own path in the view: the view shows \
             the scanner's files",
            e.marker.0
        ));
    }
    if let Some(through_prefix) = e.marker_through_prefix
        && through_prefix != Some(e.marker.1)
    {
        return Err(format!(
            "the scanner's marker {} is not reachable under the scanner prefix in the view",
            e.marker.0
        ));
    }
    if let Some(writes) = &e.writes {
        let written: Vec<&str> = writes
            .iter()
            .filter(|w| w.succeeded())
            .map(|w| w.attempt.as_str())
            .collect();
        if !written.is_empty() {
            return Err(format!(
                "the view is not read-only: {} succeeded in the target (undone at once where \
                 possible)",
                written.join(", ")
            ));
        }
    }
    if let Some(status) = &e.view_status {
        let kept: Vec<String> = EMPTY_CAPABILITY_SETS
            .iter()
            .filter(|set| {
                status
                    .get(**set)
                    .is_none_or(|v| v.trim_start_matches('0').is_empty().not())
            })
            .map(|set| {
                format!(
                    "{set}: {}",
                    status.get(*set).map_or("unknown", String::as_str)
                )
            })
            .collect();
        if !kept.is_empty() {
            return Err(format!(
                "the view's programs keep capabilities ({})",
                kept.join(", ")
            ));
        }
    }
    if let Some(reached) = &e.other_processes {
        let allowed: Vec<String> = reached
            .iter()
            .filter(|(_, outcome)| outcome.starts_with("ok"))
            .map(|(what, outcome)| format!("{what}: {outcome}"))
            .collect();
        if !allowed.is_empty() {
            return Err(format!(
                "a program in the view reaches other processes ({})",
                allowed.join(", ")
            ));
        }
    }
    if let Some(calls) = &e.metadata_in_view {
        let allowed: Vec<String> = calls
            .iter()
            .filter(|(_, outcome)| outcome.as_str() != "EPERM")
            .map(|(call, outcome)| format!("{call}: {outcome}"))
            .collect();
        if calls.is_empty() || !allowed.is_empty() {
            return Err(format!(
                "the view does not refuse metadata calls ({}): the scan could change the \
                 target's modes, owners, timestamps or extended attributes",
                if calls.is_empty() {
                    "none was tried".to_string()
                } else {
                    allowed.join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// The target's path of its executable. The kernel prints `/proc/<pid>/exe` relative to the
/// *reader's* root: for a target `chroot`ed beneath the scanner's root that is the full
/// scanner-side path (`/proc/<pid>/root` then reads back as its directory), for a `pivot_root`ed
/// one the path inside the target (`/proc/<pid>/root` reads back as `/`). `None` for a deleted
/// executable or a path outside the root.
pub fn exe_in_target(exe_link: &str, root_link: &str) -> Option<String> {
    if exe_link.ends_with(" (deleted)") || !exe_link.starts_with('/') {
        return None;
    }
    let root = root_link.trim_end_matches('/');
    if root.is_empty() {
        return Some(exe_link.to_string());
    }
    let rest = exe_link.strip_prefix(root)?;
    rest.starts_with('/').then(|| rest.to_string())
}

/// What the probe program (`sidescan-agent probe-view`) prints from inside the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub root: FileId,
    pub entries: Vec<String>,
    /// Each asked path with its identity, `None` when it does not exist.
    pub stats: BTreeMap<String, Option<FileId>>,
    /// The outcome of each metadata call tried ([`try_metadata_calls`]).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// The writes tried ([`try_writes`]); `None` when not asked.
    #[serde(default)]
    pub writes: Option<Vec<WriteAttempt>>,
    /// The probe's own `/proc/thread-self/status` lines ([`own_status`]).
    #[serde(default)]
    pub status: BTreeMap<String, String>,
    /// Reaching other processes ([`try_other_processes`]).
    #[serde(default)]
    pub other_processes: BTreeMap<String, String>,
}

/// Tries the metadata calls Landlock does not govern on `path` (a file of the caller's own),
/// each in a form that changes nothing when allowed: `chmod` and `fchmod` to the current mode,
/// `chown` and `fchown` to -1/-1, `utimensat` with both times omitted, `setxattr` replacing and
/// `removexattr` removing an attribute that does not exist. Returns `ok` or the errno's name per
/// call: in the view all must be `EPERM`.
pub fn try_metadata_calls(path: &str) -> BTreeMap<String, String> {
    use std::os::unix::fs::MetadataExt;
    let mut outcomes = BTreeMap::new();
    let Ok(c_path) = std::ffi::CString::new(path) else {
        return outcomes;
    };
    let (file, mode) = match std::fs::File::open(path).and_then(|f| {
        let mode = f.metadata()?.mode() & 0o7777;
        Ok((f, mode))
    }) {
        Ok(found) => found,
        Err(e) => {
            outcomes.insert(
                "open".to_string(),
                errno_name(e.raw_os_error().unwrap_or(0)),
            );
            return outcomes;
        }
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let p = c_path.as_ptr();
    let name = c"user.sidescan-probe".as_ptr();
    let omit = [libc::timespec {
        tv_sec: 0,
        tv_nsec: libc::UTIME_OMIT,
    }; 2];
    let mut attempt = |call: &str, f: &dyn Fn() -> libc::c_int| {
        let outcome = if f() == 0 {
            "ok".to_string()
        } else {
            errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        };
        outcomes.insert(call.to_string(), outcome);
    };
    // SAFETY (each): a system call with a valid C string, an open descriptor, integers.
    attempt("chmod", &|| unsafe { libc::chmod(p, mode) });
    attempt("fchmod", &|| unsafe { libc::fchmod(fd, mode) });
    attempt("chown", &|| unsafe { libc::chown(p, u32::MAX, u32::MAX) });
    attempt("fchown", &|| unsafe {
        libc::fchown(fd, u32::MAX, u32::MAX)
    });
    attempt("utimensat", &|| unsafe {
        libc::utimensat(libc::AT_FDCWD, p, omit.as_ptr(), 0)
    });
    attempt("setxattr", &|| unsafe {
        libc::setxattr(p, name, c"".as_ptr().cast(), 0, libc::XATTR_REPLACE)
    });
    attempt("removexattr", &|| unsafe { libc::removexattr(p, name) });
    outcomes
}

/// The symbolic name of an errno the probe may see.
pub fn errno_name(errno: i32) -> String {
    match errno {
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::ENOSYS => "ENOSYS".into(),
        libc::ENODATA => "ENODATA".into(),
        libc::EOPNOTSUPP => "EOPNOTSUPP".into(),
        libc::EROFS => "EROFS".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::ELOOP => "ELOOP".into(),
        libc::ETXTBSY => "ETXTBSY".into(),
        libc::EISDIR => "EISDIR".into(),
        libc::ENOTDIR => "ENOTDIR".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ESRCH => "ESRCH".into(),
        libc::EBADF => "EBADF".into(),
        other => format!("errno {other}"),
    }
}

fn last_errno() -> String {
    errno_name(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Tries to write into the target, each path being `prefix` + a target path (`""` inside the
/// view, `/proc/self/fd/<root>` through the held descriptor), in this order: `plan.file` opened
/// `O_WRONLY` without `O_TRUNC` (closed at once, nothing written), `truncate` of it to its own
/// size, in each of `plan.dirs` a new file and a new directory named `plan.unique` (removed at
/// once), and last `plan.file` opened `O_RDONLY | O_TRUNC`. None of them changes the target if it
/// succeeds, except the last, which is tried only when everything before was refused: with the
/// same right refused, so is it (Landlock's truncate right from ABI 3, the seccomp filter
/// below). The tries stop at the first success; the rest are [`NOT_TRIED`].
pub fn try_writes(prefix: &str, plan: &WritePlan) -> Vec<WriteAttempt> {
    use std::ffi::CString;
    let c = |path: &str| CString::new(format!("{prefix}{path}")).ok();
    let mut attempts: Vec<(String, Box<dyn Fn() -> String>)> = Vec::new();
    if let Some(file) = &plan.file
        && let Some(p) = c(file)
    {
        let q = p.clone();
        attempts.push((
            format!("open O_WRONLY {file}"),
            Box::new(move || {
                let flags = libc::O_WRONLY
                    | libc::O_NOFOLLOW
                    | libc::O_NONBLOCK
                    | libc::O_NOCTTY
                    | libc::O_CLOEXEC;
                // SAFETY: open and close with a valid C string.
                let fd = unsafe { libc::open(q.as_ptr(), flags) };
                if fd < 0 {
                    return last_errno();
                }
                unsafe { libc::close(fd) };
                "ok (opened for writing; nothing written)".into()
            }),
        ));
        let q = p.clone();
        attempts.push((
            format!("truncate {file} to its own size"),
            Box::new(move || {
                // SAFETY: lstat into a zeroed struct, truncate with a valid C string.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                if unsafe { libc::lstat(q.as_ptr(), &mut st) } != 0 {
                    return last_errno();
                }
                if unsafe { libc::truncate(q.as_ptr(), st.st_size) } != 0 {
                    return last_errno();
                }
                "ok (size unchanged)".into()
            }),
        ));
    }
    for dir in &plan.dirs {
        let name = format!("{}/{}", dir.trim_end_matches('/'), plan.unique);
        let Some(p) = c(&name) else { continue };
        let q = p.clone();
        attempts.push((
            format!("create {name}"),
            Box::new(move || {
                let flags = libc::O_WRONLY
                    | libc::O_CREAT
                    | libc::O_EXCL
                    | libc::O_NOFOLLOW
                    | libc::O_CLOEXEC;
                // SAFETY: open, close and unlink with a valid C string.
                let fd = unsafe { libc::open(q.as_ptr(), flags, 0o600) };
                if fd < 0 {
                    return last_errno();
                }
                unsafe { libc::close(fd) };
                if unsafe { libc::unlink(q.as_ptr()) } != 0 {
                    return format!("ok (not removed: {})", last_errno());
                }
                "ok (removed at once)".into()
            }),
        ));
        let dir_name = format!("{name}.d");
        let Some(q) = c(&dir_name) else { continue };
        attempts.push((
            format!("mkdir {dir_name}"),
            Box::new(move || {
                // SAFETY: mkdir and rmdir with a valid C string.
                if unsafe { libc::mkdir(q.as_ptr(), 0o700) } != 0 {
                    return last_errno();
                }
                if unsafe { libc::rmdir(q.as_ptr()) } != 0 {
                    return format!("ok (not removed: {})", last_errno());
                }
                "ok (removed at once)".into()
            }),
        ));
    }
    if let Some(file) = &plan.file
        && let Some(q) = c(file)
    {
        attempts.push((
            format!("open O_RDONLY|O_TRUNC {file}"),
            Box::new(move || {
                let flags = libc::O_RDONLY
                    | libc::O_TRUNC
                    | libc::O_NOFOLLOW
                    | libc::O_NONBLOCK
                    | libc::O_NOCTTY
                    | libc::O_CLOEXEC;
                // SAFETY: open and close with a valid C string.
                let fd = unsafe { libc::open(q.as_ptr(), flags) };
                if fd < 0 {
                    return last_errno();
                }
                unsafe { libc::close(fd) };
                "ok (truncated)".into()
            }),
        ));
    }
    let mut written = false;
    attempts
        .into_iter()
        .map(|(attempt, run)| {
            let outcome = if written {
                NOT_TRIED.to_string()
            } else {
                run()
            };
            written |= outcome.starts_with("ok");
            WriteAttempt { attempt, outcome }
        })
        .collect()
}

/// The calling thread's capability sets, `NoNewPrivs` and `Seccomp`, from
/// `/proc/thread-self/status`.
pub fn own_status() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.starts_with("Cap") || *key == "NoNewPrivs" || *key == "Seccomp")
        .map(|(key, value)| (key.to_string(), value.trim().to_string()))
        .collect()
}

/// Tries to reach each process of `pids`: `ptrace(PTRACE_SEIZE)` (which does not stop it; the
/// tracer's exit detaches) and opening `/proc/<pid>/mem` for reading (closed at once, nothing
/// read). Returns `ok` or the errno's name per attempt.
pub fn try_other_processes(pids: &[u32]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for &pid in pids {
        // SAFETY: ptrace with integer arguments.
        let seized = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid as libc::pid_t, 0, 0) };
        let outcome = if seized == 0 {
            "ok".to_string()
        } else {
            last_errno()
        };
        out.insert(format!("ptrace PTRACE_SEIZE {pid}"), outcome);
        let mem = format!("/proc/{pid}/mem");
        let outcome = match std::fs::File::open(&mem) {
            Ok(_) => "ok".to_string(),
            Err(e) => errno_name(e.raw_os_error().unwrap_or(0)),
        };
        out.insert(format!("open {mem}"), outcome);
    }
    out
}

/// The probe itself: run inside the view, it looks at `/` and at each of `paths`, tries the
/// metadata calls on `metadata` when given, reports its own capabilities, and tries what `plan`
/// (JSON, [`ProbePlan`]) asks.
pub fn probe(
    paths: &[String],
    metadata: Option<&str>,
    plan: Option<&str>,
) -> std::io::Result<ProbeReport> {
    let plan: ProbePlan = match plan {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        None => ProbePlan::default(),
    };
    let root = crate::root::file_id(&std::fs::metadata("/")?);
    let mut entries: Vec<String> = std::fs::read_dir("/")?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    entries.sort();
    let stats = paths
        .iter()
        .map(|p| {
            let id = std::fs::metadata(p).ok().map(|m| crate::root::file_id(&m));
            (p.clone(), id)
        })
        .collect();
    Ok(ProbeReport {
        root,
        entries,
        stats,
        metadata: metadata.map(try_metadata_calls).unwrap_or_default(),
        writes: plan.writes.as_ref().map(|w| try_writes("", w)),
        status: own_status(),
        other_processes: try_other_processes(&plan.other_pids),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCANNER: FileId = (1, 2);
    const TARGET: FileId = (7, 2);

    fn good() -> Evidence {
        Evidence {
            scanner_root: SCANNER,
            target_root: TARGET,
            view_root: TARGET,
            target_entries: vec!["app".into(), "etc".into()],
            view_entries: vec![".sidescan-scanner".into(), "app".into(), "etc".into()],
            view_extras: vec![".sidescan-scanner".into(), "proc".into()],
            target_exe: Some(("/app/server".into(), (7, 40))),
            target_exe_in_view: Some((7, 40)),
            marker: ("/results/.work/r/view-marker".into(), (5, 9)),
            marker_in_view: None,
            marker_through_prefix: Some(Some((5, 9))),
            metadata_in_view: Some(refused()),
            writes: Some(vec![WriteAttempt {
                attempt: "create /x".into(),
                outcome: "EACCES".into(),
            }]),
            view_status: Some(
                EMPTY_CAPABILITY_SETS
                    .iter()
                    .map(|set| (set.to_string(), "0000000000000000".to_string()))
                    .collect(),
            ),
            other_processes: Some(BTreeMap::from([(
                "open /proc/1/mem".to_string(),
                "EACCES".to_string(),
            )])),
        }
    }

    #[test]
    fn a_write_that_succeeds_or_a_capability_kept_is_refused() {
        let mut e = good();
        e.writes = Some(vec![
            WriteAttempt {
                attempt: "open O_WRONLY /etc/passwd".into(),
                outcome: "EACCES".into(),
            },
            WriteAttempt {
                attempt: "truncate /etc/passwd to its own size".into(),
                outcome: "ok (size unchanged)".into(),
            },
            WriteAttempt {
                attempt: "create /x".into(),
                outcome: NOT_TRIED.into(),
            },
        ]);
        let err = check(&e).unwrap_err();
        assert!(
            err.contains("not read-only: truncate /etc/passwd to its own size succeeded"),
            "{err}"
        );
        let mut e = good();
        e.view_status
            .as_mut()
            .unwrap()
            .insert("CapEff".into(), "0000000000080000".into());
        let err = check(&e).unwrap_err();
        assert!(
            err.contains("keep capabilities (CapEff: 0000000000080000)"),
            "{err}"
        );
        let mut e = good();
        e.view_status.as_mut().unwrap().remove("CapAmb");
        assert!(check(&e).unwrap_err().contains("CapAmb: unknown"));
        let mut e = good();
        e.other_processes = Some(BTreeMap::from([(
            "ptrace PTRACE_SEIZE 7".to_string(),
            "ok".to_string(),
        )]));
        assert!(
            check(&e)
                .unwrap_err()
                .contains("reaches other processes (ptrace PTRACE_SEIZE 7: ok)")
        );
        // Not tried (no Landlock): nothing to refuse here; the record says read_only false.
        let e = Evidence {
            writes: None,
            view_status: None,
            other_processes: None,
            ..good()
        };
        assert_eq!(check(&e), Ok(()));
    }

    #[test]
    fn a_confined_thread_writes_nothing_at_abi_1_nor_at_the_kernels() {
        use crate::sandbox::{self, ReadOnlyRuleset};
        let Ok(kernel) = sandbox::kernel_landlock_abi() else {
            eprintln!("no Landlock here: nothing to check");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("file"), "unchanged").unwrap();
        let plan = WritePlan {
            file: Some("/file".into()),
            dirs: vec!["/".into(), "/tmp".into()],
            unique: ".sidescan-write-test-r2".into(),
        };
        let prefix = dir.path().to_str().unwrap();
        for abi in [1, kernel] {
            let ruleset = ReadOnlyRuleset::with_abi(abi, &[], &[]).unwrap();
            let tried =
                sandbox::in_confined_thread(Some(&ruleset), || try_writes(prefix, &plan)).unwrap();
            assert_eq!(tried.len(), 7);
            for w in &tried {
                assert_eq!(w.outcome, "EACCES", "ABI {abi}: {tried:?}");
            }
            assert_eq!(
                std::fs::read_to_string(dir.path().join("file")).unwrap(),
                "unchanged"
            );
        }
        // Landlock ABI 1 alone lets truncation through: what the seccomp filter is for.
        let ruleset = ReadOnlyRuleset::with_abi(1, &[], &[]).unwrap();
        let tried = std::thread::scope(|s| {
            s.spawn(|| {
                sandbox::restrict_self(ruleset.raw_fd()).unwrap();
                try_writes(prefix, &plan)
            })
            .join()
            .unwrap()
        });
        assert_eq!(tried[0].outcome, "EACCES");
        assert_eq!(tried[1].outcome, "ok (size unchanged)", "{tried:?}");
    }

    #[test]
    fn writes_stop_at_the_first_success_and_leave_nothing() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("file"), "unchanged").unwrap();
        let plan = WritePlan {
            file: Some("/file".into()),
            dirs: vec!["/".into(), "/tmp".into()],
            unique: ".sidescan-write-test-r1".into(),
        };
        let prefix = dir.path().to_str().unwrap();
        let tried = try_writes(prefix, &plan);
        let names: Vec<&str> = tried.iter().map(|w| w.attempt.as_str()).collect();
        assert_eq!(
            names,
            [
                "open O_WRONLY /file",
                "truncate /file to its own size",
                "create /.sidescan-write-test-r1",
                "mkdir /.sidescan-write-test-r1.d",
                "create /tmp/.sidescan-write-test-r1",
                "mkdir /tmp/.sidescan-write-test-r1.d",
                "open O_RDONLY|O_TRUNC /file"
            ]
        );
        assert_eq!(tried[0].outcome, "ok (opened for writing; nothing written)");
        assert!(
            tried[1..].iter().all(|w| w.outcome == NOT_TRIED),
            "{tried:?}"
        );
        // Each one alone: the creations are undone, the file keeps its bytes until the last.
        let only = |dirs: Vec<String>| WritePlan {
            file: None,
            dirs,
            ..plan.clone()
        };
        let tried = try_writes(prefix, &only(vec!["/tmp".into()]));
        assert_eq!(tried[0].outcome, "ok (removed at once)");
        assert_eq!(tried[1].outcome, NOT_TRIED);
        let mtime = std::fs::metadata(dir.path().join("file")).unwrap().mtime();
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["file", "tmp"]);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("file")).unwrap(),
            "unchanged"
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("file")).unwrap().mtime(),
            mtime
        );
        let tried = try_writes(prefix, &only(vec!["/missing".into()]));
        assert_eq!(tried[0].outcome, "ENOENT");
    }

    fn refused() -> BTreeMap<String, String> {
        ["chmod", "chown", "utimensat", "setxattr"]
            .into_iter()
            .map(|call| (call.to_string(), "EPERM".to_string()))
            .collect()
    }

    #[test]
    fn a_view_that_allows_metadata_calls_is_refused() {
        let mut calls = refused();
        calls.insert("chmod".into(), "ok".into());
        calls.insert("setxattr".into(), "ENODATA".into());
        let e = Evidence {
            metadata_in_view: Some(calls),
            ..good()
        };
        let err = check(&e).unwrap_err();
        assert!(
            err.contains("does not refuse metadata calls (chmod: ok, setxattr: ENODATA)"),
            "{err}"
        );
        let e = Evidence {
            metadata_in_view: Some(BTreeMap::new()),
            ..good()
        };
        assert!(check(&e).unwrap_err().contains("none was tried"));
        // builtin: nothing runs in a view, nothing to try.
        let e = Evidence {
            metadata_in_view: None,
            ..good()
        };
        assert_eq!(check(&e), Ok(()));
    }

    #[test]
    fn metadata_calls_are_no_ops_when_allowed() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("marker");
        std::fs::write(&path, "m").unwrap();
        let before = std::fs::metadata(&path).unwrap();
        let outcomes = try_metadata_calls(path.to_str().unwrap());
        let calls: Vec<&str> = outcomes.keys().map(String::as_str).collect();
        assert_eq!(
            calls,
            [
                "chmod",
                "chown",
                "fchmod",
                "fchown",
                "removexattr",
                "setxattr",
                "utimensat"
            ]
        );
        for call in ["chmod", "fchmod", "chown", "fchown", "utimensat"] {
            assert_eq!(outcomes[call], "ok", "{call}");
        }
        // No such attribute (or none on this file system): never EPERM without a filter.
        for call in ["setxattr", "removexattr"] {
            assert!(
                ["ENODATA", "EOPNOTSUPP"].contains(&outcomes[call].as_str()),
                "{call}: {}",
                outcomes[call]
            );
        }
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!(
            (
                after.mode(),
                after.uid(),
                after.gid(),
                after.mtime(),
                after.mtime_nsec()
            ),
            (
                before.mode(),
                before.uid(),
                before.gid(),
                before.mtime(),
                before.mtime_nsec()
            )
        );
        assert_eq!(try_metadata_calls("/nonexistent/marker")["open"], "ENOENT");
    }

    #[test]
    fn the_targets_view_passes() {
        assert_eq!(check(&good()), Ok(()));
        let builtin = Evidence {
            marker_through_prefix: None,
            ..good()
        };
        assert_eq!(check(&builtin), Ok(()));
    }

    #[test]
    fn the_scanners_own_root_is_refused() {
        // What a canonicalized /proc/<pid>/root of a pivot_root'ed target gives.
        let e = Evidence {
            view_root: SCANNER,
            ..good()
        };
        let err = check(&e).unwrap_err();
        assert!(err.contains("the scanner's own root"), "{err}");
    }

    #[test]
    fn a_target_sharing_the_scanners_root_is_refused() {
        let e = Evidence {
            target_root: SCANNER,
            view_root: SCANNER,
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("shares the scanner's filesystem")
        );
    }

    #[test]
    fn other_listings_and_missing_executables_are_refused() {
        let e = Evidence {
            view_entries: vec!["bin".into(), "usr".into()],
            ..good()
        };
        assert!(check(&e).unwrap_err().contains("lists [bin, usr]"));
        let e = Evidence {
            target_exe_in_view: None,
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("/app/server is not visible")
        );
        let e = Evidence {
            target_exe_in_view: Some((7, 41)),
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("not the target's executable")
        );
        // A deleted executable (replaced after start) is not evidence either way.
        let e = Evidence {
            target_exe: None,
            target_exe_in_view: None,
            ..good()
        };
        assert_eq!(check(&e), Ok(()));
    }

    #[test]
    fn executable_paths_in_the_target() {
        assert_eq!(
            exe_in_target("/app/server", "/"),
            Some("/app/server".into())
        );
        assert_eq!(
            exe_in_target("/var/roots/t1/app/server", "/var/roots/t1"),
            Some("/app/server".into())
        );
        assert_eq!(exe_in_target("/var/roots/t10/x", "/var/roots/t1"), None);
        assert_eq!(exe_in_target("/app/server (deleted)", "/"), None);
    }

    #[test]
    fn a_visible_scanner_marker_is_refused() {
        let e = Evidence {
            marker_in_view: Some((5, 9)),
            ..good()
        };
        assert!(check(&e).unwrap_err().contains("shows the scanner's files"));
        let e = Evidence {
            marker_through_prefix: Some(None),
            ..good()
        };
        assert!(
            check(&e)
                .unwrap_err()
                .contains("not reachable under the scanner prefix")
        );
    }
}
