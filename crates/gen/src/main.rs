//! `sidescan-gen`: renders sidescan's Kubernetes manifests from a scan spec.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sidescan_core::ExitStatus;
use sidescan_gen::inputs::{CONFIGMAP_LIMIT, InputCache};
use sidescan_gen::{
    DEFAULT_VALUES, GenError, Generator, Kind, KubeVersion, Rendered, output, values,
};
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
        /// all (the Job path: RBAC, ConfigMaps, NetworkPolicy, Job, CronJob), scan-pod (the
        /// manual path), rbac, job, cronjob, profile, thresholds or network-policy (from a scan
        /// spec); audit-job or audit-cronjob (from an audit spec, with the audit's RBAC and
        /// ConfigMaps); exporter (the metrics exporter, from an exporter spec or an audit spec).
        #[arg(value_parser = ["all", "scan-pod", "rbac", "job", "cronjob", "profile", "thresholds", "network-policy", "audit-job", "audit-cronjob", "exporter"])]
        what: String,
        /// The scan spec, or the audit spec for audit-* (YAML); relative paths in it are taken
        /// from its directory. A directory (scan specs only): every `*.yaml`/`*.yml` spec in it,
        /// rendered in one run (with --output-dir, into `DIR/<spec name>/`).
        #[arg(long, short = 'f')]
        values: Option<PathBuf>,
        /// Override a spec value: a dotted path and a YAML scalar (`security.runAsUser=1000`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Override a spec value with a string, whatever it looks like.
        #[arg(long = "set-string", value_name = "KEY=VALUE")]
        set_string: Vec<String>,
        /// Write `<kind>.yaml` files into this directory instead of stdout (all or nothing;
        /// files of kinds this command no longer renders are removed).
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

// Rendering is allocation-bound: mimalloc renders a batch of specs markedly faster than glibc's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// A values file larger than this cannot be a spec: the resolved spec must fit into a 1 MiB
/// ConfigMap. Checked before parsing, so a huge file fails at once.
const VALUES_FILE_MAX: u64 = 2 * CONFIGMAP_LIMIT as u64;

/// Reads and parses one values file (the tree before `--set`).
fn read_values(path: &Path) -> Result<serde_json::Value, GenError> {
    let size = std::fs::metadata(path)
        .map_err(|e| GenError::io(path, e))?
        .len();
    if size > VALUES_FILE_MAX {
        return Err(GenError::Values {
            source_name: path.display().to_string(),
            message: format!(
                "{size} bytes: a spec must fit into a ConfigMap of {CONFIGMAP_LIMIT} bytes"
            ),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| GenError::io(path, e))?;
    values::parse_values(&text, &path.display().to_string())
}

/// The spec files of a batch directory, sorted.
fn batch_files(dir: &Path) -> Result<Vec<PathBuf>, GenError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| GenError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(GenError::Values {
            source_name: dir.display().to_string(),
            message: "no *.yaml or *.yml spec in this directory".into(),
        });
    }
    Ok(files)
}

/// Renders one spec: values file (or none), overrides, files it names.
fn render_one(
    generator: &Generator,
    cache: &mut InputCache,
    values_file: Option<&Path>,
    set: &[String],
    set_string: &[String],
    kube: KubeVersion,
    kind: Option<Kind>,
) -> Result<Vec<Rendered>, GenError> {
    let (tree, base_dir) = values_tree(values_file, set, set_string)?;
    let spec = values::spec_from_value(tree)?;
    sidescan_gen::generate_cached(generator, &spec, &base_dir, kube, kind, cache)
}

/// A spec's values (its file, or none, then the overrides) and the directory its relative paths
/// are taken from.
fn values_tree(
    values_file: Option<&Path>,
    set: &[String],
    set_string: &[String],
) -> Result<(serde_json::Value, PathBuf), GenError> {
    let (mut tree, base_dir) = match values_file {
        Some(path) => {
            let base = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (read_values(path)?, base)
        }
        None => (serde_json::json!({}), PathBuf::from(".")),
    };
    for arg in set {
        values::apply_set(&mut tree, arg, false)?;
    }
    for arg in set_string {
        values::apply_set(&mut tree, arg, true)?;
    }
    Ok((tree, base_dir))
}

fn render(
    what: &str,
    values_path: Option<&Path>,
    set: &[String],
    set_string: &[String],
    output_dir: Option<&Path>,
    kube_version: &str,
) -> Result<(), Failure> {
    let kube = KubeVersion::parse(kube_version).map_err(Failure::Input)?;
    if what == sidescan_gen::exporter::KIND {
        if let Some(dir) = values_path.filter(|p| p.is_dir()) {
            return Err(Failure::Input(GenError::Values {
                source_name: dir.display().to_string(),
                message: format!("{what} takes one spec file, not a directory"),
            }));
        }
        let (tree, _) = values_tree(values_path, set, set_string).map_err(Failure::Input)?;
        let generator = Generator::new().map_err(Failure::Input)?;
        let docs =
            sidescan_gen::exporter::generate(&generator, tree, kube).map_err(Failure::Input)?;
        let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
        return write_output(&stream, "exporter.yaml", output_dir);
    }
    if let Some(kind) = sidescan_gen::audit::AuditKind::parse(what) {
        if let Some(dir) = values_path.filter(|p| p.is_dir()) {
            return Err(Failure::Input(GenError::Values {
                source_name: dir.display().to_string(),
                message: format!("{what} takes one audit spec file, not a directory"),
            }));
        }
        let (tree, base_dir) = values_tree(values_path, set, set_string).map_err(Failure::Input)?;
        let spec = sidescan_core::audit::from_value(tree)
            .map_err(|e| Failure::Input(GenError::Spec(e)))?;
        let generator = Generator::new().map_err(Failure::Input)?;
        let docs = sidescan_gen::audit::generate(&generator, &spec, &base_dir, kube, kind)
            .map_err(Failure::Input)?;
        let stream: String = docs.iter().map(|d| format!("---\n{d}")).collect();
        return write_output(&stream, &format!("{}.yaml", kind.as_str()), output_dir);
    }
    let generator = Generator::new().map_err(Failure::Input)?;
    let kind = Kind::parse(what);
    let mut cache = InputCache::default();
    let owned: &[Kind] = match &kind {
        Some(k) => std::slice::from_ref(k),
        None => &Kind::JOB_PATH,
    };
    // Everything is rendered before anything is written.
    let mut outputs: Vec<(Option<String>, Vec<Rendered>)> = Vec::new();
    match values_path {
        Some(dir) if dir.is_dir() => {
            for file in batch_files(dir).map_err(Failure::Input)? {
                let rendered = render_one(
                    &generator,
                    &mut cache,
                    Some(&file),
                    set,
                    set_string,
                    kube,
                    kind,
                )
                .map_err(|e| {
                    Failure::Input(GenError::Values {
                        source_name: file.display().to_string(),
                        message: e.to_string(),
                    })
                })?;
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                outputs.push((Some(stem), rendered));
            }
        }
        file => {
            let rendered = render_one(&generator, &mut cache, file, set, set_string, kube, kind)
                .map_err(Failure::Input)?;
            outputs.push((None, rendered));
        }
    }
    match output_dir {
        None => {
            let mut stream = String::new();
            for (_, rendered) in &outputs {
                stream.push_str(&sidescan_gen::to_stream(rendered));
            }
            std::io::stdout()
                .write_all(stream.as_bytes())
                .context("writing to stdout")
                .map_err(Failure::Output)
        }
        Some(dir) => {
            for (name, rendered) in &outputs {
                let target = match name {
                    Some(stem) => dir.join(stem),
                    None => dir.to_path_buf(),
                };
                output::write_dir(&target, &sidescan_gen::to_files(rendered), owned).map_err(
                    |e| Failure::Output(anyhow::anyhow!("writing {}: {e}", target.display())),
                )?;
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
