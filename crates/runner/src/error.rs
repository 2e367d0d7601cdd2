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
    /// The target process exited (or its root vanished) during a scan: the results would describe
    /// a partial walk of a container that no longer runs, so none are kept.
    #[error(
        "target process {pid} exited during the builtin scan ({entries} entries walked): no result is kept"
    )]
    TargetGone { pid: u32, entries: u64 },
    /// An input or waiver file the builtin backend cannot use.
    #[error("{path}: {detail}")]
    PolicyFile { path: String, detail: String },
}

impl Error {
    /// The exit status this error ends a run with.
    pub fn exit_status(&self) -> sidescan_core::ExitStatus {
        use sidescan_core::ExitStatus;
        match self {
            Error::Store(crate::store::StoreError::BadUrl { .. }) => ExitStatus::BadInput,
            Error::Cinc(e) if e.is_bad_input() => ExitStatus::BadInput,
            Error::PolicyFile { .. } => ExitStatus::BadInput,
            _ => ExitStatus::Infrastructure,
        }
    }
}
