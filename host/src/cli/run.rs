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
    // VRRP instances run on their own threads; this pool runs the checks
    // (WASM), tracking, IPVS and the status server.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    rt.block_on(belay::daemon::run(config))?;
    Ok(ExitCode::SUCCESS)
}
