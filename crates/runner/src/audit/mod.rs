//! Batch audits (`sidescan-runner audit`): scan every container of the workloads an audit spec
//! selects, each in a scan pod cloned from the workload's pod template, without touching the
//! workloads' own pods.
//!
//! Pure parts: [`discover`] (workload objects in, targets out) and [`clone`] (a target in, its
//! scan pod out). The `hold` program a clone runs instead of its entrypoint is installed by
//! `sidescan-agent install-hold` in the clone's init container.

pub mod cleanup;
pub mod clone;
pub mod cluster;
pub mod discover;
pub mod files;
pub mod flights;
pub mod history;
pub mod input;
pub mod notify;
pub mod profile;
pub mod run;
pub mod scan;
pub mod scheduler;
pub mod state;
pub mod timing;
