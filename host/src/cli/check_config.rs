//! `belay check-config -c FILE`: validate and exit, like `keepalived -t`.

use std::path::PathBuf;
use std::process::ExitCode;

use belay::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Config file to validate.
    #[arg(short, long, default_value = "/etc/belay/belay.toml")]
    pub config: PathBuf,
}

pub fn main(args: Args) -> ExitCode {
    match Config::load(&args.config) {
        Ok(_) => {
            println!("{}: ok", args.config.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
