//! `sidescan-eval`: validate HDF results against SAF thresholds, generate thresholds, summarize.
//!
//! Exit codes: 0 pass, 1 thresholds not met, 2 bad input or usage, 3 storage unreachable.
//! Every error is one line on stderr naming the file, key or object at fault.

mod input;
mod store_list;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sidescan_core::ExitStatus;
use sidescan_eval::generate::{GenerateOptions, generate};
use sidescan_eval::{
    audit, codequality, diff, hdf, html, metadata, report, sarif, summary, threshold, validate,
};

use crate::input::{Failure, read_input};

#[derive(Parser)]
#[command(
    name = "sidescan-eval",
    version,
    about = "SAF-compatible evaluation of HDF (InSpec / CINC Auditor) results",
    long_about = "SAF-compatible evaluation of HDF (InSpec / CINC Auditor) results.\n\n\
        Inputs are a path, `-` for stdin, or an object-store URL (file://, s3://bucket/key; \
        credentials and endpoint from the usual AWS_* variables, e.g. AWS_ENDPOINT_URL, \
        AWS_ALLOW_HTTP).\n\nExit codes: 0 pass, 1 thresholds not met, 2 bad input or usage, \
        3 storage unreachable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check results against a threshold file (like `saf validate threshold`).
    Validate {
        /// HDF results: path, `-` (stdin) or URL (file://, s3://bucket/key).
        #[arg(long, short = 'i')]
        input: String,
        /// Threshold file (YAML or JSON, nested or flattened): path, `-` or URL.
        #[arg(
            long,
            short = 'T',
            required_unless_present = "inline",
            conflicts_with = "inline"
        )]
        threshold: Option<String>,
        /// Inline thresholds: "{compliance.min: 80}, {failed.critical.max: 0}".
        #[arg(long, short = 'I')]
        inline: Option<String>,
        #[arg(long, value_enum, default_value_t = VerdictFormat::Text)]
        format: VerdictFormat,
        /// Unknown threshold keys are errors (exit 2) instead of warnings.
        #[arg(long)]
        strict: bool,
    },
    /// Write thresholds the results just meet (like `saf generate threshold`).
    Generate {
        #[arg(long, short = 'i')]
        input: String,
        /// Counts must match exactly (min and max).
        #[arg(long, short = 'e')]
        exact: bool,
        /// Also list the control ids expected per status and severity.
        #[arg(long, short = 'c')]
        control_ids: bool,
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// A self-contained HTML page (or Markdown, JUnit) of one result or of whole audits.
    Report {
        /// One HDF result: path, `-` or URL.
        #[arg(
            long,
            short = 'i',
            required_unless_present = "audit",
            conflicts_with = "audit"
        )]
        input: Option<String>,
        /// An audit's audit.json (path or URL; repeat to combine audits, e.g. of several
        /// clusters, into one page). Failed controls come from the progress records beside it.
        #[arg(long, short = 'a')]
        audit: Vec<String>,
        /// With --input: thresholds that decide the verdict (without: every result passes).
        #[arg(long, short = 'T', conflicts_with = "audit")]
        threshold: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
        format: ReportFormat,
        /// With --input and --format sarif: the scan's metadata.json (path or URL), for the
        /// image, digest and run id, and a code-scanning category per target.
        #[arg(long, short = 'm', conflicts_with = "audit")]
        metadata: Option<String>,
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// Counts per status and severity, compliance and failed controls.
    Summary {
        #[arg(long, short = 'i')]
        input: String,
        #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
        format: SummaryFormat,
        /// With --format sarif: the scan's metadata.json (path or URL), for the image, digest
        /// and run id, and a code-scanning category per target.
        #[arg(long, short = 'm')]
        metadata: Option<String>,
    },
    /// What changed between two results of a target: newly failed, fixed, newly errored, new and
    /// removed controls, and added and removed failing findings.
    Diff {
        /// The earlier result: path, URL, or `latest` (the previous run of the same target in
        /// the store; --input must then be the URL of a run's hdf.json).
        #[arg(long, short = 'b')]
        base: String,
        /// The later result: path, `-` or URL.
        #[arg(long, short = 'i')]
        input: String,
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
        /// Exit 1 when anything newly fails (a newly failed or new failing control, or a new
        /// failing finding of a control that already failed).
        #[arg(long)]
        fail_on_new: bool,
        /// Write here instead of stdout.
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum VerdictFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Html,
    Markdown,
    Junit,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// GitLab Code Quality JSON.
    Codequality,
}

#[derive(Clone, Copy, ValueEnum)]
enum SummaryFormat {
    Text,
    Json,
    Markdown,
    Junit,
    /// SARIF 2.1.0 (GitHub code scanning).
    Sarif,
    /// GitLab Code Quality JSON.
    Codequality,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line, like every other error: clap's message without the usage block.
            let rendered = e.render().to_string();
            let message: Vec<&str> = rendered
                .lines()
                .map(str::trim)
                .take_while(|l| !l.starts_with("Usage:"))
                .filter(|l| !l.is_empty() && !l.starts_with("tip:") && !l.starts_with("For more"))
                .collect();
            eprintln!(
                "sidescan-eval: {} (see sidescan-eval --help)",
                message.join(" ").trim_start_matches("error: ")
            );
            return ExitStatus::BadInput.into();
        }
        Err(e) => {
            let _ = e.print();
            return ExitStatus::Passed.into();
        }
    };
    match run(cli) {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("sidescan-eval: {}", failure.message);
            failure.status.into()
        }
    }
}

fn bad(e: impl std::fmt::Display) -> Failure {
    Failure {
        status: ExitStatus::BadInput,
        message: e.to_string(),
    }
}

fn load_hdf(input: &str) -> Result<hdf::Hdf, Failure> {
    let bytes = read_input(input)?;
    hdf::parse_named(&bytes, input).map_err(bad)
}

fn run(cli: Cli) -> Result<ExitStatus, Failure> {
    match cli.command {
        Command::Validate {
            input,
            threshold,
            inline,
            format,
            strict,
        } => validate_command(
            &input,
            threshold.as_deref(),
            inline.as_deref(),
            format,
            strict,
        ),
        Command::Generate {
            input,
            exact,
            control_ids,
            output,
        } => generate_command(
            &input,
            GenerateOptions { exact, control_ids },
            output.as_deref(),
        ),
        Command::Report {
            input,
            audit: audits,
            threshold,
            format,
            metadata,
            output,
        } => report_command(
            input.as_deref(),
            &audits,
            threshold.as_deref(),
            format,
            metadata.as_deref(),
            output.as_deref(),
        ),
        Command::Summary {
            input,
            format,
            metadata,
        } => summary_command(&input, format, metadata.as_deref()),
        Command::Diff {
            base,
            input,
            format,
            fail_on_new,
            output,
        } => diff_command(base, &input, format, fail_on_new, output.as_deref()),
    }
}

/// `validate`: thresholds first (a broken threshold file is reported without reading results),
/// then the results, then the verdict in the format asked for.
fn validate_command(
    input: &str,
    threshold: Option<&str>,
    inline: Option<&str>,
    format: VerdictFormat,
    strict: bool,
) -> Result<ExitStatus, Failure> {
    if input == "-" && threshold == Some("-") {
        return Err(bad("--input and --threshold cannot both be - (stdin)"));
    }
    let thresholds = match (threshold, inline) {
        (Some(path), _) => load_threshold(path)?,
        (None, Some(text)) => threshold::parse_inline(text).map_err(bad)?,
        (None, None) => return Err(bad("give --threshold FILE or --inline STR")),
    };
    if strict && let Some(message) = strict_error(&thresholds) {
        return Err(bad(message));
    }
    let hdf = load_hdf(input)?;
    let summary = summary::summarize(&hdf);
    let verdict = validate::validate(&summary, &thresholds);
    match format {
        VerdictFormat::Text => {
            let (out, err) = report::validation_text(&verdict);
            print!("{out}");
            eprint!("{err}");
            for key in &verdict.unknown_keys {
                eprintln!(
                    "warning: {}: {key}: unknown threshold key, not checked",
                    thresholds.origin
                );
            }
        }
        VerdictFormat::Json => {
            let doc = serde_json::json!({
                "input": input,
                "thresholds": thresholds.origin,
                "passed": verdict.passed,
                "compliance": verdict.compliance,
                "checked": verdict.checked,
                "violations": verdict.violations,
                "unknown_keys": verdict.unknown_keys,
                "summary": summary,
            });
            write_stdout(&format!("{doc:#}\n"))?;
        }
    }
    Ok(if verdict.passed() {
        ExitStatus::Passed
    } else {
        ExitStatus::ThresholdsNotMet
    })
}

/// With `--strict`, the first unknown threshold key (and how many more there are) is an error.
fn strict_error(thresholds: &threshold::Threshold) -> Option<String> {
    let key = thresholds.unknown_keys.first()?;
    Some(format!(
        "{}: {key}: unknown threshold key (--strict){}",
        thresholds.origin,
        match thresholds.unknown_keys.len() {
            1 => String::new(),
            n => format!(", and {} more", n - 1),
        }
    ))
}

/// `generate`: the thresholds the results just meet.
fn generate_command(
    input: &str,
    options: GenerateOptions,
    output: Option<&std::path::Path>,
) -> Result<ExitStatus, Failure> {
    let hdf = load_hdf(input)?;
    let yaml = generate(&summary::summarize(&hdf), options);
    write_output(output, &yaml)?;
    Ok(ExitStatus::Passed)
}

/// `report`: one result's page, or the page of one or more audits.
fn report_command(
    input: Option<&str>,
    audits: &[String],
    threshold: Option<&str>,
    format: ReportFormat,
    metadata: Option<&str>,
    output: Option<&std::path::Path>,
) -> Result<ExitStatus, Failure> {
    let text = match input {
        Some(input) => result_report(input, threshold, metadata, format)?,
        None => audit_report(audits, format)?,
    };
    write_output(output, &text)?;
    Ok(ExitStatus::Passed)
}

/// `summary`: counts, compliance and failed controls, in the format asked for.
fn summary_command(
    input: &str,
    format: SummaryFormat,
    metadata: Option<&str>,
) -> Result<ExitStatus, Failure> {
    let meta = load_metadata(metadata, matches!(format, SummaryFormat::Sarif))?;
    let hdf = load_hdf(input)?;
    let s = summary::summarize(&hdf);
    let text = match format {
        SummaryFormat::Text => report::summary_text(&s),
        SummaryFormat::Json => format!("{:#}\n", serde_json::to_value(&s).map_err(bad)?),
        SummaryFormat::Markdown => report::summary_markdown(&s),
        SummaryFormat::Junit => report::junit(&hdf),
        SummaryFormat::Sarif => sarif::sarif(&hdf, &meta),
        SummaryFormat::Codequality => codequality::codequality(&hdf),
    };
    write_stdout(&text)?;
    Ok(ExitStatus::Passed)
}

/// `diff`: what changed between two results; with `--fail-on-new`, exit 1 on anything newly
/// failing.
fn diff_command(
    base: String,
    input: &str,
    format: DiffFormat,
    fail_on_new: bool,
    output: Option<&std::path::Path>,
) -> Result<ExitStatus, Failure> {
    if base == "-" && input == "-" {
        return Err(bad("--base and --input cannot both be - (stdin)"));
    }
    let base = if base == "latest" {
        let latest = store_list::latest_before(input)?;
        eprintln!("sidescan-eval: --base latest: {}", latest_note(&latest));
        latest.url
    } else {
        base
    };
    let old = load_hdf(&base)?;
    let new = load_hdf(input)?;
    let d = diff::diff(&old, &new);
    let text = match format {
        DiffFormat::Text => diff::text(&d, &base, input),
        DiffFormat::Json => diff::json(&d, &base, input),
        DiffFormat::Markdown => diff::markdown(&d, &base, input),
    };
    write_output(output, &text)?;
    Ok(if fail_on_new && d.has_new_failures() {
        ExitStatus::ThresholdsNotMet
    } else {
        ExitStatus::Passed
    })
}

/// Which run `--base latest` found and what finding it cost.
fn latest_note(latest: &store_list::Latest) -> String {
    let f = &latest.found;
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{} ({} search: {} entries listed, {} list request{}, {} hdf.json probe{})",
        latest.url,
        f.search,
        f.listed,
        f.list_requests,
        plural(f.list_requests),
        f.probes,
        plural(f.probes),
    )
}

/// Writes `text` to `output`, or to stdout without one.
fn write_output(output: Option<&std::path::Path>, text: &str) -> Result<(), Failure> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| bad(format!("{}: cannot write: {e}", path.display()))),
        None => write_stdout(text),
    }
}

/// The scan's metadata.json when given and used (SARIF); an unused one is not read.
fn load_metadata(path: Option<&str>, used: bool) -> Result<metadata::ScanMetadata, Failure> {
    match path {
        Some(path) if used => {
            let bytes = read_input(path)?;
            metadata::parse_metadata(&bytes, path).map_err(bad)
        }
        _ => Ok(metadata::ScanMetadata::default()),
    }
}

fn load_threshold(path: &str) -> Result<threshold::Threshold, Failure> {
    let bytes = read_input(path)?;
    let text = String::from_utf8(bytes).map_err(|_| bad(format!("{path}: not UTF-8 text")))?;
    threshold::parse_threshold(&text, path).map_err(bad)
}

fn result_report(
    input: &str,
    threshold: Option<&str>,
    metadata: Option<&str>,
    format: ReportFormat,
) -> Result<String, Failure> {
    let thresholds = threshold.map(load_threshold).transpose()?;
    let meta = load_metadata(metadata, matches!(format, ReportFormat::Sarif))?;
    let hdf = load_hdf(input)?;
    let s = summary::summarize(&hdf);
    let verdict = thresholds.as_ref().map(|t| validate::validate(&s, t));
    Ok(match format {
        ReportFormat::Html => html::single(&hdf, &s, verdict.as_ref(), input, threshold),
        ReportFormat::Markdown => report::summary_markdown(&s),
        ReportFormat::Junit => report::junit(&hdf),
        ReportFormat::Sarif => sarif::sarif(&hdf, &meta),
        ReportFormat::Codequality => codequality::codequality(&hdf),
    })
}

const ONE_RESULT_ONLY: &str =
    "--format sarif and codequality report one result: give --input, not --audit";

/// One page of one or more audits (targets of several audits are named `<cluster>/<namespace>`).
fn audit_report(urls: &[String], format: ReportFormat) -> Result<String, Failure> {
    use sidescan_core::audit::record::{AuditRecord, ProgressRecord, Totals, Verdict};
    use std::collections::BTreeMap;
    if matches!(format, ReportFormat::Sarif | ReportFormat::Codequality) {
        return Err(bad(ONE_RESULT_ONLY));
    }
    let mut records = Vec::new();
    for url in urls {
        let bytes = read_input(url)?;
        let record: AuditRecord = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("{url}: not an audit.json: {e}")))?;
        records.push((url.clone(), record));
    }
    let several = records.len() > 1;
    let mut failed = BTreeMap::new();
    let mut omitted = BTreeMap::new();
    let mut merged: Option<AuditRecord> = None;
    for (url, mut record) in records {
        let label = record
            .cluster
            .clone()
            .unwrap_or_else(|| record.audit_id.clone());
        let dir = url.strip_suffix("audit.json").unwrap_or(&url).to_string();
        for target in &mut record.targets {
            if matches!(format, ReportFormat::Html) && target.verdict == Verdict::Failed {
                // The failed controls: from the target's progress record, when it is there.
                let progress = format!("{dir}targets/{}.json", target.id);
                if let Ok(bytes) = read_input(&progress)
                    && let Ok(p) = serde_json::from_slice::<ProgressRecord>(&bytes)
                {
                    let id = if several {
                        format!("{label}:{}", target.id)
                    } else {
                        target.id.clone()
                    };
                    failed.insert(id.clone(), p.failed_controls);
                    omitted.insert(id, p.failed_controls_omitted);
                }
            }
            if several {
                target.id = format!("{label}:{}", target.id);
                target.namespace = format!("{label}/{}", target.namespace);
            }
        }
        merged = Some(match merged {
            None => record,
            Some(mut all) => {
                all.audit_id = format!("{} + {}", all.audit_id, record.audit_id);
                all.cluster = match (all.cluster, record.cluster) {
                    (Some(a), Some(b)) => Some(format!("{a}, {b}")),
                    (a, b) => a.or(b),
                };
                all.started = all.started.min(record.started);
                all.finished = all.finished.max(record.finished);
                if all.store != record.store {
                    all.store = format!("{}, {}", all.store, record.store);
                }
                all.warnings.extend(record.warnings);
                all.targets.extend(record.targets);
                all.totals = Totals::of(&all.targets);
                all.exit_code = all.exit_code.max(record.exit_code);
                all
            }
        });
    }
    let Some(audit) = merged else {
        return Err(bad("give --input HDF or --audit AUDIT_JSON"));
    };
    Ok(match format {
        ReportFormat::Html => html::fleet(&audit, &failed, &omitted),
        ReportFormat::Markdown => audit::summary_markdown(&audit),
        ReportFormat::Junit => audit::junit(&audit),
        ReportFormat::Sarif | ReportFormat::Codequality => return Err(bad(ONE_RESULT_ONLY)),
    })
}

fn write_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(bad(format!("stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_names_the_first_unknown_key_and_counts_the_rest() {
        let text = "compliance:\n  min: 80\nfailed:\n  critcal:\n    max: 0\npased:\n  total:\n    min: 1\n";
        let t = threshold::parse_threshold(text, "t.yml").unwrap();
        assert_eq!(t.unknown_keys.len(), 2, "{:?}", t.unknown_keys);
        assert_eq!(
            strict_error(&t).unwrap(),
            format!(
                "t.yml: {}: unknown threshold key (--strict), and 1 more",
                t.unknown_keys[0]
            )
        );
        let known = threshold::parse_threshold("compliance:\n  min: 80\n", "t.yml").unwrap();
        assert_eq!(strict_error(&known), None);
    }

    #[test]
    fn the_latest_note_says_what_the_search_cost() {
        let latest = store_list::Latest {
            url: "s3://b/p/ns/web/20261124T030000Z-aaaaaa/hdf.json".into(),
            found: sidescan_store::LatestRun {
                key: Some("p/ns/web/20261124T030000Z-aaaaaa/hdf.json".into()),
                listed: 7,
                list_requests: 1,
                probes: 2,
                search: "window",
            },
        };
        assert_eq!(
            latest_note(&latest),
            "s3://b/p/ns/web/20261124T030000Z-aaaaaa/hdf.json (window search: 7 entries listed, \
             1 list request, 2 hdf.json probes)"
        );
    }
}
