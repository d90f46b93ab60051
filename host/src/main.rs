//! The `belay` command line: the binary edge, where errors become exit codes.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use belay::logging::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "belay",
    version,
    about = "High-availability daemon: VRRP, IPVS and WebAssembly health checks"
)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run(cli::run::Args),
    /// Run one health check and print its report as JSON.
    Check(cli::check::Args),
    /// Validate a config file and exit (0 = valid), like `keepalived -t`.
    CheckConfig(cli::check_config::Args),
    /// Show what a running daemon is doing (instances, states, counters).
    Status(cli::status::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format, "info");
    let result = match cli.command {
        Command::Run(args) => cli::run::main(args),
        Command::Check(args) => cli::check::main(args),
        Command::CheckConfig(args) => Ok(cli::check_config::main(args)),
        Command::Status(args) => cli::status::main(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("belay: {e:#}");
        ExitCode::from(2)
    })
}
