//! `sidescan-runner scan`: the workflow from outside the cluster (the current kubeconfig), with
//! the reference script's interface: namespace, scan pod name, profile, threshold file.

use serde_json::Value;
use sidescan_core::ExitStatus;
use sidescan_gen::values;
use sidescan_runner::orchestrator::report::{self, RunReport};
use sidescan_runner::orchestrator::{self, Mode, RunConfig};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Namespace of the scan pod (and of every object the run creates).
    #[arg(long)]
    namespace: Option<String>,
    /// The scan pod's name (default: sidescan-scan-<target.name>); also target.name when the
    /// spec has none.
    #[arg(long)]
    pod_name: Option<String>,
    /// The profile: a profile directory or archive (CINC Auditor), or `builtin` for the native
    /// baseline. Default: the spec's.
    #[arg(long)]
    profile: Option<String>,
    /// SAF threshold file: the verdict (default: the spec's thresholds.file, else none).
    #[arg(long)]
    threshold: Option<PathBuf>,
    /// The target's image (target.image).
    #[arg(long)]
    image: Option<String>,
    /// Scan spec (YAML), as `sidescan-gen` takes it; relative paths in it are taken from its
    /// directory.
    #[arg(long, short = 'f')]
    values: Option<PathBuf>,
    /// Override a spec value: `--set security.runAsUser=1000`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Override a spec value with a string.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    set_string: Vec<String>,
    /// Object store URL for the results (results.storeUrl).
    #[arg(long, env = "SIDESCAN_STORE")]
    store: Option<String>,
    /// Without a store, the results go to this local directory.
    #[arg(long, default_value = "sidescan-results")]
    results_dir: PathBuf,
    /// No progress lines, only the closing summary.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// After the run, also a failed one, write the machine-readable run report here (one JSON
    /// object: verdict, exit code, compliance, counts, results URL, run id, error, phases),
    /// atomically.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    #[command(flatten)]
    gate: super::GateArgs,
}

impl ScanArgs {
    /// `--quiet`: no phase lines.
    pub fn quiet(&self) -> bool {
        self.quiet
    }
}

/// The run, and where its JSON report goes.
pub struct ScanConfig {
    run: RunConfig,
    report_json: Option<PathBuf>,
}

fn set(tree: &mut Value, path: &[&str], value: Value) {
    let mut node = tree;
    for key in &path[..path.len() - 1] {
        if !node[*key].is_object() {
            node[*key] = Value::Object(Default::default());
        }
        node = &mut node[*key];
    }
    node[path[path.len() - 1]] = value;
}

/// Replaces where the profile comes from (`--profile`), keeping the spec's input and waiver files.
fn set_profile_source(tree: &mut Value, source: Option<(&str, Value)>) {
    let mut profile = match tree["profile"].take() {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for key in ["dir", "url", "sha256", "configMap"] {
        profile.remove(key);
    }
    if let Some((key, value)) = source {
        profile.insert(key.to_string(), value);
    }
    tree["profile"] = if profile.is_empty() {
        Value::Null
    } else {
        Value::Object(profile)
    };
}

/// Builds the run from the arguments; every bad input is one line naming what is wrong (and,
/// with `--report-json`, a `bad-input` report).
pub fn config(mut args: ScanArgs) -> Result<ScanConfig, String> {
    let report_json = args.report_json.take();
    match run_config(args) {
        Ok(run) => Ok(ScanConfig { run, report_json }),
        Err(message) => {
            if let Some(path) = &report_json {
                let report = RunReport {
                    status: ExitStatus::BadInput,
                    error: Some(message.clone()),
                    ..RunReport::default()
                };
                if let Err(e) = write_report(path, &report) {
                    return Err(format!("{message}; {e}"));
                }
            }
            Err(message)
        }
    }
}

fn run_config(args: ScanArgs) -> Result<RunConfig, String> {
    let (mut tree, base_dir) = match &args.values {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let tree = values::parse_values(&text, &path.display().to_string())
                .map_err(|e| e.to_string())?;
            let base = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            (tree, base)
        }
        None => (Value::Object(Default::default()), PathBuf::from(".")),
    };
    for arg in &args.set {
        values::apply_set(&mut tree, arg, false).map_err(|e| e.to_string())?;
    }
    for arg in &args.set_string {
        values::apply_set(&mut tree, arg, true).map_err(|e| e.to_string())?;
    }
    if let Some(ns) = &args.namespace {
        set(&mut tree, &["namespace"], Value::String(ns.clone()));
    }
    if let Some(image) = &args.image {
        set(
            &mut tree,
            &["target", "image"],
            Value::String(image.clone()),
        );
    }
    if let Some(name) = &args.pod_name {
        sidescan_core::names::check_dns_label("--pod-name", name).map_err(|e| e.to_string())?;
        if tree["target"]["name"].is_null() {
            set(&mut tree, &["target", "name"], Value::String(name.clone()));
        }
    }
    if let Some(store) = &args.store {
        set(
            &mut tree,
            &["results", "storeUrl"],
            Value::String(store.clone()),
        );
    }
    let mut archive = None;
    match args.profile.as_deref() {
        None => {}
        Some("builtin") => {
            set(
                &mut tree,
                &["scanner", "backend"],
                Value::String("builtin".into()),
            );
            set_profile_source(&mut tree, None);
        }
        Some(path) => {
            let meta = std::fs::metadata(path).map_err(|e| format!("--profile {path}: {e}"))?;
            let absolute =
                std::path::absolute(path).map_err(|e| format!("--profile {path}: {e}"))?;
            set(
                &mut tree,
                &["scanner", "backend"],
                Value::String("cinc".into()),
            );
            if meta.is_dir() {
                set_profile_source(
                    &mut tree,
                    Some(("dir", Value::String(absolute.display().to_string()))),
                );
            } else {
                // The archive ships in the run's ConfigMap; the plan names it.
                let name = absolute
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                set_profile_source(
                    &mut tree,
                    Some((
                        "configMap",
                        serde_json::json!({"name": "sidescan-profile-archive", "files": [name]}),
                    )),
                );
                archive = Some(absolute);
            }
        }
    }
    // `--set profile=null` style removals: a null left in the tree means "default".
    if tree["profile"].is_null()
        && let Some(map) = tree.as_object_mut()
    {
        map.remove("profile");
    }
    let spec = values::spec_from_value(tree).map_err(|e| match &args.values {
        Some(path) => format!("{}: {e}", path.display()),
        None => e.to_string(),
    })?;
    let thresholds = match (&args.threshold, &spec.thresholds) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(t)) => match (&t.file, &t.config_map) {
            (Some(file), _) => Some(base_dir.join(file)),
            (None, Some(name)) => {
                return Err(format!(
                    "thresholds.configMap {name}: read by in-cluster runs only; give --threshold FILE"
                ));
            }
            (None, None) => None,
        },
        (None, None) => None,
    };
    let pod_name = args
        .pod_name
        .clone()
        .unwrap_or_else(|| sidescan_core::spec::scan_pod_name(&spec.target.name));
    let (baseline, gate) = args.gate.resolve();
    Ok(RunConfig {
        mode: Mode::Local,
        spec,
        base_dir,
        pod_name,
        archive,
        thresholds,
        local_results: Some(args.results_dir),
        // The phase lines come from the phase events (see `cli::log`), not from the run.
        progress: false,
        baseline,
        gate,
    })
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, flushed to disk, renamed
/// over it. A reader sees the old file or the whole new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The run report as JSON (`--report-json`), written atomically.
fn write_report(path: &Path, report: &RunReport) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(&report::json(report))
        .map_err(|e| format!("--report-json {}: {e}", path.display()))?;
    text.push('\n');
    write_atomically(path, text.as_bytes())
        .map_err(|e| format!("--report-json {}: cannot write: {e}", path.display()))
}

/// Runs, printing one line per phase (unless quiet) and the closing summary, as `orchestrate`
/// does, then writes the JSON report; the exit status is the verdict (3 when the report asked
/// for could not be written).
pub async fn run(config: ScanConfig) -> anyhow::Result<ExitStatus> {
    let report = orchestrator::run(config.run).await;
    crate::cli::log::flush();
    if report.phases.is_empty() {
        // Nothing was deployed (bad input, cluster or store unreachable): one line.
        eprintln!(
            "sidescan-runner: {}",
            report.error.as_deref().unwrap_or("failed")
        );
    } else {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        // A closed stdout (the CI job's log went away) must not keep the report from being
        // written.
        let _ = out.write_all(report::summary(&report).as_bytes());
        let _ = out.flush();
    }
    let status = match &config.report_json {
        Some(path) => match write_report(path, &report) {
            Ok(()) => report.status,
            Err(e) => {
                eprintln!("sidescan-runner: {e}");
                report.status.worst(ExitStatus::Infrastructure)
            }
        },
        None => report.status,
    };
    crate::cli::log::annotate_failure(report::failure_message(&report));
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_profile_flag_replaces_the_source_and_keeps_input_and_waiver_files() {
        let mut tree = json!({"profile": {"url": "s3://b/p.tar.gz", "sha256": "x",
            "waiverFiles": ["w.yml"], "inputFiles": ["i.yml"]}});
        set_profile_source(&mut tree, Some(("dir", json!("/p"))));
        assert_eq!(
            tree["profile"],
            json!({"dir": "/p", "waiverFiles": ["w.yml"], "inputFiles": ["i.yml"]})
        );
        set_profile_source(&mut tree, None);
        assert_eq!(
            tree["profile"],
            json!({"waiverFiles": ["w.yml"], "inputFiles": ["i.yml"]})
        );
        let mut bare = json!({"profile": {"dir": "/p"}});
        set_profile_source(&mut bare, None);
        assert!(bare["profile"].is_null());
    }

    #[test]
    fn the_report_file_is_replaced_whole_and_no_temporary_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"{\"verdict\":\"passed\"}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"verdict\":\"passed\"}");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.json"]);
        // A folder that does not exist: an error, and nothing written anywhere.
        let missing = dir.path().join("no/such/report.json");
        assert!(write_atomically(&missing, b"x").is_err());
    }

    fn args(extra: &[&str]) -> ScanArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            scan: ScanArgs,
        }
        let mut argv = vec!["scan"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().scan
    }

    #[test]
    fn bad_input_writes_a_bad_input_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let report = path.display().to_string();
        let err = config(args(&[
            "--pod-name",
            "Not_A_Label",
            "--report-json",
            &report,
        ]))
        .err()
        .expect("a bad pod name is bad input");
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["verdict"], "bad-input");
        assert_eq!(doc["exit_code"], 2);
        assert_eq!(doc["error"], err.as_str());
        assert!(err.contains("--pod-name"), "{err}");
    }
}
