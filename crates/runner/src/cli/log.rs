//! What `sidescan-runner` prints while it runs: human lines (the default) or JSON lines
//! (`--log-format json`, `SIDESCAN_LOG_FORMAT=json`: what the rendered Jobs and CronJobs set).
//!
//! Each phase of a run is one tracing event (`phase`, `duration_ms`, `ok`, the detail as its
//! message). In JSON that event is the phase's log line. In text it becomes the phase line on
//! stdout (`deploy  1.90s  ok  pod ... running`), folded in a CI log (GitHub `::group::`,
//! GitLab collapsible sections) with what was logged while the phase ran; the events that only
//! repeat what the closing summary says (the run's error, `run finished`) are left out. Other
//! events are `level: message (field=value, ...)` lines on stderr; in a CI log info and debug
//! lines go into the group of the phase they belong to, warnings and errors are printed at once.

use sidescan_core::Phase;
use sidescan_runner::orchestrator::report::{self, CiLog, PhaseReport};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt, filter_fn};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human lines: one per phase on stdout, log messages on stderr.
    Text,
    /// JSON lines on stderr (for log collectors): one per phase and per log message.
    Json,
}

/// How to set up the output of one command.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub format: LogFormat,
    pub ci: CiLog,
    /// Print phase lines (text only; `scan --quiet` turns them off).
    pub phases: bool,
    /// The level when `SIDESCAN_LOG` is unset.
    pub default_level: &'static str,
}

static OPTIONS: OnceLock<Options> = OnceLock::new();
static CONSOLE: OnceLock<Arc<Mutex<Console>>> = OnceLock::new();

/// The CI log the runner writes to (plain before [`init`]).
pub fn ci() -> CiLog {
    OPTIONS.get().map_or(CiLog::Plain, |o| o.ci)
}

/// Prints what is still held for a phase group (a run that ended between phases), so that it
/// comes before the closing summary.
pub fn flush() {
    if let Some(console) = CONSOLE.get() {
        let mut console = console.lock().unwrap_or_else(|e| e.into_inner());
        let pending = std::mem::take(&mut console.pending);
        let mut out = std::io::stdout().lock();
        for line in pending {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
}

/// After the closing summary: in GitHub Actions, the failure as an `::error::` annotation.
pub fn annotate_failure(message: Option<String>) {
    if ci() == CiLog::GitHub
        && let Some(message) = message
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", report::github_error("sidescan", &message));
        let _ = out.flush();
    }
}

/// Sets up logging for the process (once).
pub fn init(options: Options) {
    let _ = OPTIONS.set(options);
    let filter = || {
        EnvFilter::try_from_env("SIDESCAN_LOG")
            .unwrap_or_else(|_| EnvFilter::new(options.default_level))
    };
    match options.format {
        LogFormat::Json => {
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .json()
                .flatten_event(true)
                .with_filter(filter());
            let _ = tracing_subscriber::registry().with(layer).try_init();
        }
        LogFormat::Text => {
            let console = Arc::new(Mutex::new(Console {
                ci: options.ci,
                phases: options.phases,
                pending: Vec::new(),
            }));
            let _ = CONSOLE.set(console.clone());
            // Phase events always reach the console (they are the progress lines), whatever
            // level SIDESCAN_LOG asks for; everything else as SIDESCAN_LOG says.
            let layer = TextLayer { console }
                .with_filter(filter().or(filter_fn(|m| kind(m) == Kind::Phase)));
            let _ = tracing_subscriber::registry().with(layer).try_init();
        }
    }
}

/// What an event is to the text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A phase ended (the orchestrator's `phase`, `duration_ms`, `ok` event).
    Phase,
    /// Repeats what the closing summary says: the run's error, `run finished`.
    Summary,
    Log,
}

fn kind(meta: &Metadata<'_>) -> Kind {
    let from_orchestrator = meta
        .module_path()
        .is_some_and(|m| m.starts_with("sidescan_runner::orchestrator"));
    let has = |name: &str| meta.fields().field(name).is_some();
    if !from_orchestrator || !meta.is_event() {
        Kind::Log
    } else if has("phase") && has("duration_ms") && has("ok") {
        Kind::Phase
    } else if has("exit_code") {
        Kind::Summary
    } else {
        Kind::Log
    }
}

/// One log message as a human line: `warning: watch failed; retrying (pod=web, error=...)`.
/// Info lines are prefixed too, so no line starts with anything a CI log would read as a
/// command.
pub fn text_line(level: &Level, message: &str, fields: &[(String, String)]) -> String {
    let level = match *level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    };
    let mut line = format!("{level}: {message}");
    if !fields.is_empty() {
        line.push_str(" (");
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                line.push_str(", ");
            }
            let _ = write!(line, "{name}={value}");
        }
        line.push(')');
    }
    report::log_safe(&line)
}

/// A phase event's fields back as a phase report.
fn phase_report(fields: &Fields) -> Option<PhaseReport> {
    let name = fields.get("phase")?;
    let phase = Phase::ALL.into_iter().find(|p| p.as_str() == name)?;
    Some(PhaseReport {
        phase,
        duration: Duration::from_millis(fields.get("duration_ms")?.parse().ok()?),
        ok: fields.get("ok")? == "true",
        detail: fields.message.clone(),
    })
}

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(String, String)>,
}

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else if !field.name().starts_with("log.") {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else if !field.name().starts_with("log.") {
            // (`log.*`: where a dependency's `log` record came from, not what it says.)
            self.fields
                .push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

struct Console {
    ci: CiLog,
    phases: bool,
    /// Info and debug lines of the phase under way, for its group (CI logs only).
    pending: Vec<String>,
}

impl Console {
    fn phase(&mut self, p: &PhaseReport) {
        if !self.phases {
            return;
        }
        let ended = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let details = std::mem::take(&mut self.pending);
        let mut out = std::io::stdout().lock();
        for line in report::phase_block(self.ci, p, &details, ended) {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }

    fn log(&mut self, level: &Level, line: String) {
        let grouped = self.phases && self.ci != CiLog::Plain && *level > Level::WARN;
        if grouped {
            self.pending.push(line);
        } else {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    }
}

struct TextLayer {
    console: Arc<Mutex<Console>>,
}

impl<S: Subscriber> Layer<S> for TextLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut console = self.console.lock().unwrap_or_else(|e| e.into_inner());
        match kind(meta) {
            Kind::Phase => {
                if let Some(p) = phase_report(&fields) {
                    console.phase(&p);
                }
            }
            Kind::Summary => {}
            Kind::Log => {
                let line = text_line(meta.level(), &fields.message, &fields.fields);
                console.log(meta.level(), line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_their_level_and_fields_on_one_line() {
        assert_eq!(
            text_line(
                &Level::WARN,
                "watch failed; retrying",
                &[
                    ("pod".into(), "web".into()),
                    ("error".into(), "connection reset".into())
                ]
            ),
            "warning: watch failed; retrying (pod=web, error=connection reset)"
        );
        assert_eq!(text_line(&Level::INFO, "stored", &[]), "info: stored");
        // A message cannot start a line of its own in a CI log.
        assert_eq!(
            text_line(&Level::ERROR, "bad\n::error::forged", &[]),
            "error: bad ::error::forged"
        );
    }

    #[test]
    fn a_phase_event_reads_back_as_its_phase_report() {
        let fields = Fields {
            message: "pod web running".into(),
            fields: vec![
                ("phase".into(), "deploy".into()),
                ("duration_ms".into(), "2412".into()),
                ("ok".into(), "true".into()),
            ],
        };
        let p = phase_report(&fields).unwrap();
        assert_eq!(
            report::phase_line(&p),
            "deploy       2.41s  ok      pod web running"
        );
        let unknown = Fields {
            fields: vec![("phase".into(), "nap".into())],
            ..Fields::default()
        };
        assert!(phase_report(&unknown).is_none());
    }
}
