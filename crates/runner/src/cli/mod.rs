//! The command lines of `sidescan-runner`, one module per subcommand.

pub mod audit;
pub mod orchestrate;
pub mod scan;
