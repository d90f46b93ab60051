//! `belay run -c FILE`: the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Config file.
    #[arg(short, long, default_value = "/etc/belay/belay.toml")]
    pub config: PathBuf,
}

pub fn main(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`belay run` is not implemented yet")
}
