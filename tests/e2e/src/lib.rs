//! End-to-end test support for sidescan against the local cluster (`scripts/dev-cluster`) and S3
//! server (`scripts/dev-s3`): a namespace per test in the style of linkerd2's `with_temp_ns`, pod
//! builders that follow the local cluster's rules, waits that watch instead of sleeping, and a
//! dump of pod, container, event and log state when a test fails.

pub mod audit;
pub mod env;
pub mod forged;
pub mod harness;
pub mod manifests;
pub mod pods;
pub mod prometheus;
pub mod rbac;
pub mod scan;
pub mod seaweed;
pub mod workloads;
