//! The one error type of the evaluator library. Every variant renders as a single line that names
//! the file, key or control at fault, so a binary can print it as is.

/// Why an HDF file or a threshold file could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    /// The input is empty (zero bytes or only whitespace).
    #[error("{origin}: empty input")]
    Empty { origin: String },
    /// The HDF input is not JSON, or is truncated.
    #[error("{origin}: not valid JSON: {detail}")]
    Json { origin: String, detail: String },
    /// The JSON is well formed but is not an InSpec/CINC exec result (HDF).
    #[error("{origin}: not an HDF result file: {detail}")]
    NotHdf { origin: String, detail: String },
    /// Profiles name each other as `parent_profile` in a loop.
    #[error("{origin}: parent_profile cycle: {chain}")]
    ParentProfileCycle { origin: String, chain: String },
    /// A threshold file could not be read as YAML or JSON.
    #[error("{origin}: not valid YAML or JSON: {detail}")]
    ThresholdSyntax { origin: String, detail: String },
    /// A threshold file is well formed but a key or value is wrong.
    #[error("{origin}: {key}: {detail}")]
    ThresholdValue {
        origin: String,
        key: String,
        detail: String,
    },
    /// The threshold file as a whole has the wrong shape (a list, a scalar).
    #[error("{origin}: {detail}")]
    ThresholdShape { origin: String, detail: String },
    /// A scan's metadata.json is not JSON or has a field of the wrong type.
    #[error("{origin}: not a scan metadata.json: {detail}")]
    Metadata { origin: String, detail: String },
}
