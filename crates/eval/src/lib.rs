//! sidescan-eval: SAF-compatible evaluation of HDF results (InSpec / CINC Auditor exec JSON).
//!
//! Pure functions from bytes and text to data: [`hdf::parse`] links overlay profiles and computes
//! each control's status and severity; [`summary::summarize`] counts them and computes compliance;
//! [`threshold::parse_threshold`] reads SAF threshold files; [`validate::validate`] checks a
//! summary against thresholds; [`generate::generate`] writes SAF's `generate threshold` YAML;
//! [`report`] renders text, Markdown and JUnit; [`html`] the self-contained HTML report of one
//! result or a whole audit; [`audit`] an audit's per-target outcomes, `summary.md` and `junit.xml`;
//! [`metrics`] OpenMetrics text of an audit (`metrics.prom`) and of the latest scans;
//! [`sarif`] SARIF 2.1.0 for GitHub code scanning and [`codequality`] GitLab Code Quality JSON, both
//! from the findings of [`finding`]; [`diff`] what changed between two results. No I/O here: the
//! binary reads files, stdin and object-store URLs.
//!
//! Where the SAF CLI is knowingly wrong, this crate does the right thing by default
//! ([`hdf::Semantics`]); docs/saf-compatibility.md lists every difference.

pub mod audit;
pub mod codequality;
pub mod diff;
pub mod error;
pub mod finding;
pub mod generate;
pub mod hdf;
pub mod html;
pub mod metadata;
pub mod metrics;
pub mod report;
pub mod sarif;
pub mod summary;
pub mod threshold;
pub mod validate;

pub use error::EvalError;
pub use hdf::{Hdf, Semantics, Status};
pub use summary::Summary;
pub use threshold::Threshold;
pub use validate::Validation;
