//! The command lines of `sidescan-runner`, one module per subcommand.

pub mod audit;
pub mod log;
pub mod orchestrate;
pub mod scan;
