//! `belay-probe`: the lab's outage meter (see `belay_tests::probe`).
//!
//! - `respond --port P --id NAME [--http-port H]`: on a router, echo probes
//!   tagged with NAME (and answer HTTP on 127.0.0.1:H: a service to check).
//! - `probe --target VIP:P`: on a client, probe every interval; one event per
//!   line on stdout (machine format, read by the test harness and benchmark).
//! - `watch --target VIP:P`: the same, summarised for people (the demo).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use belay_tests::probe::{self, Event, ProbeConfig};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "UDP probes for measuring VIP failover outages")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Echo probes, tagged with this router's name.
    Respond {
        #[arg(long, default_value_t = probe::DEFAULT_PORT)]
        port: u16,
        #[arg(long)]
        id: String,
        /// Also answer HTTP GET with 200 on 127.0.0.1:PORT (a service to health-check).
        #[arg(long)]
        http_port: Option<u16>,
    },
    /// Probe the target and print every event (machine format).
    Probe {
        #[command(flatten)]
        args: ProbeArgs,
    },
    /// Probe the target and print who answers, and every outage, for people.
    Watch {
        #[command(flatten)]
        args: ProbeArgs,
        /// Exit after this many outages have ended (0: never).
        #[arg(long, default_value_t = 0)]
        outages: u32,
    },
}

#[derive(clap::Args)]
struct ProbeArgs {
    /// The VIP and port, e.g. 192.0.2.100:40000 or [2001:db8::100]:40000.
    #[arg(long)]
    target: SocketAddr,
    /// Microseconds between probes.
    #[arg(long, default_value_t = 1000)]
    interval_us: u64,
    /// Also report VRRP adverts seen on this interface.
    #[arg(long)]
    adverts_on: Option<String>,
    /// Stop after this many seconds.
    #[arg(long)]
    seconds: Option<f64>,
}

impl ProbeArgs {
    fn config(&self) -> ProbeConfig {
        ProbeConfig {
            target: self.target,
            interval: Duration::from_micros(self.interval_us),
            adverts_on: self.adverts_on.clone(),
            duration: self.seconds.map(Duration::from_secs_f64),
        }
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Err(e) = probe::realtime(50) {
        eprintln!("belay-probe: running without real-time priority ({e}); timings may be noisy");
    }
    match cli.cmd {
        Cmd::Respond {
            port,
            id,
            http_port,
        } => probe::respond(port, &id, http_port).context("responder"),
        Cmd::Probe { args } => {
            // A 1 MiB pipe holds ~15 s of events, so a slow reader never
            // stalls the send cadence (best effort: stdout may not be a pipe).
            // SAFETY: fcntl on our own stdout with an integer argument.
            unsafe { libc::fcntl(1, libc::F_SETPIPE_SZ, 1 << 20) };
            let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            let mut last_flush = probe::mono_ns();
            probe::probe(&args.config(), |ev| {
                if writeln!(out, "{ev}").is_err() {
                    return false;
                }
                // Flush at least every millisecond so the harness sees events live.
                let now = probe::mono_ns();
                if now - last_flush >= 1_000_000 || !matches!(ev, Event::Sent { .. }) {
                    last_flush = now;
                    return out.flush().is_ok();
                }
                true
            })
            .context("prober")?;
            out.flush()?;
            Ok(())
        }
        Cmd::Watch { args, outages } => {
            let mut w = Watch::new(args.interval_us * 1000, outages);
            probe::probe(&args.config(), |ev| w.event(ev)).context("prober")
        }
    }
}

/// Turns the event stream into lines a person can follow: who serves the VIP,
/// and how long each gap lasted.
struct Watch {
    interval: u64,
    start: u64,
    last_from: Option<String>,
    last_reply_sent: Option<u64>,
    last_seq: Option<u64>,
    outages_left: Option<u32>,
}

impl Watch {
    fn new(interval: u64, outages: u32) -> Watch {
        Watch {
            interval,
            start: probe::mono_ns(),
            last_from: None,
            last_reply_sent: None,
            last_seq: None,
            outages_left: (outages > 0).then_some(outages),
        }
    }

    fn event(&mut self, ev: Event) -> bool {
        let Event::Reply {
            seq,
            sent,
            at,
            from,
        } = ev
        else {
            return true;
        };
        let t = (at - self.start) as f64 / 1e9;
        let mut keep_going = true;
        if let (Some(prev_seq), Some(prev_sent)) = (self.last_seq, self.last_reply_sent)
            && seq > prev_seq + 1
        {
            let lost = seq - prev_seq - 1;
            let gap_ms = (sent - prev_sent).saturating_sub(self.interval) as f64 / 1e6;
            println!(
                "[{t:8.3}s] outage: {gap_ms:.1} ms without replies ({lost} probes lost), now answered by {from}"
            );
            if let Some(n) = self.outages_left.as_mut() {
                *n -= 1;
                keep_going = *n > 0;
            }
        } else if self.last_from.is_none() {
            println!("[{t:8.3}s] VIP answered by {from}");
        } else if self.last_from.as_deref() != Some(from.as_str()) {
            println!("[{t:8.3}s] VIP moved to {from} with no probe lost");
        }
        let _ = io::stdout().flush();
        if self.last_seq.is_none_or(|p| seq > p) {
            self.last_seq = Some(seq);
            self.last_reply_sent = Some(sent);
            self.last_from = Some(from);
        }
        keep_going
    }
}
