//! `failover-bench`: VIP failover measured from a client probing every 1 ms,
//! belay against Keepalived in the same run (see `belay_tests::failover`).
//!
//! Scenarios: `failover` (kill -9 of the master, preemption back, SIGTERM)
//! and `service-death` (the master's HTTP service dies; its health check
//! hands the VIP over: belay's stock `http` check every 100 ms with
//! `resign_below`, Keepalived's `vrrp_script` running curl every 1 s, its
//! shortest interval).
//!
//! Repetitions interleave the implementations (rep 1: keepalived, belay;
//! rep 2: keepalived, belay; ...) so both see the same machine load. Needs
//! root (network namespaces).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use belay_tests::failover::{self, CpuSample, DeathSample, Impl, MODES, Mode, Sample};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// kill -9 of the master, its restart (preemption back), SIGTERM.
    Failover,
    /// The master's service dies; its health check moves the VIP.
    ServiceDeath,
}

#[derive(Parser)]
#[command(about = "VRRP failover benchmark: belay vs Keepalived, same run")]
struct Cli {
    /// Implementations to run, comma-separated (the first is the baseline).
    #[arg(long, default_value = "keepalived,belay", value_delimiter = ',')]
    impls: Vec<String>,
    #[arg(long, value_enum, default_value = "failover")]
    scenario: Scenario,
    /// Modes, comma-separated: v2-1s, v3-100ms, v3-10ms, v3-1s (default:
    /// the first three for failover; v3-1s,v3-10ms for service-death).
    #[arg(long, value_delimiter = ',')]
    modes: Vec<String>,
    /// Repetitions per mode and implementation.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// CPU window at 10 ms adverts, seconds (0: skip the CPU measurement;
    /// failover scenario only).
    #[arg(long, default_value_t = 60)]
    cpu_secs: u64,
    /// Write every sample as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

#[derive(serde::Serialize)]
struct Run<S> {
    imp: &'static str,
    mode: &'static str,
    rep: usize,
    sample: Option<S>,
}

#[derive(serde::Serialize)]
struct CpuRun {
    imp: &'static str,
    mode: &'static str,
    sample: Option<CpuSample>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if !nix::unistd::geteuid().is_root() {
        bail!("failover-bench needs root (network namespaces)");
    }
    // Measure the belay built with this harness (release beside release),
    // not whatever `belay_bin()` finds for test binaries (target/debug).
    if std::env::var_os("BELAY_BIN").is_none() {
        let exe = std::env::current_exe().context("current exe")?;
        let beside = exe.with_file_name("belay");
        if beside.is_file() {
            // SAFETY: single-threaded here; nothing reads the environment concurrently.
            unsafe { std::env::set_var("BELAY_BIN", &beside) };
        }
    }
    eprintln!(
        "failover-bench: belay = {}",
        belay_tests::belay_bin().display()
    );
    let impls: Vec<Impl> = cli
        .impls
        .iter()
        .map(|s| match s.as_str() {
            "keepalived" => Ok(Impl::Keepalived),
            "belay" => Ok(Impl::Belay),
            o => bail!("unknown implementation {o:?} (keepalived, belay)"),
        })
        .collect::<Result<_>>()?;
    let default_modes = match cli.scenario {
        Scenario::Failover => "v2-1s,v3-100ms,v3-10ms",
        Scenario::ServiceDeath => "v3-1s,v3-10ms",
    };
    let mode_names: Vec<String> = if cli.modes.is_empty() {
        default_modes.split(',').map(str::to_owned).collect()
    } else {
        cli.modes.clone()
    };
    let modes: Vec<Mode> = mode_names
        .iter()
        .map(|s| {
            MODES
                .iter()
                .find(|m| m.name == s)
                .copied()
                .with_context(|| format!("unknown mode {s:?}"))
        })
        .collect::<Result<_>>()?;

    if cli.scenario == Scenario::ServiceDeath {
        let runs = repeat(&cli, &impls, &modes, |imp, mode| {
            failover::run_service_death([imp, imp], mode)
        });
        if let Some(path) = &cli.json {
            let doc = serde_json::json!({ "scenario": "service-death", "runs": runs });
            std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
        }
        print!("{}", report(&impls, &modes, &runs, &DEATH_METRICS));
        return Ok(());
    }

    let runs = repeat(&cli, &impls, &modes, failover::run_failover);

    let mut cpu = Vec::new();
    if cli.cpu_secs > 0 {
        let mode = MODES[2];
        eprintln!(
            "== cpu {} for {} s, {} side by side",
            mode.name,
            cli.cpu_secs,
            cli.impls.join(" and ")
        );
        let samples = catch(|| failover::run_cpu(&impls, &mode, Duration::from_secs(cli.cpu_secs)));
        for (i, &imp) in impls.iter().enumerate() {
            let sample = samples.as_ref().map(|s| s[i].clone());
            eprintln!("   {} {sample:?}", imp.name());
            cpu.push(CpuRun {
                imp: imp.name(),
                mode: mode.name,
                sample,
            });
        }
    }

    if let Some(path) = &cli.json {
        let doc = serde_json::json!({ "runs": runs, "cpu": cpu });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    print!("{}", report(&impls, &modes, &runs, &METRICS));
    print!("{}", cpu_report(&cpu));
    Ok(())
}

/// Every mode × implementation, `cli.reps` times, interleaved.
fn repeat<S: std::fmt::Debug>(
    cli: &Cli,
    impls: &[Impl],
    modes: &[Mode],
    run: impl Fn(Impl, &Mode) -> S,
) -> Vec<Run<S>> {
    let mut runs = Vec::new();
    for rep in 1..=cli.reps {
        for mode in modes {
            for &imp in impls {
                eprintln!("== rep {rep}/{} {} {}", cli.reps, mode.name, imp.name());
                let sample = catch(|| run(imp, mode));
                match &sample {
                    Some(s) => eprintln!("   {s:?}"),
                    None => eprintln!("   FAILED (see the log above)"),
                }
                runs.push(Run {
                    imp: imp.name(),
                    mode: mode.name,
                    rep,
                    sample,
                });
            }
        }
    }
    runs
}

fn catch<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).ok()
}

/// One metric of a sample.
struct Metric<S> {
    name: &'static str,
    unit: &'static str,
    get: fn(&S) -> Option<f64>,
}

const DEATH_METRICS: [Metric<DeathSample>; 5] = [
    Metric {
        name: "service killed → first reply from backup",
        unit: "ms",
        get: |s| Some(s.takeover_ms),
    },
    Metric {
        name: "service death: lost probes",
        unit: "",
        get: |s| Some(s.lost as f64),
    },
    Metric {
        name: "service killed → master's first lowered advert",
        unit: "ms",
        get: |s| s.lowered_advert_ms,
    },
    Metric {
        name: "(that advert's priority: 0 = resigned)",
        unit: "",
        get: |s| s.lowered_advert_priority.map(f64::from),
    },
    Metric {
        name: "(instrument) longest gap between probes",
        unit: "ms",
        get: |s| Some(s.max_probe_gap_ms),
    },
];

const METRICS: [Metric<Sample>; 8] = [
    Metric {
        name: "kill -9 → first reply from backup",
        unit: "ms",
        get: |s| Some(s.kill9_takeover_ms),
    },
    Metric {
        name: "kill -9: master's last advert → first reply",
        unit: "ms",
        get: |s| s.kill9_after_last_advert_ms,
    },
    Metric {
        name: "kill -9: lost probes",
        unit: "",
        get: |s| Some(s.kill9_lost as f64),
    },
    Metric {
        name: "SIGTERM → first reply from backup",
        unit: "ms",
        get: |s| Some(s.term_handover_ms),
    },
    Metric {
        name: "SIGTERM: lost probes",
        unit: "",
        get: |s| Some(s.term_lost as f64),
    },
    Metric {
        name: "preemption back: start → first reply from master",
        unit: "ms",
        get: |s| Some(s.preempt_switch_ms),
    },
    Metric {
        name: "preemption back: lost probes",
        unit: "",
        get: |s| Some(s.preempt_lost as f64),
    },
    Metric {
        name: "(instrument) longest gap between probes",
        unit: "ms",
        get: |s| Some(s.max_probe_gap_ms),
    },
];

struct Stats {
    median: f64,
    min: f64,
    max: f64,
    n: usize,
}

fn stats(mut v: Vec<f64>) -> Option<Stats> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        median,
        min: v[0],
        max: v[n - 1],
        n,
    })
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e9 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn report<S>(impls: &[Impl], modes: &[Mode], runs: &[Run<S>], metrics: &[Metric<S>]) -> String {
    let mut out = String::new();
    let base = impls[0];
    for mode in modes {
        out += &format!("\n### {}\n\n", mode.name);
        out += "| metric |";
        for imp in impls {
            out += &format!(" {} median [min–max] (n) |", imp.name());
        }
        for imp in &impls[1..] {
            out += &format!(
                " {} ÷ {} median | spread (max−min) ÷ |",
                imp.name(),
                base.name()
            );
        }
        out += "\n|---|";
        out += &"---|".repeat(impls.len() + (impls.len() - 1) * 2);
        out += "\n";
        for m in metrics {
            let st: Vec<Option<Stats>> = impls
                .iter()
                .map(|imp| {
                    stats(
                        runs.iter()
                            .filter(|r| r.imp == imp.name() && r.mode == mode.name)
                            .filter_map(|r| r.sample.as_ref().and_then(m.get))
                            .collect(),
                    )
                })
                .collect();
            out += &format!("| {} |", m.name);
            for s in &st {
                match s {
                    Some(s) => {
                        out += &format!(
                            " {}{} [{}–{}] ({}) |",
                            fmt_num(s.median),
                            m.unit,
                            fmt_num(s.min),
                            fmt_num(s.max),
                            s.n
                        )
                    }
                    None => out += " – |",
                }
            }
            let comparable = m.unit == "ms" && !m.name.starts_with('(');
            for s in &st[1..] {
                match (s, &st[0]) {
                    (Some(a), Some(b)) if comparable && b.median > 0.0 => {
                        let spread = |x: &Stats| x.max - x.min;
                        out += &format!(" {:.2} |", a.median / b.median);
                        if spread(b) > 0.0 {
                            out += &format!(" {:.2} |", spread(a) / spread(b));
                        } else {
                            out += " – |";
                        }
                    }
                    _ => out += " | |",
                }
            }
            out += "\n";
        }
        let failed: Vec<String> = runs
            .iter()
            .filter(|r| r.mode == mode.name && r.sample.is_none())
            .map(|r| format!("{} rep {}", r.imp, r.rep))
            .collect();
        if !failed.is_empty() {
            out += &format!("\nFailed runs: {}\n", failed.join(", "));
        }
    }
    out
}

fn cpu_report(cpu: &[CpuRun]) -> String {
    let mut out = String::new();
    if !cpu.is_empty() {
        out += "\n### CPU at v3 10 ms adverts (% of one core)\n\n| impl | as master | as backup |\n|---|---|---|\n";
        for c in cpu {
            match &c.sample {
                Some(s) => {
                    out += &format!(
                        "| {} | {:.2}% | {:.2}% |\n",
                        c.imp, s.master_pct, s.backup_pct
                    )
                }
                None => out += &format!("| {} | failed | failed |\n", c.imp),
            }
        }
    }
    out
}
