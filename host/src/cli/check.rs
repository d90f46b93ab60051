//! `belay check --plugin NAME|PATH.wasm --target HOST:PORT [--param k=v ...]`:
//! run one check and print its report as JSON (for plugin authors).

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {}

pub fn main(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`belay check` is not implemented yet")
}
