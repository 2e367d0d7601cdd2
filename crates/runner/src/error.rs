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
    /// No Kubernetes configuration to reach the cluster with.
    #[error("{reason}")]
    NoCluster { reason: String },
    /// A Kubernetes API call failed.
    #[error("{action}: {source}")]
    Kube {
        action: String,
        #[source]
        source: kube::Error,
    },
    /// An audit was asked to run again under an id whose files are complete (bad input: they are
    /// never overwritten).
    #[error("audit {audit_id} is complete already: its files are never overwritten")]
    AuditComplete { audit_id: String },
    /// `--require-targets` and the selection matched nothing (bad input).
    #[error("no targets matched the selection (--require-targets): {detail}")]
    NoTargets { detail: String },
    /// A phase did not finish in time.
    #[error("{phase} deadline of {seconds} s passed: {waiting_for}")]
    Deadline {
        phase: Phase,
        seconds: u64,
        waiting_for: String,
    },
    /// Another run of the same target holds the scan pod's name.
    #[error("pod {pod}: {reason}")]
    Concurrent { pod: String, reason: String },
    /// The scan pod cannot finish (image never starts, pod failed, scanner crashed), or the
    /// cluster cannot be reached to run it.
    #[error("{reason}")]
    ScanPod { reason: String },
    /// The scanner ran and reported a failure (its exit code says bad input or infrastructure).
    #[error("the scanner failed: {message}")]
    Scanner { status: ExitStatus, message: String },
    /// A result object could not be read back, did not match its checksum, or does not belong
    /// to the run.
    #[error("retrieve: {object}: {reason}")]
    Retrieve { object: String, reason: String },
    /// The run was stopped by a signal (cleanup still ran).
    #[error("interrupted by {signal} during {phase}")]
    Interrupted { signal: &'static str, phase: Phase },
    /// The result to compare with (`--baseline KEY`) is missing or not a result (bad input).
    #[error("baseline {key}: {reason}")]
    Baseline { key: String, reason: String },
    /// Cleanup left objects behind (each named).
    #[error("cleanup: {what}: {reason}")]
    Cleanup { what: String, reason: String },
    /// The exporter cannot listen on its address.
    #[error("listening on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// Neither the store nor the local fallback directory took an audit's files.
    #[error("{store_error}; and locally ({dir}): {source}")]
    Fallback {
        store_error: String,
        dir: String,
        #[source]
        source: std::io::Error,
    },
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
        // Every variant is named: a new one must say which it is.
        match self {
            Error::Store(e) if e.is_bad_input() => ExitStatus::BadInput,
            Error::Gen(sidescan_gen::GenError::Render { .. }) => ExitStatus::Infrastructure,
            Error::Gen(_)
            | Error::Input { .. }
            | Error::Missing { .. }
            | Error::AuditComplete { .. }
            | Error::Baseline { .. }
            | Error::NoTargets { .. } => ExitStatus::BadInput,
            Error::Scanner { status, .. } => *status,
            Error::Store(_)
            | Error::NoCluster { .. }
            | Error::Kube { .. }
            | Error::Deadline { .. }
            | Error::Concurrent { .. }
            | Error::ScanPod { .. }
            | Error::Retrieve { .. }
            | Error::Interrupted { .. }
            | Error::Cleanup { .. }
            | Error::Fallback { .. }
            | Error::Listen { .. } => ExitStatus::Infrastructure,
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

    #[test]
    fn audit_infrastructure_failures_exit_3() {
        let cleanup = Error::Cleanup {
            what: "clones of audit a1b2c3".into(),
            reason: "still exist in ns-a, ns-b".into(),
        };
        assert_eq!(cleanup.exit_status(), ExitStatus::Infrastructure);
        let fallback = Error::Fallback {
            store_error: "store unreachable".into(),
            dir: "/nope".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        assert_eq!(fallback.exit_status(), ExitStatus::Infrastructure);
        assert!(fallback.to_string().contains("and locally (/nope)"));
        let again = Error::AuditComplete {
            audit_id: "a1b2c3".into(),
        };
        assert_eq!(again.exit_status(), ExitStatus::BadInput);
    }
}
