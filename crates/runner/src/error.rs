//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in the runner's library code. Each variant says which object,
/// file or key is at fault; [`Error::exit_status`] maps it to the shared exit codes.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Cinc(#[from] crate::agent::cinc::CincError),
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
    /// `install-hold` could not copy the `hold` program.
    #[error("install-hold: {path}: {source}")]
    HoldInstall {
        path: std::path::PathBuf,
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
    pub fn exit_status(&self) -> sidescan_core::ExitStatus {
        use sidescan_core::ExitStatus;
        match self {
            Error::Store(crate::store::StoreError::BadUrl { .. }) => ExitStatus::BadInput,
            Error::Cinc(e) if e.is_bad_input() => ExitStatus::BadInput,
            Error::AuditInput(_) => ExitStatus::BadInput,
            _ => ExitStatus::Infrastructure,
        }
    }
}
