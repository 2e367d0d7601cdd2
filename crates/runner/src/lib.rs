//! sidescan-runner: the cluster workflow around scan pods.
//!
//! - [`orchestrator`]: the sidecar workflow around one scan pod (`sidescan-runner orchestrate` in
//!   a Job, `sidescan-runner scan` from a laptop): deploy, wait, retrieve, evaluate, clean up.
//! - [`audit`]: batch audits (`sidescan-runner audit`): discover workloads, clone and scan each
//!   container, report the fleet.
//! - [`exporter`]: `sidescan-runner exporter`, an HTTP server of the latest audit's and the latest
//!   scans' metrics, read from the store.
//!
//! The scanner itself is `sidescan-agent` (crate `crates/agent`); results go through
//! `sidescan-store`. Pure logic (the workflow's phase decisions, the objects a run creates, the
//! audit's discovery and clones) lives in functions that take data and return data; the
//! Kubernetes API and the object store are touched at the edges.

pub mod audit;
pub mod baseline;
pub mod binding;
pub mod error;
pub mod exporter;
pub mod orchestrator;
pub mod signals;

pub use error::Error;

#[cfg(test)]
mod admission_tests;
