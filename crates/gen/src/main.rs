//! `sidescan-gen`: renders sidescan's Kubernetes manifests from a scan spec.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sidescan_core::ExitStatus;
use sidescan_gen::{DEFAULT_VALUES, GenError, Generator, Kind, KubeVersion, values};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sidescan-gen",
    version,
    about = "Render sidescan's Kubernetes manifests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render manifests as multi-document YAML (stdout, or one file per kind with --output-dir).
    Render {
        /// all, scan-pod, rbac, job, cronjob, profile or thresholds (from a scan spec);
        /// audit-job or audit-cronjob (from an audit spec, with the audit's RBAC and ConfigMaps).
        #[arg(value_parser = ["all", "scan-pod", "rbac", "job", "cronjob", "profile", "thresholds", "audit-job", "audit-cronjob"])]
        what: String,
        /// The scan spec, or the audit spec for audit-* (YAML); relative paths in it are taken
        /// from its directory.
        #[arg(long, short = 'f')]
        values: Option<PathBuf>,
        /// Override a spec value: a dotted path and a YAML scalar (`security.runAsUser=1000`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Override a spec value with a string, whatever it looks like.
        #[arg(long = "set-string", value_name = "KEY=VALUE")]
        set_string: Vec<String>,
        /// Write `<kind>.yaml` files into this directory instead of stdout.
        #[arg(long)]
        output_dir: Option<PathBuf>,
        /// The Kubernetes release to render for (API versions and fields follow it).
        #[arg(long, default_value_t = KubeVersion::DEFAULT.to_string())]
        kube_version: String,
    },
    /// Print the documented default spec.
    Values {
        /// The audit spec's defaults instead (`sidescan-runner audit`, `render audit-job`).
        #[arg(long)]
        audit: bool,
    },
}

/// Failures sorted by exit code: bad input (2) or writing the output (3).
enum Failure {
    Input(GenError),
    Output(anyhow::Error),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Values { audit } => std::io::stdout()
            .write_all(if audit {
                sidescan_gen::audit::DEFAULT_AUDIT_VALUES.as_bytes()
            } else {
                DEFAULT_VALUES.as_bytes()
            })
            .context("writing to stdout")
            .map_err(Failure::Output),
        Command::Render {
            what,
            values,
            set,
            set_string,
            output_dir,
            kube_version,
        } => render(
            &what,
            values.as_deref(),
            &set,
            &set_string,
            output_dir.as_deref(),
            &kube_version,
        ),
    };
    match result {
        Ok(()) => ExitStatus::Passed.into(),
        Err(Failure::Input(err)) => {
            eprintln!("sidescan-gen: {err}");
            ExitStatus::BadInput.into()
        }
        Err(Failure::Output(err)) => {
            eprintln!("sidescan-gen: {err:#}");
            ExitStatus::Infrastructure.into()
        }
    }
}

fn render(
    what: &str,
    values_file: Option<&Path>,
    set: &[String],
    set_string: &[String],
    output_dir: Option<&Path>,
    kube_version: &str,
) -> Result<(), Failure> {
    let kube = KubeVersion::parse(kube_version).map_err(Failure::Input)?;
    let (mut tree, base_dir) = match values_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| Failure::Input(GenError::io(path, e)))?;
            let tree =
                values::parse_values(&text, &path.display().to_string()).map_err(Failure::Input)?;
            let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (tree, base)
        }
        None => (serde_json::json!({}), PathBuf::new()),
    };
    for arg in set {
        values::apply_set(&mut tree, arg, false).map_err(Failure::Input)?;
    }
    for arg in set_string {
        values::apply_set(&mut tree, arg, true).map_err(Failure::Input)?;
    }
    let base_dir = if base_dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base_dir
    };
    if let Some(kind) = sidescan_gen::audit::AuditKind::parse(what) {
        let spec = sidescan_core::audit::from_value(tree)
            .map_err(|e| Failure::Input(GenError::Spec(e)))?;
        let generator = Generator::new().map_err(Failure::Input)?;
        let docs = sidescan_gen::audit::generate(&generator, &spec, &base_dir, kube, kind)
            .map_err(Failure::Input)?;
        let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
        return write_output(&stream, &format!("{}.yaml", kind.as_str()), output_dir);
    }
    let spec = values::spec_from_value(tree).map_err(Failure::Input)?;
    let generator = Generator::new().map_err(Failure::Input)?;
    let kind = Kind::parse(what);
    let rendered =
        sidescan_gen::generate(&generator, &spec, &base_dir, kube, kind).map_err(Failure::Input)?;
    match output_dir {
        None => std::io::stdout()
            .write_all(sidescan_gen::to_stream(&rendered).as_bytes())
            .context("writing to stdout")
            .map_err(Failure::Output),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {}", dir.display()))
                .map_err(Failure::Output)?;
            for (name, text) in sidescan_gen::to_files(&rendered) {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))
                    .map_err(Failure::Output)?;
            }
            Ok(())
        }
    }
}

/// Writes one stream to stdout, or as `file_name` into `output_dir`.
fn write_output(stream: &str, file_name: &str, output_dir: Option<&Path>) -> Result<(), Failure> {
    match output_dir {
        None => std::io::stdout()
            .write_all(stream.as_bytes())
            .context("writing to stdout")
            .map_err(Failure::Output),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {}", dir.display()))
                .map_err(Failure::Output)?;
            let path = dir.join(file_name);
            std::fs::write(&path, stream)
                .with_context(|| format!("writing {}", path.display()))
                .map_err(Failure::Output)
        }
    }
}
