//! sidescan-agent: the scanner sidecar. It identifies the target container's process, verifies its
//! root is readable, scans it (`builtin` or `cinc`), writes the results to the shared volume,
//! uploads them, and leaves a summary in the termination message.
//!
//! It runs beside every target, often with `CAP_SYS_PTRACE`, so it links neither the Kubernetes
//! client nor the generator (ARCHITECTURE.md). Pure logic (cgroup matching, `/proc` parsing,
//! access diagnosis, the builtin checks) lives in functions that take data and return data;
//! `/proc`, child processes and the object store are touched at the edges.

pub mod access;
pub mod builtin;
pub mod cgroup;
pub mod cinc;
pub mod cli;
pub mod counts;
pub mod error;
pub mod hdf;
pub mod hold;
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
pub mod secrets;
pub mod view;
pub mod view_programs;

pub use error::Error;
pub use run::{AgentConfig, Backend, Targeting, Upload, own_capabilities, random_run_id, run};
