//! `sidescan-runner`: the scanner sidecar's agent (`agent`).

mod cli;

use clap::{Parser, Subcommand};
use sidescan_core::ExitStatus;
use sidescan_runner::agent;
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "sidescan-runner",
    version,
    about = "sidescan's scanner sidecar",
    long_about = "sidescan's scanner sidecar.\n\nExit codes: 0 scanned and stored, 2 bad input or \
                  usage, 3 infrastructure (target not found or unreadable, scanner failed, store \
                  unreachable: results then stay on the volume)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find the target container's process, scan its root, store the results.
    Agent(Box<cli::agent::AgentArgs>),
    /// Internal: run by the agent inside the target view to prove what the view shows; prints
    /// JSON (the identity of `/`, its entries, and of each PATH, and what the metadata calls on
    /// the `--metadata` file gave).
    #[command(name = "probe-view", hide = true)]
    ProbeView {
        #[arg(long)]
        metadata: Option<String>,
        paths: Vec<String>,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIDESCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stdout().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
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
    init_logging();
    let status = match cli.command {
        Command::Agent(args) => match cli::agent::config(*args) {
            Ok(config) => agent::run(config).await,
            Err(message) => usage(message),
        },
        Command::ProbeView { .. } => ExitStatus::Passed,
    };
    status.into()
}
