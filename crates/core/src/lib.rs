//! sidescan's shared model. Pure types and functions: no I/O, no Kubernetes client.
//!
//! Every other crate speaks in these terms: the [`exit::ExitStatus`] all binaries return, the
//! [`phase::Phase`] names logs and metadata use, the [`names`] rules for Kubernetes objects, the
//! [`labels`] that make cleanup one label-selected delete, and the [`layout`] of results in the
//! object store.

pub mod audit;
pub mod error;
pub mod exit;
pub mod labels;
pub mod layout;
pub mod names;
pub mod phase;
pub mod run_id;
pub mod spec;

pub use error::CoreError;
pub use exit::ExitStatus;
pub use layout::{AuditFile, AuditLocation, ResultFile, RunKey, RunLocation};
pub use phase::Phase;
pub use run_id::RunId;
