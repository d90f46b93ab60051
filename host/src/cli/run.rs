//! `belay run -c FILE`: the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use belay::config::Config;

#[derive(clap::Args)]
pub struct Args {
    /// Config file.
    #[arg(short, long, default_value = "/etc/belay/belay.toml")]
    pub config: PathBuf,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let config = match Config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    // One thread is plenty for VRRP (a few packets per interval) and keeps
    // the timer wheel and socket on one core; checks bring their own pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(belay::daemon::run(config))?;
    Ok(ExitCode::SUCCESS)
}
