//! `sidescan-runner`: the scanner sidecar's agent (`agent`) and the orchestrator around a scan
//! pod (`orchestrate` in a Job, `scan` from outside the cluster).

mod cli;

use clap::{Parser, Subcommand};
use sidescan_core::ExitStatus;
use sidescan_runner::agent;
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "sidescan-runner",
    version,
    about = "sidescan's scanner sidecar and orchestrator",
    long_about = "sidescan's scanner sidecar (agent) and the orchestrator around a scan pod \
                  (orchestrate, scan).\n\nExit codes: 0 passed (or scanned and stored without \
                  thresholds), 1 thresholds not met, 2 bad input or usage, 3 infrastructure \
                  (cluster, storage, the scanner could not run)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find the target container's process, scan its root, store the results.
    Agent(Box<cli::agent::AgentArgs>),
    /// Audit every workload a spec selects: clone, scan and report each container.
    Audit(Box<cli::audit::AuditArgs>),
    /// Copy the static `hold` program into an audit clone's shared volume (its init container).
    InstallHold(cli::install_hold::InstallHoldArgs),
    /// Internal: run by the agent inside the target view to prove what the view shows; prints
    /// JSON (the identity of `/`, its entries, and of each PATH, and what the metadata calls on
    /// the `--metadata` file gave).
    #[command(name = "probe-view", hide = true)]
    ProbeView {
        #[arg(long)]
        metadata: Option<String>,
        paths: Vec<String>,
    },
    /// The whole workflow inside the orchestration Job (in-cluster config).
    Orchestrate(Box<cli::orchestrate::OrchestrateArgs>),
    /// The whole workflow from outside the cluster (current kubeconfig): deploy a scan pod,
    /// scan, retrieve, evaluate, clean up.
    Scan(Box<cli::scan::ScanArgs>),
}

/// Logs go to stderr: JSON lines when stdout is not a terminal. `default` is the level when
/// `SIDESCAN_LOG` is unset.
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIDESCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stdout().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}

fn finish(result: anyhow::Result<ExitStatus>) -> ExitStatus {
    result.unwrap_or_else(|e| {
        eprintln!("sidescan-runner: {e:#}");
        ExitStatus::Infrastructure
    })
}

fn usage(message: String) -> ExitStatus {
    eprintln!("sidescan-runner: {message}");
    ExitStatus::BadInput
}

/// `view-exec <program> [args...]`, the first program PRoot starts in the target view: installs
/// the filter every program of the view keeps, then becomes `program`. Handled before anything
/// else (no argument parser, no runtime): it runs for every program the view starts.
fn view_exec(args: &[std::ffi::OsString]) -> std::process::ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((program, rest)) = args.split_first() else {
        eprintln!("sidescan-runner view-exec: no program to run");
        return ExitStatus::BadInput.into();
    };
    if let Err(e) = agent::seccomp::install(agent::seccomp::filter(agent::seccomp::Scope::Programs))
    {
        eprintln!("sidescan-runner view-exec: the view's seccomp filter: {e}");
        return ExitStatus::Infrastructure.into();
    }
    let e = std::process::Command::new(program).args(rest).exec();
    eprintln!(
        "sidescan-runner view-exec: {}: {e}",
        std::path::Path::new(program).display()
    );
    ExitStatus::Infrastructure.into()
}

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == agent::view::VIEW_EXEC_SUBCOMMAND)
    {
        return view_exec(&args[2..]);
    }
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run_cli()),
        Err(e) => {
            eprintln!("sidescan-runner: cannot start the async runtime: {e}");
            ExitStatus::Infrastructure.into()
        }
    }
}

async fn run_cli() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitStatus::Passed.into()
                }
                _ => ExitStatus::BadInput.into(),
            };
        }
    };
    if let Command::ProbeView { paths, metadata } = &cli.command {
        return match agent::proof::probe(paths, metadata.as_deref()) {
            Ok(report) => {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
                ExitStatus::Passed.into()
            }
            Err(e) => {
                eprintln!("probe-view: {e}");
                ExitStatus::Infrastructure.into()
            }
        };
    }
    // `scan` on a terminal prints its own progress lines: only warnings in the log there.
    let interactive = std::io::stdout().is_terminal();
    init_logging(match &cli.command {
        Command::Scan(_) if interactive => "warn",
        _ => "info",
    });
    let status = match cli.command {
        Command::Agent(args) => match cli::agent::config(*args) {
            Ok(config) => agent::run(config).await,
            Err(message) => usage(message),
        },
        Command::InstallHold(args) => cli::install_hold::run(args),
        Command::Audit(args) => cli::audit::run(*args).await,
        Command::ProbeView { .. } => ExitStatus::Passed,
        Command::Orchestrate(args) => match cli::orchestrate::config(*args) {
            Ok(config) => finish(cli::orchestrate::run(config).await),
            Err(message) => usage(message),
        },
        Command::Scan(args) => match cli::scan::config(*args) {
            Ok(config) => finish(cli::scan::run(config).await),
            Err(message) => usage(message),
        },
    };
    status.into()
}
