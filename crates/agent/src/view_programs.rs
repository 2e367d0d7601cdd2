//! The two programs the agent starts inside the target view, handled before anything else (no
//! runtime, no logging): `view-exec <program> [args...]`, the first program PRoot starts, which
//! drops every capability, installs the filter every program of the view keeps (with
//! no_new_privs, so no later exec regains a capability) and becomes `program`; and `probe-view`,
//! which reports what the view shows.
//!
//! They live in their own small binary, `sidescan-view`, so that `sidescan-agent` itself can be
//! installed execute-only: the kernel makes a process whose program its user cannot read
//! non-dumpable from its first instruction, leaving no moment in which a target sharing the
//! scanner's UID could read the agent's environment. PRoot must read what it starts, so what runs
//! in the view is this readable helper. `sidescan-agent` answers both names too (for an agent run
//! from a build directory).

use crate::{proof, sandbox, seccomp, view};
use sidescan_core::ExitStatus;
use std::ffi::OsString;
use std::process::ExitCode;

/// The helper's file name, beside the agent.
pub const HELPER: &str = "sidescan-view";

/// Runs the view program `args[1]` names; `None` when it names none.
pub fn dispatch(args: &[OsString]) -> Option<ExitCode> {
    let name = args.get(1)?.to_str()?;
    if name == view::VIEW_EXEC_SUBCOMMAND {
        Some(view_exec(&args[2..]))
    } else if name == crate::run::PROBE_SUBCOMMAND {
        Some(probe_view(&args[2..]))
    } else {
        None
    }
}

#[derive(clap::Parser)]
#[command(name = "probe-view", no_binary_name = true)]
struct ProbeArgs {
    #[arg(long)]
    metadata: Option<String>,
    #[arg(long)]
    plan: Option<String>,
    paths: Vec<String>,
}

/// Prints JSON: the identity of `/`, its entries, and of each path, what the metadata calls on
/// the `--metadata` file gave, and what the writes and other processes `--plan` names gave.
fn probe_view(args: &[OsString]) -> ExitCode {
    use clap::Parser as _;
    let args = match ProbeArgs::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("probe-view: {e}");
            return ExitStatus::BadInput.into();
        }
    };
    match proof::probe(&args.paths, args.metadata.as_deref(), args.plan.as_deref()) {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            ExitStatus::Passed.into()
        }
        Err(e) => {
            eprintln!("probe-view: {e}");
            ExitStatus::Infrastructure.into()
        }
    }
}

fn view_exec(args: &[OsString]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((program, rest)) = args.split_first() else {
        eprintln!("view-exec: no program to run");
        return ExitStatus::BadInput.into();
    };
    if let Err(e) = sandbox::clear_capabilities() {
        eprintln!("view-exec: dropping capabilities: {e}");
        return ExitStatus::Infrastructure.into();
    }
    if let Err(e) = seccomp::install(seccomp::filter(seccomp::Scope::Programs)) {
        eprintln!("view-exec: the view's seccomp filter: {e}");
        return ExitStatus::Infrastructure.into();
    }
    let e = std::process::Command::new(program).args(rest).exec();
    eprintln!(
        "view-exec: {}: {e}",
        std::path::Path::new(program).display()
    );
    ExitStatus::Infrastructure.into()
}

/// The program to start in the view: the `sidescan-view` helper beside `agent` when it is there,
/// else the agent itself (a build directory, where it is readable).
pub fn helper_beside(agent: &std::path::Path) -> std::path::PathBuf {
    let helper = agent.with_file_name(HELPER);
    if helper.is_file() {
        helper
    } else {
        agent.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_view_programs_are_dispatched() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(dispatch(&args(&["sidescan-agent", "scan"])).is_none());
        assert!(dispatch(&args(&["sidescan-view"])).is_none());
        let bad = dispatch(&args(&["sidescan-view", "probe-view", "--nope"])).unwrap();
        assert_eq!(format!("{bad:?}"), format!("{:?}", ExitCode::from(2)));
    }

    #[test]
    fn the_helper_is_used_when_it_is_installed() {
        let dir = tempfile::tempdir().unwrap();
        let agent = dir.path().join("sidescan-agent");
        assert_eq!(helper_beside(&agent), agent);
        std::fs::write(dir.path().join(HELPER), b"").unwrap();
        assert_eq!(helper_beside(&agent), dir.path().join(HELPER));
    }
}
