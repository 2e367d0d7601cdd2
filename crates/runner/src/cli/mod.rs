//! The command lines of `sidescan-runner`, one module per subcommand.

pub mod agent;
pub mod orchestrate;
pub mod scan;
