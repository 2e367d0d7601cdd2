//! `sidescan-runner orchestrate`: the workflow inside the orchestration Job (in-cluster config).

use anyhow::Context as _;
use sidescan_core::spec::{SPEC_MOUNT_PATH, THRESHOLDS_KEY, THRESHOLDS_MOUNT_PATH};
use sidescan_runner::orchestrator::{self, Mode, OwnerJob, RunConfig};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct OrchestrateArgs {
    /// The scan spec the generator wrote into the spec ConfigMap.
    #[arg(long, env = "SIDESCAN_SPEC", default_value_t = format!("{SPEC_MOUNT_PATH}/scan-spec.yaml"))]
    spec: String,
    /// Object store URL (overrides results.storeUrl; the scanner uploads there too).
    #[arg(long, env = "SIDESCAN_STORE")]
    store: Option<String>,
    /// The threshold file (default: the thresholds ConfigMap mounted at
    /// /etc/sidescan/thresholds/threshold.yml when the spec names one).
    #[arg(long, env = "SIDESCAN_THRESHOLDS")]
    thresholds: Option<PathBuf>,
    /// The Job that owns the scan pod (downward API: the `job-name` label).
    #[arg(long, env = "JOB_NAME")]
    job_name: Option<String>,
    /// The owning Job's UID (downward API: the `controller-uid` label).
    #[arg(long, env = "JOB_UID")]
    job_uid: Option<String>,
    /// The orchestrator's own pod (downward API), named in the Events it records.
    #[arg(long, env = "POD_NAME")]
    pod_name: Option<String>,
    /// The namespace the Job runs in (downward API); the scan pod goes there.
    #[arg(long, env = "POD_NAMESPACE")]
    pod_namespace: Option<String>,
    #[command(flatten)]
    gate: super::GateArgs,
}

/// Reads the spec and builds the run; a bad spec is an error naming the file and key.
pub fn config(args: OrchestrateArgs) -> Result<RunConfig, String> {
    let path = PathBuf::from(&args.spec);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", args.spec))?;
    let mut tree = sidescan_gen::values::parse_values(&text, &args.spec)
        .map_err(|e| prefix_file(&args.spec, &e.to_string()))?;
    if let Some(store) = &args.store {
        tree["results"]["storeUrl"] = serde_json::Value::String(store.clone());
    }
    if let Some(ns) = args.pod_namespace.as_ref().filter(|ns| !ns.is_empty()) {
        tree["namespace"] = serde_json::Value::String(ns.clone());
    }
    let spec = sidescan_gen::values::spec_from_value(tree)
        .map_err(|e| prefix_file(&args.spec, &e.to_string()))?;
    let thresholds = args.thresholds.or_else(|| {
        spec.thresholds
            .is_some()
            .then(|| PathBuf::from(THRESHOLDS_MOUNT_PATH).join(THRESHOLDS_KEY))
    });
    let owner = match (args.job_name, args.job_uid) {
        (Some(name), Some(uid)) if !name.is_empty() && !uid.is_empty() => {
            Some(OwnerJob { name, uid })
        }
        _ => {
            tracing::warn!(
                "JOB_NAME/JOB_UID not set: the scan pod has no owner Job (it still stops at its \
                 deadline)"
            );
            None
        }
    };
    let (baseline, gate) = args.gate.resolve();
    Ok(RunConfig {
        mode: Mode::InCluster {
            owner,
            own_pod: args.pod_name,
        },
        pod_name: sidescan_core::spec::scan_pod_name(&spec.target.name),
        base_dir: path.parent().map(PathBuf::from).unwrap_or_default(),
        spec,
        archive: None,
        thresholds,
        local_results: None,
        progress: false,
        baseline,
        gate,
    })
}

fn prefix_file(file: &str, message: &str) -> String {
    if message.starts_with(file) {
        message.to_string()
    } else {
        format!("{file}: {message}")
    }
}

/// Runs and prints the closing summary; the exit status is the verdict.
pub async fn run(config: RunConfig) -> anyhow::Result<sidescan_core::ExitStatus> {
    let report = orchestrator::run(config).await;
    crate::cli::log::flush();
    let failure = orchestrator::report::failure_message(&report);
    if report.phases.is_empty() {
        // Nothing was deployed (bad input, cluster or store unreachable): one line.
        eprintln!(
            "sidescan-runner: {}",
            report.error.as_deref().unwrap_or("failed")
        );
        crate::cli::log::annotate_failure(failure);
        return Ok(report.status);
    }
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(orchestrator::report::summary(&report).as_bytes())
            .context("writing the summary")?;
        out.flush().context("writing the summary")?;
    }
    crate::cli::log::annotate_failure(failure);
    Ok(report.status)
}
