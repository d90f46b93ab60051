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
        if let Some(t) = &i.tracking {
            println!("  priority: {}", t.explain);
        }
        if let Some(tr) = &i.last_transition {
            println!("  last: {} -> {} ({})", tr.from, tr.to, tr.reason);
        }
    }
    if !doc.checks.is_empty() {
        println!();
        println!(
            "{:<16} {:<8} {:<24} {:<8} {:>9}  LAST",
            "CHECK", "PLUGIN", "TARGET", "STATE", "LATENCY"
        );
        for c in &doc.checks {
            let r = c.last_report.as_ref();
            let latency = r
                .and_then(|r| r["latency"].as_f64())
                .map_or("-".into(), |ms| format!("{ms:.1}ms"));
            let last = match r {
                None => "-".to_owned(),
                Some(r) if r["status"] == "healthy" => "healthy".to_owned(),
                Some(r) => format!("unhealthy: {}", r["reason"].as_str().unwrap_or("?")),
            };
            println!(
                "{:<16} {:<8} {:<24} {:<8} {:>9}  {last}",
                c.name, c.plugin, c.target, c.state, latency
            );
        }
    }
    for p in doc.plugins.iter().filter(|p| p.last_error.is_some()) {
        println!(
            "plugin {} ({}): last load failed: {}",
            p.name,
            p.source,
            p.last_error.as_deref().unwrap_or("")
        );
    }
    for vs in &doc.virtual_servers {
        println!();
        println!(
            "virtual server {} {}{} weight {}/{}{}",
            vs.name,
            vs.service,
            if vs.active { "" } else { " (inactive)" },
            vs.weight_sum,
            vs.quorum,
            if vs.sorry_server_active {
                ", sorry server"
            } else {
                ""
            }
        );
        for rs in &vs.real_servers {
            println!(
                "  -> {:<24} {:<8} weight {:>3}{}",
                rs.address.to_string(),
                format!("{:?}", rs.health).to_lowercase(),
                rs.weight,
                match rs.table_weight {
                    Some(w) if w != rs.weight => format!(" (table {w})"),
                    Some(_) => String::new(),
                    None => " (not in table)".into(),
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
