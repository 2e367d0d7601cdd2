//! The command lines of `sidescan-runner`, one module per subcommand.

pub mod audit;
pub mod exporter;
pub mod orchestrate;
pub mod scan;
