//! Subcommands of the `belay` binary; each file is one subcommand.

pub mod check;
pub mod check_config;
pub mod run;
pub mod status;
