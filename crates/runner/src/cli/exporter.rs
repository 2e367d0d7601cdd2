//! `sidescan-runner exporter`: the latest audit's and the latest scans' metrics over HTTP, read
//! from the store (read-only).

use sidescan_core::ExitStatus;
use sidescan_runner::exporter::{self, ExporterConfig};
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(clap::Args)]
pub struct ExporterArgs {
    /// The results' store: `s3://bucket/prefix` (credentials and endpoint from the usual `AWS_*`
    /// variables; list and get rights are enough) or `file:///dir`.
    #[arg(long, env = "SIDESCAN_STORE_URL")]
    store_url: String,
    /// The `cluster` label of every series (default: the latest audit's `clusterName`).
    #[arg(long, env = "SIDESCAN_CLUSTER")]
    cluster: Option<String>,
    /// Seconds between refreshes from the store (10 to 86400).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..=86400))]
    refresh_seconds: u64,
    /// Address to serve `/metrics` and `/healthz` on.
    #[arg(long, default_value = "0.0.0.0:9464")]
    listen: SocketAddr,
    /// Refresh once, print the metrics to stdout and a line of figures to stderr, and exit (0, or
    /// 3 when the store could not be read).
    #[arg(long)]
    once: bool,
}

pub async fn run(args: ExporterArgs) -> ExitStatus {
    let config = ExporterConfig {
        store_url: args.store_url,
        cluster: args.cluster.filter(|c| !c.is_empty()),
        refresh: Duration::from_secs(args.refresh_seconds),
        listen: args.listen,
    };
    let outcome = if args.once {
        match exporter::once(&config).await {
            Ok((text, stats, series)) => {
                let _ = std::io::stdout().write_all(text.as_bytes());
                eprintln!(
                    "refresh: {} objects listed, {} runs read, {} series, {} unreadable, {:.3} s",
                    stats.listed, stats.fetched, series, stats.unreadable, stats.seconds
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    } else {
        exporter::run(config).await
    };
    match outcome {
        Ok(()) => ExitStatus::Passed,
        Err(e) => {
            eprintln!("sidescan-runner exporter: {e}");
            e.exit_status()
        }
    }
}
