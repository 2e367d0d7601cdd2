//! The agent library's one error type.

use sidescan_core::ExitStatus;
use thiserror::Error;

/// What can end an agent library call. Each variant names the file, path or process at fault;
/// [`Error::exit_status`] maps it to the shared exit codes.
#[derive(Debug, Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] sidescan_store::StoreError),
    #[error(transparent)]
    Cinc(#[from] crate::cinc::CincError),
    /// The target process exited (or its root vanished) during a scan: the results would describe
    /// a partial walk of a container that no longer runs, so none are kept.
    #[error(
        "target process {pid} exited during the builtin scan ({entries} entries walked): no result is kept"
    )]
    TargetGone { pid: u32, entries: u64 },
    /// The kernel lacks what the builtin backend needs to stay inside the target's root.
    #[error("the builtin scan needs {feature}: {detail}")]
    KernelFeature {
        feature: &'static str,
        detail: String,
    },
    /// An input or waiver file the builtin backend cannot use.
    #[error("{path}: {detail}")]
    PolicyFile { path: String, detail: String },
    /// `install-hold` could not copy the `hold` program.
    #[error("install-hold: {path}: {source}")]
    HoldInstall {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The exit status this error ends a run with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Store(e) if e.is_bad_input() => ExitStatus::BadInput,
            Error::Cinc(e) if e.is_bad_input() => ExitStatus::BadInput,
            Error::PolicyFile { .. } => ExitStatus::BadInput,
            _ => ExitStatus::Infrastructure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_errors_map_to_exit_codes() {
        let bad = Error::PolicyFile {
            path: "waivers.yml".into(),
            detail: "waiver X: run: expected true or false".into(),
        };
        assert_eq!(bad.exit_status(), ExitStatus::BadInput);
        assert!(bad.to_string().starts_with("waivers.yml: "));
        let gone = Error::TargetGone {
            pid: 42,
            entries: 7,
        };
        assert_eq!(gone.exit_status(), ExitStatus::Infrastructure);
        assert!(gone.to_string().contains("exited during the builtin scan"));
        let kernel = Error::KernelFeature {
            feature: "openat2",
            detail: "ENOSYS".into(),
        };
        assert_eq!(kernel.exit_status(), ExitStatus::Infrastructure);
    }
}
