//! `sidescan-agent`: the scanner sidecar (`scan`) and the audit clones' init container
//! (`install-hold`). Installed execute-only, so the kernel makes it non-dumpable from its first
//! instruction; what runs inside the target view is the readable helper `sidescan-view`
//! (`sidescan_agent::view_programs`), which this binary also answers to.

use clap::{Parser, Subcommand};
use sidescan_agent::{cli, hold, secrets, view_programs};
use sidescan_core::ExitStatus;
use sidescan_core::audit::HOLD_SOURCE_PATH;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sidescan-agent",
    version,
    about = "sidescan's scanner sidecar",
    long_about = "sidescan's scanner sidecar: finds the target container's process, scans its \
                  root, stores the results.\n\nExit codes: 0 scanned and stored, 2 bad input or \
                  usage, 3 infrastructure (the target, the store, or the scanner could not run)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr: `text` for people, `json` for log collectors (what scan pods set).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "SIDESCAN_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Find the target container's process, scan its root, store the results. (`agent` is the
    /// name older manifests use.)
    #[command(alias = "agent")]
    Scan(Box<cli::ScanArgs>),
    /// Copy the static `hold` program into an audit clone's shared volume (its init container).
    InstallHold {
        /// Where to put the program (a file in the clone's shared volume).
        dest: PathBuf,
        /// The static `hold` program in the scanner image.
        #[arg(long, default_value = HOLD_SOURCE_PATH, env = "SIDESCAN_HOLD_SOURCE")]
        source: PathBuf,
    },
}

/// Logs go to stderr: human lines (`text`, the default) or JSON lines (`json`). `default` is
/// the level when `SIDESCAN_LOG` is unset.
fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIDESCAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .without_time()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

fn usage(message: String) -> ExitStatus {
    eprintln!("sidescan-agent: {message}");
    ExitStatus::BadInput
}

fn main() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(status) = view_programs::dispatch(&args) {
        return status;
    }
    // The scan's secrets are the agent's alone: first make the process non-dumpable, then take
    // the upload grant and any static credentials out of the environment (still one thread).
    let mut taken = secrets::Taken::default();
    let mut sealed = Ok(());
    if args.get(1).is_some_and(|a| a == "scan" || a == "agent") {
        sealed = secrets::seal_process();
        // SAFETY: nothing else runs yet: no runtime, no thread.
        taken = unsafe { secrets::take_from_env() };
    }
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
    let status = match cli.command {
        Command::InstallHold { dest, source } => match hold::install(&source, &dest) {
            Ok(bytes) => {
                println!(
                    "installed {} ({bytes} bytes) from {}",
                    dest.display(),
                    source.display()
                );
                ExitStatus::Passed
            }
            Err(e) => {
                eprintln!("sidescan-agent: {e}");
                e.exit_status()
            }
        },
        Command::Scan(args) => {
            init_logging(cli.log_format, "info");
            if let Err(e) = sealed {
                tracing::warn!(error = %e, "cannot make the agent non-dumpable");
            }
            match cli::config_with(*args, taken) {
                Ok(config) => match tokio::runtime::Runtime::new() {
                    Ok(runtime) => runtime.block_on(sidescan_agent::run(config)),
                    Err(e) => {
                        eprintln!("sidescan-agent: cannot start the async runtime: {e}");
                        ExitStatus::Infrastructure
                    }
                },
                Err(message) => usage(message),
            }
        }
    };
    status.into()
}
