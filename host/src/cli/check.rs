//! `belay check --plugin NAME|PATH.wasm --target HOST:PORT [--param k=v ...]`:
//! run one check and print its report as JSON (for plugin authors).
//!
//! Exit status: 0 healthy, 1 unhealthy, 2 usage or load error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use belay::check::limits::Limits;
use belay::check::registry::{Lookup, Registry};
use belay::check::runtime::{Runtime, RuntimeConfig};
use belay::check::target::Target;
use belay::check::wasm_probe::{CheckSpec, WasmProbe};
use belay::check::{Probe, Report};
use belay::config::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// A stock plugin name (`tcp`, `http`) or a path to a `.wasm` component.
    #[arg(long, value_name = "NAME|PATH.wasm")]
    pub plugin: String,
    /// What to check, as HOST:PORT (IPv6 as [ADDR]:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    pub target: Target,
    /// A plugin parameter; repeat for more.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Wall-clock limit for the whole check.
    #[arg(long, default_value = "2s")]
    pub timeout: Duration,
    /// Memory cap of the plugin, in MiB.
    #[arg(long, default_value_t = 32)]
    pub memory_mib: usize,
    /// Compiled-plugin cache (default: /var/cache/belay as root, else
    /// $XDG_CACHE_HOME/belay or ~/.cache/belay).
    #[arg(long, env = "BELAY_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile in memory; read and write no cache.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// HTTPS: trust this PEM CA bundle instead of the public roots.
    #[arg(long, value_name = "PEM")]
    pub tls_ca: Option<PathBuf>,
    /// HTTPS: accept any certificate.
    #[arg(long, conflicts_with = "tls_ca")]
    pub tls_no_verify: bool,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    if k.is_empty() {
        return Err(format!("`{s}` has an empty key"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Default cache location for this user.
pub fn default_cache_dir() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from("/var/cache/belay"));
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .map(|d| d.join("belay"))
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cache_dir = if args.no_cache {
        None
    } else {
        args.cache_dir.clone().or_else(default_cache_dir)
    };
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent: 4,
        cache_dir,
        ..RuntimeConfig::default()
    })?;
    let registry = Registry::new(runtime);
    let name = match load_plugin(&registry, &args.plugin).await {
        Ok(name) => name,
        Err(e) => {
            eprintln!("belay check: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let timeout = args.timeout.get();
    let spec = CheckSpec {
        name: "cli".into(),
        plugin: name.clone(),
        target: args.target.clone(),
        params: args.params.clone(),
        limits: Limits {
            memory: args.memory_mib << 20,
            cpu: timeout,
        },
        tls: belay::check::tls::TlsSettings {
            ca: args.tls_ca.clone(),
            verify: !args.tls_no_verify,
        },
    };
    let probe = WasmProbe::new(registry.clone(), spec);
    let report = probe.probe(timeout).await;
    let version = match registry.get(&name) {
        Lookup::Ready(p) => Some(p.version()),
        _ => None,
    };
    println!(
        "{}",
        render(&report, &name, version.as_deref(), &args.target)?
    );
    Ok(if report.health.is_healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Loads `plugin` (a stock name or a file path); returns its registry name.
async fn load_plugin(registry: &Arc<Registry>, plugin: &str) -> anyhow::Result<String> {
    let is_path = plugin.ends_with(".wasm") || plugin.contains('/');
    if is_path {
        let path = PathBuf::from(plugin);
        let name = belay::check::registry::plugin_name(&path).unwrap_or_else(|| "custom".into());
        let (reg, p, n) = (registry.clone(), path.clone(), name.clone());
        tokio::task::spawn_blocking(move || reg.load_named_file(&n, &p))
            .await?
            .with_context(|| format!("cannot load {}", path.display()))?;
        Ok(name)
    } else {
        let stock = belay::check::stock::stock_plugins();
        let Some((name, bytes)) = stock.iter().find(|(n, _)| *n == plugin) else {
            let known: Vec<&str> = stock.iter().map(|(n, _)| *n).collect();
            anyhow::bail!(
                "no stock plugin `{plugin}` (stock plugins: {}); give a path to a .wasm file for a custom one",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
        };
        let (reg, name, bytes) = (registry.clone(), *name, *bytes);
        tokio::task::spawn_blocking(move || reg.load_stock(name, bytes))
            .await?
            .with_context(|| format!("cannot load stock plugin `{name}`"))?;
        Ok(name.to_owned())
    }
}

fn render(
    report: &Report,
    plugin: &str,
    version: Option<&str>,
    target: &Target,
) -> anyhow::Result<String> {
    let mut v = serde_json::to_value(report)?;
    if let Some(obj) = v.as_object_mut() {
        // Friendlier than the contract's pairs: `"metrics": {"status": 200}`,
        // latency rounded to microseconds.
        let metrics: serde_json::Map<String, serde_json::Value> = report
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), (*v).into()))
            .collect();
        obj.insert("metrics".into(), metrics.into());
        let ms = (report.latency.as_secs_f64() * 1e6).round() / 1e3;
        obj.insert("latency".into(), ms.into());
        obj.insert("plugin".into(), plugin.into());
        if let Some(version) = version {
            obj.insert("version".into(), version.into());
        }
        obj.insert("target".into(), target.to_string().into());
    }
    Ok(serde_json::to_string_pretty(&v)?)
}
