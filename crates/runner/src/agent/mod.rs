//! The scanner sidecar's agent (`sidescan-runner agent`): identify the target container's
//! process, verify its root is readable, scan it (`builtin` or `cinc`), write the results to the
//! shared volume, upload them, and leave a summary in the termination message.

pub mod access;
pub mod builtin;
pub mod cgroup;
pub mod cinc;
pub mod counts;
pub mod hdf;
pub mod identify;
pub mod pod;
pub mod preflight;
pub mod procfs;
pub mod profile;
pub mod proof;
pub mod results;
pub mod root;
pub mod run;
pub mod sandbox;
pub mod seccomp;
pub mod view;

pub use run::{AgentConfig, Backend, Targeting, own_capabilities, random_run_id, run};
