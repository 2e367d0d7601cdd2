//! Scan: the builtin baseline beneath the held descriptor, or CINC Auditor in the proven view;
//! then the check that the target outlived the scan (a result of a root nobody runs any more is
//! not kept).

use super::prepare::Prepared;
use super::prove::Setup;
use super::target::Found;
use super::{AgentConfig, Backend, bad_input_or_infrastructure};
use crate::builtin;
use crate::cinc::{self, Containment};
use crate::root::Liveness;
use crate::sandbox::{self, ReadOnlyRuleset};
use crate::view::ViewConfig;
use sidescan_core::Failure;
use std::collections::BTreeMap;

/// What the scan produced: the report, and what `metadata.json` records of it.
pub(super) struct Scanned {
    pub(super) hdf: Vec<u8>,
    pub(super) meta: ScanMeta,
}

/// The scan's part of `metadata.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ScanMeta {
    pub(super) os_release: BTreeMap<String, String>,
    pub(super) profile: Option<String>,
    /// Tool versions: the agent's, and the scanner's and profile's when known.
    pub(super) versions: BTreeMap<String, String>,
}

/// The versions every run records.
fn agent_versions() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "sidescan-agent".to_string(),
        env!("CARGO_PKG_VERSION").to_string(),
    )])
}

pub(super) async fn scan(
    config: &AgentConfig,
    prepared: &Prepared,
    found: &Found,
    setup: Setup,
    started: jiff::Timestamp,
) -> Result<Scanned, Failure> {
    match config.backend {
        Backend::Builtin => scan_builtin(config, prepared, found, setup.ruleset.as_ref(), started),
        Backend::Cinc => {
            let view_config = setup.view.ok_or_else(|| {
                Failure::infrastructure("the cinc view was not set up before the scan")
            })?;
            scan_cinc(
                config,
                prepared,
                found,
                &view_config,
                setup.ruleset.as_ref(),
            )
            .await
        }
    }
}

/// The target's name in result keys: `--target-name`, else the target container's, else
/// `target`.
pub(super) fn target_name(config: &AgentConfig, found: &Found) -> String {
    config
        .target_name
        .clone()
        .or_else(|| found.pod.as_ref().map(|p| p.container.clone()))
        .unwrap_or_else(|| "target".into())
}

/// The builtin baseline, on a thread confined as the proof's was (Landlock with nothing writable,
/// the scan's seccomp filter, no capability); its walker threads inherit that.
fn scan_builtin(
    config: &AgentConfig,
    prepared: &Prepared,
    found: &Found,
    ruleset: Option<&ReadOnlyRuleset>,
    started: jiff::Timestamp,
) -> Result<Scanned, Failure> {
    let pid = found.target.pid;
    let gone = |e: rustix::io::Errno| {
        let what = if builtin::root::means_gone(e) {
            "exited before the scan".to_string()
        } else {
            format!("cannot be scanned: {}", builtin::root::errno_text(e))
        };
        Failure::infrastructure(format!("target process {pid} {what}"))
    };
    // The descriptor held since verification: the same root the view was proven on.
    let process = builtin::TargetProcess::read(&config.proc, pid).map_err(gone)?;
    let target_id = found
        .pod
        .as_ref()
        .and_then(|p| p.container_id.clone())
        .unwrap_or_else(|| format!("{}/{}", config.namespace, target_name(config, found)));
    let scan = sandbox::in_confined_thread(ruleset, || {
        builtin::scan(
            builtin::Target {
                root: found.root.fd(),
                process: Some(&process),
                target_id: Some(&target_id),
                policy: &prepared.policy,
            },
            started,
        )
    })
    .map_err(|e| Failure::infrastructure(format!("confining the scan's thread: {e}")))?
    .map_err(|e| Failure::new(e.exit_status(), e.to_string()))?;
    tracing::info!(
        entries = scan.entries_walked,
        files_read = scan.files_read,
        "builtin baseline walked the target"
    );
    let hdf = serde_json::to_vec_pretty(&scan.report)
        .map_err(|e| Failure::infrastructure(e.to_string()))?;
    let mut versions = agent_versions();
    versions.insert(
        builtin::PROFILE_NAME.into(),
        builtin::PROFILE_VERSION.into(),
    );
    Ok(Scanned {
        hdf,
        meta: ScanMeta {
            os_release: scan.os_release,
            profile: Some(builtin::PROFILE_NAME.to_string()),
            versions,
        },
    })
}

async fn scan_cinc(
    config: &AgentConfig,
    prepared: &Prepared,
    found: &Found,
    view_config: &ViewConfig,
    ruleset: Option<&ReadOnlyRuleset>,
) -> Result<Scanned, Failure> {
    let needs_profile = || Failure::bad_input("--backend cinc needs --profile");
    let options = config.cinc.as_ref().ok_or_else(needs_profile)?;
    let local_profile = prepared.profile.clone().ok_or_else(needs_profile)?;
    let limits = Containment {
        timeout: options.timeout,
        sweep_descendants_of: Some(std::process::id()),
    };
    let run = cinc::scan(options, &local_profile, view_config, ruleset, limits)
        .await
        .map_err(|e| bad_input_or_infrastructure(e.is_bad_input(), e.to_string()))?;
    tracing::info!(exit = ?run.exit, "cinc-auditor finished");
    let mut versions = agent_versions();
    if let Some(version) = &run.tool_version {
        versions.insert("cinc-auditor".into(), version.clone());
    }
    if let Some((name, version)) = &run.profile_version {
        versions.insert(format!("profile {name}"), version.clone());
    }
    Ok(Scanned {
        hdf: run.report,
        meta: ScanMeta {
            os_release: builtin::gather::os_release(found.root.fd()),
            profile: Some(options.profile.to_string()),
            versions,
        },
    })
}

/// No result from a vanished target: what was scanned may be a root nobody runs any more.
pub(super) fn still_running(config: &AgentConfig, found: &Found) -> Result<(), Failure> {
    let what = match found.root.liveness(&config.proc) {
        Liveness::Running => return Ok(()),
        Liveness::Exited => "exited",
        Liveness::Replaced => "was replaced by another process with the same PID",
    };
    Err(Failure::infrastructure(format!(
        "target process {} {what} during the scan; no result is stored",
        found.target.pid
    )))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_run_records_the_agent_version() {
        let v = super::agent_versions();
        assert_eq!(v["sidescan-agent"], env!("CARGO_PKG_VERSION"));
    }
}
