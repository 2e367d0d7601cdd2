//! Prove the view before scanning: what the scan will see is the target's root and nothing of the
//! scanner's. For `builtin` the view is the held descriptor itself; for `cinc` the agent's own
//! binary runs in the view exactly as the scan will (`probe-view`) and reports what it sees.

use super::AgentConfig;
use super::Backend;
use super::prepare::Prepared;
use super::target::Found;
use crate::cinc::{self, Containment};
use crate::proof::{self, Evidence, ProbePlan, ProbeReport, WritePlan};
use crate::results::ViewRecord;
use crate::root::{self, FileId, TargetRoot};
use crate::sandbox::{self, ReadOnlyRuleset};
use crate::view::{self, ViewConfig, in_view};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use sidescan_core::Failure;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The hidden subcommand that runs inside the view.
pub const PROBE_SUBCOMMAND: &str = "probe-view";

const PROOF_TEXT: &str = "view / = target root descriptor != scanner /; view / lists the target's \
     entries; target executable same inode in the view; scanner-only marker not visible";

const METADATA_PROOF_TEXT: &str = "chmod, fchmod, chown, fchown, utimensat, setxattr, \
     removexattr refused with EPERM in the view";

const WRITES_PROOF_TEXT: &str = "writing into the target tried through the view and refused \
     (writes_tried)";

const PROCESSES_PROOF_TEXT: &str = "the view's programs hold no capability and reach no other \
     process (processes, other_processes)";

/// What the scan runs with: for `cinc` the view, for both the Landlock ruleset (none without
/// Landlock).
pub(super) struct Setup {
    pub(super) view: Option<ViewConfig>,
    pub(super) ruleset: Option<ReadOnlyRuleset>,
}

/// The proven view: its record for `metadata.json` and how the scan runs in it.
pub(super) struct Proven {
    pub(super) record: ViewRecord,
    pub(super) setup: Setup,
}

pub(super) async fn prove(
    config: &AgentConfig,
    prepared: &Prepared,
    found: &Found,
) -> Result<Proven, Failure> {
    let marker = write_marker(&prepared.scratch)?;
    let mut evidence = scanner_side(&config.proc, &found.root, marker)?;
    match config.backend {
        Backend::Builtin => prove_builtin(config, found, evidence),
        Backend::Cinc => {
            let options = config
                .cinc
                .as_ref()
                .ok_or_else(|| Failure::bad_input("--backend cinc needs --profile"))?;
            let scratch = &prepared.scratch;
            let ruleset = match &prepared.landlock {
                Ok(_) => Some(
                    ReadOnlyRuleset::for_view(scratch)
                        .map_err(|e| Failure::infrastructure(format!("Landlock: {e}")))?,
                ),
                Err(why) => {
                    tracing::warn!(reason = %why, "Landlock unavailable: the target view is writable (--allow-writable-view)");
                    None
                }
            };
            let view_config = ViewConfig {
                proot: options.proot.clone(),
                root_fd: found.root.raw_fd(),
                preload: options.proot_preload.clone(),
                fallback_bin: options.fallback_bin.clone(),
                scratch: scratch.clone(),
                target_path: view::target_path(&config.proc, found.target.pid),
                seal: Some(own_launch()?),
            };
            // Writes are tried only where Landlock should refuse them: without it they would
            // write into the target.
            let plan = ProbePlan {
                writes: ruleset
                    .is_some()
                    .then(|| write_plan(&found.root, config.run_id.as_str(), true)),
                other_pids: vec![found.target.pid, std::process::id()],
            };
            let report = probe_view(
                &view_config,
                ruleset.as_ref(),
                &evidence,
                &plan,
                options.timeout,
            )
            .await?;
            evidence_from_probe(&report, &mut evidence);
            if ruleset.is_none() {
                // Without Landlock nothing keeps a program of the view from the memory of a
                // target of its own UID: recorded, accepted with --allow-writable-view.
                evidence.other_processes = None;
            }
            proof::check(&evidence).map_err(view_refused)?;
            let confinement = match &ruleset {
                Some(r) => format!(
                    "PRoot and every program of the view: Landlock ABI {} (writes only beneath \
                     {} and to {}); seccomp (PRoot's filter, then view-exec's: untranslated path \
                     calls, metadata changes, truncation, ptrace and process_vm_*, ioctls outside \
                     the allowlist); no capabilities",
                    r.abi,
                    scratch.display(),
                    crate::sandbox::VIEW_DEVICES.join(", ")
                ),
                None => format!(
                    "PRoot and every program of the view: no Landlock ({}), the view is \
                     writable; seccomp (PRoot's filter, then view-exec's); no capabilities",
                    prepared.landlock.as_ref().err().map_or("", String::as_str)
                ),
            };
            let mut proof = format!("{PROOF_TEXT}; {METADATA_PROOF_TEXT}");
            if ruleset.is_some() {
                proof.push_str(&format!("; {WRITES_PROOF_TEXT}"));
            }
            proof.push_str(&format!("; {PROCESSES_PROOF_TEXT}"));
            Ok(Proven {
                record: ViewRecord {
                    mechanism: "proot".into(),
                    read_only: evidence.writes.is_some(),
                    landlock_abi: ruleset.as_ref().map(|r| r.abi),
                    allow_writable_view: options.allow_writable_view,
                    proof,
                    confinement,
                    writes_tried: evidence.writes.clone().unwrap_or_default(),
                    processes: report.status.clone(),
                    other_processes: report.other_processes.clone(),
                },
                setup: Setup {
                    view: Some(view_config),
                    ruleset,
                },
            })
        }
    }
}

/// Builtin: the "view" is the descriptor itself. The scan runs on threads confined by Landlock
/// (nothing writable anywhere), a seccomp filter (metadata changes, truncation, other processes)
/// and no capability; from such a thread the agent tries to write into the target through
/// `/proc/self/fd/<root>/…`, as the scan's own code could.
fn prove_builtin(
    config: &AgentConfig,
    found: &Found,
    mut evidence: Evidence,
) -> Result<Proven, Failure> {
    evidence_beneath_descriptor(&found.root, &mut evidence)?;
    let landlock = sandbox::landlock_abi();
    let ruleset = match &landlock {
        Ok(_) => Some(
            ReadOnlyRuleset::new(&[], &[])
                .map_err(|e| Failure::infrastructure(format!("Landlock: {e}")))?,
        ),
        Err(why) => {
            tracing::warn!(reason = %why, "Landlock unavailable: the builtin scan's threads are not confined against writes");
            None
        }
    };
    let plan = write_plan(&found.root, config.run_id.as_str(), false);
    let prefix = found.root.fd_path().display().to_string();
    let (status, writes) = sandbox::in_confined_thread(ruleset.as_ref(), || {
        let writes = ruleset.is_some().then(|| proof::try_writes(&prefix, &plan));
        (proof::own_status(), writes)
    })
    .map_err(|e| Failure::infrastructure(format!("confining the scan's thread: {e}")))?;
    evidence.writes = writes;
    proof::check(&evidence).map_err(view_refused)?;
    let confinement = match (&ruleset, &landlock) {
        (Some(r), _) => format!(
            "the builtin scan's threads: Landlock ABI {} (nothing writable); seccomp (metadata \
             changes, truncation, ptrace and process_vm_*); no capabilities",
            r.abi
        ),
        (None, Err(why)) => format!(
            "the builtin scan's threads: no Landlock ({why}); seccomp (metadata changes, \
             truncation, ptrace and process_vm_*); no capabilities"
        ),
        (None, Ok(_)) => String::new(),
    };
    let mut proof = PROOF_TEXT.to_string();
    if ruleset.is_some() {
        proof.push_str(
            "; writing into the target tried through the descriptor from a scan thread and \
             refused (writes_tried)",
        );
    }
    Ok(Proven {
        record: ViewRecord {
            mechanism: "descriptor".into(),
            read_only: evidence.writes.is_some(),
            landlock_abi: ruleset.as_ref().map(|r| r.abi),
            allow_writable_view: false,
            proof,
            confinement,
            writes_tried: evidence.writes.clone().unwrap_or_default(),
            processes: status,
            other_processes: BTreeMap::new(),
        },
        setup: Setup {
            view: None,
            ruleset,
        },
    })
}

/// What to try writing into the target: an existing regular file ([`writable_file`]), `/`, the
/// target's `/tmp` when it is a directory, and (`cinc`, whose view shows the scanner's `/dev`)
/// `/dev/shm`, the pod's shared memory; with a name no one else uses.
fn write_plan(root: &TargetRoot, run_id: &str, dev_shm: bool) -> WritePlan {
    let mut dirs = vec!["/".to_string()];
    if matches!(no_symlinks(root, "/tmp"), Some(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory)
    {
        dirs.push("/tmp".into());
    }
    if dev_shm && Path::new("/dev/shm").is_dir() {
        dirs.push("/dev/shm".into());
    }
    WritePlan {
        file: writable_file(root),
        dirs,
        unique: format!(".sidescan-write-test-{run_id}"),
    }
}

/// `path` in the target, through no symlink at all (so the same path means the same file
/// through `/proc/self/fd/<root>/` and in the view).
fn no_symlinks(root: &TargetRoot, path: &str) -> Option<rustix::fs::Stat> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    let fd = rustix::fs::openat2(
        root.fd(),
        rel,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .ok()?;
    rustix::fs::fstat(&fd).ok()
}

/// An existing regular file of the target to try writing: not executable (a running program
/// gives ETXTBSY, not a refusal), reached through no symlink, and preferably one the scanner's
/// identity may write by its permissions (so only the view's confinement can refuse it). Looks
/// at a few well-known files, then `/etc` and `/`.
fn writable_file(root: &TargetRoot) -> Option<String> {
    let mut candidates: Vec<String> = [
        "/etc/passwd",
        "/etc/group",
        "/etc/os-release",
        "/etc/hostname",
        "/etc/hosts",
    ]
    .map(String::from)
    .to_vec();
    for dir in ["/etc", "/"] {
        if let Ok(entries) = std::fs::read_dir(root.fd_path().join(dir.trim_start_matches('/'))) {
            let mut names: Vec<String> = entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().map(String::from))
                .collect();
            names.sort();
            candidates.extend(
                names
                    .into_iter()
                    .take(200)
                    .map(|n| format!("{}/{n}", dir.trim_end_matches('/'))),
            );
        }
    }
    // SAFETY: getters without arguments.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let mut first = None;
    for path in candidates {
        let Some(st) = no_symlinks(root, &path) else {
            continue;
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile || st.st_mode & 0o111 != 0 {
            continue;
        }
        let writable = (st.st_uid == uid && st.st_mode & 0o200 != 0)
            || (st.st_gid == gid && st.st_mode & 0o020 != 0)
            || st.st_mode & 0o002 != 0;
        if writable {
            return Some(path);
        }
        first.get_or_insert(path);
    }
    first
}

/// A file only the scanner has, to show the view does not expose the scanner's files. Its mode is
/// the one PRoot's own filter lets `fchmod` set (its loader's), so the probe's `fchmod` to the
/// current mode is refused only when `view-exec` sealed the view.
fn write_marker(scratch: &Path) -> Result<(String, FileId), Failure> {
    let path = scratch.join("view-marker");
    let io =
        |e: std::io::Error| Failure::infrastructure(format!("view marker {}: {e}", path.display()));
    std::fs::write(&path, format!("{}\n", rand::random::<u64>())).map_err(io)?;
    std::fs::set_permissions(
        &path,
        std::os::unix::fs::PermissionsExt::from_mode(crate::seccomp::LOADER_MODE),
    )
    .map_err(io)?;
    let id = root::file_id(&std::fs::metadata(&path).map_err(io)?);
    Ok((path.display().to_string(), id))
}

/// What the agent itself sees: its own root, the target's root and executable, the marker.
fn scanner_side(
    proc: &Path,
    target: &TargetRoot,
    marker: (String, FileId),
) -> Result<Evidence, Failure> {
    let infra = |what: &str, e: std::io::Error| Failure::infrastructure(format!("{what}: {e}"));
    let scanner_root = root::file_id(&std::fs::metadata("/").map_err(|e| infra("/", e))?);
    let target_entries = target
        .entries()
        .map_err(|e| infra("listing the target's root", e))?;
    let pid_dir = proc.join(target.pid.to_string());
    let exe = pid_dir.join("exe");
    let target_exe = match (
        std::fs::read_link(&exe),
        std::fs::read_link(pid_dir.join("root")),
        std::fs::metadata(&exe),
    ) {
        (Ok(exe_link), Ok(root_link), Ok(meta)) => {
            proof::exe_in_target(&exe_link.to_string_lossy(), &root_link.to_string_lossy())
                .map(|path| (path, root::file_id(&meta)))
        }
        _ => None,
    };
    Ok(Evidence {
        scanner_root,
        target_root: target.identity,
        target_entries,
        target_exe,
        marker,
        ..Evidence::default()
    })
}

/// How to start the view's helper (the probe, and `view-exec`, which seals the view): the
/// readable `sidescan-view` beside the execute-only agent.
fn own_launch() -> Result<view::Launch, Failure> {
    let infra = |m: String| Failure::infrastructure(format!("the view's helper program: {m}"));
    let exe = std::env::current_exe().map_err(|e| infra(e.to_string()))?;
    let helper = crate::view_programs::helper_beside(&exe);
    view::launch_for(&helper).map_err(|e| infra(format!("{}: {e}", helper.display())))
}

fn view_refused(reason: String) -> Failure {
    Failure::infrastructure(format!(
        "the target view is not the target's: {reason}; no scan was run"
    ))
}

/// Builtin: the "view" is the descriptor itself; paths resolve beneath it.
fn evidence_beneath_descriptor(target: &TargetRoot, e: &mut Evidence) -> Result<(), Failure> {
    let infra = |e: std::io::Error| Failure::infrastructure(format!("proving the view: {e}"));
    e.view_root = root::file_id(&std::fs::metadata(target.fd_path()).map_err(infra)?);
    e.view_entries = target.entries().map_err(infra)?;
    if let Some((path, _)) = &e.target_exe {
        e.target_exe_in_view = target.stat_in_root(path).map_err(infra)?;
    }
    e.marker_in_view = target.stat_in_root(&e.marker.0).map_err(infra)?;
    Ok(())
}

/// The probe's paths: the target's executable, the marker at its own path and under the prefix.
fn probe_paths(e: &Evidence) -> Vec<String> {
    let mut paths = Vec::new();
    if let Some((path, _)) = &e.target_exe {
        paths.push(path.clone());
    }
    paths.push(e.marker.0.clone());
    paths.push(in_view(Path::new(&e.marker.0)).display().to_string());
    paths
}

fn evidence_from_probe(report: &ProbeReport, e: &mut Evidence) {
    let stat = |p: &str| report.stats.get(p).copied().flatten();
    e.view_root = report.root;
    e.view_entries = report.entries.clone();
    e.view_extras = vec![
        view::SCANNER_PREFIX.trim_start_matches('/').to_string(),
        "proc".into(),
        "dev".into(),
        "sys".into(),
    ];
    if let Some((path, _)) = &e.target_exe {
        e.target_exe_in_view = stat(path);
    }
    e.marker_in_view = stat(&e.marker.0);
    e.marker_through_prefix = Some(stat(&in_view(Path::new(&e.marker.0)).display().to_string()));
    e.metadata_in_view = Some(report.metadata.clone());
    e.writes = report.writes.clone();
    e.view_status = Some(report.status.clone());
    e.other_processes = Some(report.other_processes.clone());
}

/// Runs `sidescan-agent probe-view` in the view exactly as the scan will run (same PRoot command,
/// descriptor, interposer, seccomp filters, `view-exec` seal and Landlock ruleset) and reads what
/// it saw.
async fn probe_view(
    view_config: &ViewConfig,
    ruleset: Option<&ReadOnlyRuleset>,
    evidence: &Evidence,
    plan: &ProbePlan,
    timeout: Duration,
) -> Result<ProbeReport, Failure> {
    let infra = |m: String| Failure::infrastructure(format!("view probe: {m}"));
    let launch = match &view_config.seal {
        Some(launch) => launch.clone(),
        None => own_launch()?,
    };
    let marker_in_view = in_view(Path::new(&evidence.marker.0));
    let plan = serde_json::to_string(plan).map_err(|e| infra(e.to_string()))?;
    let mut args: Vec<std::ffi::OsString> = vec![
        PROBE_SUBCOMMAND.into(),
        "--metadata".into(),
        marker_in_view.into(),
        "--plan".into(),
        plan.into(),
    ];
    args.extend(probe_paths(evidence).into_iter().map(Into::into));
    let limits = Containment {
        timeout: timeout.min(Duration::from_secs(120)),
        sweep_descendants_of: Some(std::process::id()),
    };
    let out = cinc::run_in_view(view_config, ruleset, &launch, &args, limits)
        .await
        .map_err(infra)?;
    if out.code != Some(0) {
        return Err(infra(format!(
            "exit {:?}; stderr: {}",
            out.code,
            cinc::tail(&out.stderr)
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        infra(format!(
            "unreadable report ({e}): {}; stderr: {}",
            cinc::tail(&out.stdout),
            cinc::tail(&out.stderr)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_looks_for_the_executable_and_the_marker_both_ways() {
        let e = Evidence {
            target_exe: Some(("/app/server".into(), FileId::default())),
            marker: ("/results/.work/r1/view-marker".into(), FileId::default()),
            ..Evidence::default()
        };
        let paths = probe_paths(&e);
        assert_eq!(paths[0], "/app/server");
        assert_eq!(paths[1], "/results/.work/r1/view-marker");
        assert_eq!(
            paths[2],
            in_view(Path::new("/results/.work/r1/view-marker"))
                .display()
                .to_string()
        );
        assert!(paths[2].starts_with(view::SCANNER_PREFIX));
    }

    #[test]
    fn a_refused_view_says_no_scan_ran() {
        let f = view_refused("marker visible".into());
        assert_eq!(f.status, sidescan_core::ExitStatus::Infrastructure);
        assert!(f.message.ends_with("marker visible; no scan was run"));
    }
}
