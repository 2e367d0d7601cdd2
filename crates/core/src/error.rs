use thiserror::Error;

/// Errors from validating names, run ids and layout parts.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CoreError {
    #[error("{field}: {value:?} is not a valid {kind}: {reason}")]
    InvalidName {
        field: String,
        value: String,
        kind: &'static str,
        reason: String,
    },
    #[error("run id {value:?} is not valid: {reason}")]
    InvalidRunId { value: String, reason: String },
}
