use sidescan_core::spec::SpecError;
use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong while generating manifests. Each message is one line that names
/// the file, key or field at fault.
#[derive(Debug, Error)]
pub enum GenError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("{source_name}: {message}")]
    Values {
        source_name: String,
        message: String,
    },
    #[error("--set {arg}: {reason}")]
    Set { arg: String, reason: String },
    #[error("--kube-version {value:?}: {reason}")]
    KubeVersion { value: String, reason: String },
    #[error("{field}: {reason}")]
    Unsupported { field: String, reason: String },
    #[error("profile.dir {path}: {reason}")]
    Profile { path: PathBuf, reason: String },
    #[error(
        "profile.dir {path}: the profile is {size} bytes, above the ConfigMap limit of {limit} bytes; \
         publish it to an object store and set profile.url instead (the agent fetches it)"
    )]
    ProfileTooLarge {
        path: PathBuf,
        size: usize,
        limit: usize,
    },
    #[error("thresholds.file {path}: {reason}")]
    Thresholds { path: PathBuf, reason: String },
    #[error("{0}")]
    ThresholdFile(String),
    #[error("{what}: {reason}")]
    Nothing { what: String, reason: String },
    #[error("template {template}: {message}")]
    Render { template: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GenError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> GenError {
        GenError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The first line of a parser message (YAML errors come with a source snippet).
pub(crate) fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or("").trim().to_string()
}
