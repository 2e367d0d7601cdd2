//! `sidescan-runner install-hold DEST`: the init container of an audit clone.

use sidescan_core::ExitStatus;
use sidescan_core::audit::HOLD_SOURCE_PATH;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct InstallHoldArgs {
    /// Where to put the program (a file in the clone's shared volume).
    dest: PathBuf,
    /// The static `hold` program in the scanner image.
    #[arg(long, default_value = HOLD_SOURCE_PATH, env = "SIDESCAN_HOLD_SOURCE")]
    source: PathBuf,
}

pub fn run(args: InstallHoldArgs) -> ExitStatus {
    match sidescan_runner::audit::hold::install(&args.source, &args.dest) {
        Ok(bytes) => {
            println!(
                "installed {} ({bytes} bytes) from {}",
                args.dest.display(),
                args.source.display()
            );
            ExitStatus::Passed
        }
        Err(e) => {
            eprintln!("sidescan-runner: {e}");
            e.exit_status()
        }
    }
}
