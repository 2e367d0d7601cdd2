//! sidescan's shared model. Pure types and functions: no I/O, no Kubernetes client.
//!
//! Every other crate speaks in these terms: the [`exit::ExitStatus`] all binaries return, the
//! [`phase::Phase`] names logs and metadata use, the [`names`] rules for Kubernetes objects, the
//! [`labels`] that make cleanup one label-selected delete, and the [`layout`] of results in the
//! object store, the [`termination`] summary the scanner leaves and the orchestrator reads, and
//! the [`log_transfer`] of result files through a container's log.

pub mod audit;
pub mod digest;
pub mod error;
pub mod exit;
pub mod exporter;
pub mod history;
pub mod labels;
pub mod layout;
pub mod log_transfer;
pub mod names;
pub mod phase;
pub mod run_id;
pub mod scanner;
pub mod spec;
pub mod termination;

pub use error::CoreError;
pub use exit::{ExitStatus, Failure};
pub use layout::{AuditFile, AuditLocation, ResultFile, RunKey, RunLocation};
pub use phase::Phase;
pub use run_id::RunId;
