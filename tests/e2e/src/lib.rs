//! end-to-end tests against the local cluster (to be written)
