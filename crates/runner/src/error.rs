//! The crate's one error type.

use sidescan_core::{ExitStatus, Phase};
use thiserror::Error;

/// Everything that can go wrong in the runner's library code. Each variant says which object,
/// file or key is at fault; [`Error::exit_status`] maps it to the shared exit codes.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] sidescan_store::StoreError),
    /// The spec, a profile or a threshold file the generator library refused.
    #[error(transparent)]
    Gen(#[from] sidescan_gen::GenError),
    /// A file the user named is missing or wrong (bad input).
    #[error("{path}: {reason}")]
    Input { path: String, reason: String },
    /// An object the run needs is missing in the cluster (bad input: a namespace, a ConfigMap).
    #[error("{what}: {reason}")]
    Missing { what: String, reason: String },
    /// A Kubernetes API call failed.
    #[error("{action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// An audit's spec or threshold file is wrong (the message names the file and key).
    #[error("{0}")]
    AuditInput(String),
    /// A phase did not finish in time.
    #[error("{phase} deadline of {seconds} s passed: {waiting_for}")]
    Deadline {
        phase: Phase,
        seconds: u64,
        waiting_for: String,
    },
    /// Another run of the same target holds the scan pod's name.
    #[error("{0}")]
    Concurrent(String),
    /// The scan pod cannot finish (image never starts, pod failed, scanner crashed).
    #[error("{0}")]
    ScanPod(String),
    /// The scanner ran and reported a failure (its exit code says bad input or infrastructure).
    #[error("the scanner failed: {message}")]
    Scanner { status: ExitStatus, message: String },
    /// The result could not be read back or did not match its checksum.
    #[error("retrieve: {0}")]
    Retrieve(String),
    /// The run was stopped by a signal (cleanup still ran).
    #[error("interrupted by {signal} during {phase}")]
    Interrupted { signal: &'static str, phase: Phase },
    /// Cleanup left objects behind.
    #[error("cleanup: {0}")]
    Cleanup(String),
}

impl Error {
    pub(crate) fn kube(action: impl Into<String>, source: kube::Error) -> Error {
        Error::Kube {
            action: action.into(),
            source,
        }
    }

    /// The exit status this error ends a run with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Store(e) if e.is_bad_input() => ExitStatus::BadInput,
            Error::AuditInput(_) => ExitStatus::BadInput,
            Error::Gen(sidescan_gen::GenError::Render { .. }) => ExitStatus::Infrastructure,
            Error::Gen(_) | Error::Input { .. } | Error::Missing { .. } => ExitStatus::BadInput,
            Error::Scanner { status, .. } => *status,
            _ => ExitStatus::Infrastructure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_and_infrastructure_are_told_apart() {
        let input = Error::Input {
            path: "t.yml".into(),
            reason: "x".into(),
        };
        assert_eq!(input.exit_status(), ExitStatus::BadInput);
        let deadline = Error::Deadline {
            phase: Phase::Deploy,
            seconds: 5,
            waiting_for: "phase Pending".into(),
        };
        assert_eq!(deadline.exit_status(), ExitStatus::Infrastructure);
        assert_eq!(
            deadline.to_string(),
            "deploy deadline of 5 s passed: phase Pending"
        );
        let scanner = Error::Scanner {
            status: ExitStatus::BadInput,
            message: "profile missing".into(),
        };
        assert_eq!(scanner.exit_status(), ExitStatus::BadInput);
    }
}
