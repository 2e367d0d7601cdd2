//! The command lines of `sidescan-runner`, one module per subcommand.

pub mod audit;
pub mod exporter;
pub mod log;
pub mod orchestrate;
pub mod scan;

use sidescan_core::history::{BaselineRequest, Gate};

/// `--baseline` and `--fail-on-new` of `scan` and `orchestrate`.
#[derive(clap::Args, Debug, Default)]
pub struct GateArgs {
    /// Compare the result with an earlier one and record the delta in evaluation.json:
    /// `latest` (the previous run of the same namespace and target in the store, found from the
    /// results layout) or a run's hdf.json (or folder) as a key in the results bucket or a URL.
    #[arg(long, value_name = "latest|KEY")]
    pub baseline: Option<String>,
    /// Exit 1 only when something newly fails compared with the baseline (a control newly
    /// failing, a new failing control, a failing control with new findings); thresholds are
    /// still checked and recorded. Without --baseline: latest. No earlier run: every failure is
    /// new.
    #[arg(long)]
    pub fail_on_new: bool,
}

impl GateArgs {
    /// The baseline asked for and the gate.
    pub fn resolve(&self) -> (Option<BaselineRequest>, Gate) {
        let baseline = self.baseline.as_deref().and_then(BaselineRequest::parse);
        if self.fail_on_new {
            (
                Some(baseline.unwrap_or(BaselineRequest::Latest)),
                Gate::NewFailures,
            )
        } else {
            (baseline, Gate::Thresholds)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_new_compares_with_the_latest_run_by_default() {
        let args = |baseline: Option<&str>, fail_on_new| GateArgs {
            baseline: baseline.map(str::to_string),
            fail_on_new,
        };
        assert_eq!(args(None, false).resolve(), (None, Gate::Thresholds));
        assert_eq!(
            args(None, true).resolve(),
            (Some(BaselineRequest::Latest), Gate::NewFailures)
        );
        assert_eq!(
            args(Some("p/ns/t/20261126T152045Z-abc123/"), false).resolve(),
            (
                Some(BaselineRequest::Key(
                    "p/ns/t/20261126T152045Z-abc123/".into()
                )),
                Gate::Thresholds
            )
        );
        assert_eq!(
            args(Some("none"), false).resolve(),
            (None, Gate::Thresholds)
        );
    }
}
