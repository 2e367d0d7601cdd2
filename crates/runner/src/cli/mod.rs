//! The command lines of `sidescan-runner`, one module per subcommand.

pub mod agent;
pub mod audit;
pub mod install_hold;
pub mod orchestrate;
pub mod scan;
