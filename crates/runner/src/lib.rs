//! sidescan-runner: the scanner sidecar's agent.
//!
//! Pure logic (cgroup matching, `/proc` parsing, access diagnosis, the builtin checks, the
//! termination message) lives in functions that take data and return data; `/proc`, the
//! Kubernetes API, child processes and the object store are touched at the edges.

pub mod access;
pub mod agent;
pub mod builtin;
pub mod cgroup;
pub mod cinc;
pub mod counts;
pub mod hdf;
pub mod identify;
pub mod pod;
pub mod procfs;
pub mod results;
pub mod store;
pub mod termination;
pub mod view;
