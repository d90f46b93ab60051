//! `belay status [--socket PATH] [--json]`: what a running daemon is doing.

use std::path::PathBuf;
use std::process::ExitCode;

use belay::status::client;

#[derive(clap::Args)]
pub struct Args {
    /// The daemon's status socket (`global.status_socket`).
    #[arg(short, long, default_value = "/run/belay/belay.sock")]
    pub socket: PathBuf,
    /// Print the raw JSON document.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    if args.json {
        print!("{}", client::fetch_raw(&args.socket)?);
        println!();
        return Ok(ExitCode::SUCCESS);
    }
    let doc = client::fetch(&args.socket)?;
    println!("router {} (pid {})", doc.router_id, doc.pid);
    println!(
        "{:<16} {:<10} {:>4} {:<7} {:>4} {:<26} {:>9} {:>9} {:>7}",
        "INSTANCE", "INTERFACE", "VRID", "STATE", "PRIO", "MASTER", "RX", "TX", "DROPS"
    );
    for i in &doc.instances {
        println!(
            "{:<16} {:<10} {:>4} {:<7} {:>4} {:<26} {:>9} {:>9} {:>7}",
            i.name,
            i.interface,
            i.vrid,
            i.state,
            i.priority,
            i.master_address
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".into()),
            i.counters.adverts_received,
            i.counters.adverts_sent,
            i.counters.drops_total
        );
    }
    Ok(ExitCode::SUCCESS)
}
