//! The sidecar workflow around a scan pod: `sidescan-runner orchestrate` (in a Job) and
//! `sidescan-runner scan` (from a laptop or CI job with a kubeconfig).
