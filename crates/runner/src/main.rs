//! `sidescan-runner`: the cluster workflow around scan pods: `orchestrate` (in a Job), `scan`
//! (from outside the cluster), `audit` (many workloads) and `exporter` (their metrics). The scanner itself is
//! `sidescan-agent`.

mod cli;

use clap::{Parser, Subcommand};
use sidescan_core::ExitStatus;
use std::io::IsTerminal;

#[derive(Parser)]
#[command(
    name = "sidescan-runner",
    version,
    about = "sidescan's cluster workflow: scans, scheduled scans and batch audits",
    long_about = "sidescan's cluster workflow: the orchestrator around a scan pod (orchestrate, \
                  scan) and batch audits (audit). The scanner sidecar is sidescan-agent.\n\nExit codes: 0 passed (or scanned and stored without \
                  thresholds), 1 thresholds not met, 2 bad input or usage, 3 infrastructure \
                  (cluster, storage, the scanner could not run)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Audit every workload a spec selects: clone, scan and report each container.
    Audit(Box<cli::audit::AuditArgs>),
    /// Serve the latest audit's and the latest scans' metrics (OpenMetrics) from the store.
    Exporter(Box<cli::exporter::ExporterArgs>),
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

fn main() -> std::process::ExitCode {
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
    // `scan` on a terminal prints its own progress lines: only warnings in the log there.
    let interactive = std::io::stdout().is_terminal();
    init_logging(match &cli.command {
        Command::Scan(_) if interactive => "warn",
        _ => "info",
    });
    let status = match cli.command {
        Command::Audit(args) => cli::audit::run(*args).await,
        Command::Exporter(args) => cli::exporter::run(*args).await,
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
