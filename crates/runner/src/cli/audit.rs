//! `sidescan-runner audit`: a batch audit, from a laptop (current kubeconfig) or in its Job.

use sidescan_core::ExitStatus;
use sidescan_core::audit::AuditId;
use sidescan_core::history::{BaselineRequest, Gate};
use sidescan_runner::audit::history::HistoryConfig;
use sidescan_runner::audit::run::{AuditConfig, JobIdentity};
use sidescan_runner::audit::{input, run};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct AuditArgs {
    /// The audit spec (YAML; `sidescan-gen values --audit` prints the defaults).
    #[arg(long)]
    spec: PathBuf,
    /// Continue this audit: skip the targets whose results are stored, scan the rest.
    #[arg(long, value_name = "AUDIT_ID")]
    resume: Option<String>,
    /// No target at all is an error (exit 2) instead of a warning and an empty report.
    #[arg(long)]
    require_targets: bool,
    /// In the audit Job: the audit id and owner references come from the Job (downward API).
    #[arg(long)]
    in_job: bool,
    #[arg(long, env = "SIDESCAN_AUDIT_JOB_NAME", hide = true)]
    job_name: Option<String>,
    #[arg(long, env = "SIDESCAN_AUDIT_JOB_UID", hide = true)]
    job_uid: Option<String>,
    /// Where the audit files go when the store stays unreachable at the end.
    #[arg(long, default_value = "/tmp/sidescan-audits")]
    fallback_dir: PathBuf,
    /// What each target is compared with (the delta goes into audit.json and the reports):
    /// `latest` (its previous run, from the results layout), an earlier audit (its id, or its
    /// audit.json key or URL), or `none`.
    #[arg(long, value_name = "latest|AUDIT|none", default_value = "latest")]
    baseline: String,
    /// Exit 1 only when something newly fails compared with the baselines (3 still when a
    /// target was not scanned); a target without an earlier result: every failure is new.
    #[arg(long)]
    fail_on_new: bool,
    /// Audits in each target's compliance trend, this one included (0: no trend).
    #[arg(long, value_name = "N", default_value_t = sidescan_runner::audit::history::DEFAULT_TREND as u16,
          value_parser = clap::value_parser!(u16).range(0..=100))]
    trend: u16,
}

fn bad(message: String) -> ExitStatus {
    eprintln!("sidescan-runner audit: {message}");
    ExitStatus::BadInput
}

/// Runs the audit; in GitHub Actions a status other than passed is also an `::error::`
/// annotation (the audit's own lines say which targets).
pub async fn run(args: AuditArgs) -> ExitStatus {
    let status = audit(args).await;
    crate::cli::log::annotate_failure(match status {
        ExitStatus::Passed => None,
        ExitStatus::ThresholdsNotMet => Some("audit: thresholds not met (exit code 1)".into()),
        ExitStatus::BadInput => Some("audit: bad input (exit code 2)".into()),
        ExitStatus::Infrastructure => {
            Some("audit: not every target could be scanned (exit code 3)".into())
        }
    });
    status
}

async fn audit(args: AuditArgs) -> ExitStatus {
    let spec = match input::read_spec(&args.spec) {
        Ok(spec) => spec,
        Err(e) => return bad(e.to_string()),
    };
    let dir = args
        .spec
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let thresholds = match input::thresholds_path(&spec, &dir, args.in_job) {
        Some(path) => match input::read_thresholds(&path) {
            Ok(t) => Some(t),
            Err(e) => return bad(e.to_string()),
        },
        None if spec.thresholds.is_some() => {
            return bad(
                "thresholds.configMap: from a laptop, give the threshold file (thresholds.file)"
                    .into(),
            );
        }
        None => None,
    };
    let resume = match args.resume.as_deref().map(AuditId::parse).transpose() {
        Ok(id) => id,
        Err(e) => return bad(format!("--resume: {e}")),
    };
    let job = match (args.in_job, args.job_name, args.job_uid) {
        (false, _, _) => None,
        (true, Some(name), Some(uid)) if !name.is_empty() && !uid.is_empty() => {
            Some(JobIdentity { name, uid })
        }
        (true, _, _) => {
            return bad(
                "--in-job needs SIDESCAN_AUDIT_JOB_NAME and SIDESCAN_AUDIT_JOB_UID (the Job's \
                 job-name and controller-uid labels)"
                    .into(),
            );
        }
    };
    // A profile directory is taken from the spec's folder.
    let mut spec = spec;
    if let Some(profile) = spec.profile.as_mut()
        && let Some(d) = profile.dir.as_mut()
    {
        *d = dir.join(&*d).display().to_string();
    }
    let baseline = BaselineRequest::parse(&args.baseline);
    if args.fail_on_new && baseline.is_none() {
        return bad("--fail-on-new needs a baseline (latest or an earlier audit), not none".into());
    }
    let history = HistoryConfig {
        baseline,
        gate: if args.fail_on_new {
            Gate::NewFailures
        } else {
            Gate::Thresholds
        },
        trend: usize::from(args.trend),
        ..HistoryConfig::default()
    };
    run::run(AuditConfig {
        spec,
        thresholds,
        resume,
        job,
        require_targets: args.require_targets,
        fallback_dir: args.fallback_dir,
        progress_bar: std::io::stderr().is_terminal(),
        history,
    })
    .await
}
