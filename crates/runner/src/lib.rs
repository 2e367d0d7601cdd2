//! sidescan-runner: the programs that run scans.
//!
//! - [`agent`]: inside the scanner sidecar (`sidescan-runner agent`): identify the target process,
//!   scan its root, store the results.
//! - [`orchestrator`]: the sidecar workflow around a scan pod (`sidescan-runner orchestrate` in a
//!   Job, `sidescan-runner scan` from a laptop): deploy, wait, retrieve, evaluate, clean up.
//! - [`store`]: the object store both write results to; [`termination`]: the summary the agent
//!   leaves in its termination message and the orchestrator reads.
//!
//! Pure logic (cgroup matching, `/proc` parsing, access diagnosis, the builtin checks, the
//! termination message, the workflow's phase decisions) lives in functions that take data and
//! return data; `/proc`, the Kubernetes API, child processes and the object store are touched at
//! the edges.

pub mod agent;
pub mod audit;
pub mod error;
pub mod log_transfer;
pub mod orchestrator;
pub mod store;
pub mod termination;

pub use error::Error;
