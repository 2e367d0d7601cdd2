//! The sidecar workflow around a scan pod: `sidescan-runner orchestrate` (in a Job, in-cluster
//! config) and `sidescan-runner scan` (from a laptop or CI job with a kubeconfig) run the same
//! phases: deploy, identify, scan, retrieve, process, cleanup.
//!
//! Decisions are pure functions over data, tested without a cluster: [`progress`] (a pod's
//! status in, the next step out), [`stale`] (an existing scan pod: left over or live),
//! [`plan`] (the objects a run creates, from the generator's templates), [`retrieve`] (where
//! the result files are and whether they are intact), [`process`] (the evaluation files and
//! the verdict), [`report`] (what the run prints). [`cluster`] and [`run`] do the I/O.

pub mod cluster;
mod collect;
mod history;
mod objects;
pub mod plan;
mod prepare;
pub mod process;
pub mod progress;
pub mod report;
pub mod retrieve;
mod run;
pub mod stale;

pub use plan::OwnerJob;
pub use report::RunReport;
pub use run::{Mode, RunConfig, run};
