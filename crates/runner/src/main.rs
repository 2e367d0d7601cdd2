//! `sidescan-runner`: the cluster workflow around scan pods: `orchestrate` (in a Job), `scan`
//! (from outside the cluster), `audit` (many workloads) and `exporter` (their metrics). The scanner itself is
//! `sidescan-agent`.

mod cli;

use clap::{Parser, Subcommand};
use sidescan_core::ExitStatus;

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
    /// How the run reports itself: `text`, human lines (one per phase on stdout, folded in
    /// GitHub Actions and GitLab CI logs; log messages on stderr), or `json`, one JSON object per
    /// phase and log message on stderr (what the rendered Jobs set). The closing summary is text
    /// either way.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "SIDESCAN_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: cli::log::LogFormat,
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

/// Logging for the command: the format asked for, the CI log from the environment. `scan` in
/// text outside a CI log logs warnings only (its phase lines say the rest); in a CI log the info
/// lines are folded under the phases.
fn init_logging(cli: &Cli) {
    use cli::log::{LogFormat, Options};
    use sidescan_runner::orchestrator::report::CiLog;
    let ci = CiLog::detect(|name| std::env::var(name).ok());
    let (quiet, scan) = match &cli.command {
        Command::Scan(args) => (args.quiet(), true),
        _ => (false, false),
    };
    let default_level = match cli.log_format {
        LogFormat::Text if scan && ci == CiLog::Plain => "warn",
        _ => "info",
    };
    cli::log::init(Options {
        format: cli.log_format,
        ci,
        phases: !quiet,
        default_level,
    });
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
    init_logging(&cli);
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
