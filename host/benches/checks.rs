//! Check-engine benchmarks (a command, not criterion: they measure CPU time,
//! RSS and latency distributions, each in a fresh process).
//!
//! ```text
//! cargo bench -p belay --bench checks -- throughput N   # WASM tcp vs native connect
//! cargo bench -p belay --bench checks -- rss N          # RSS with N configured checks
//! cargo bench -p belay --bench checks -- reload K       # file replaced → first new report
//! cargo bench -p belay --bench checks -- instance N     # sandbox cost alone (no I/O)
//! cargo bench -p belay --bench checks -- compile N      # cache-miss load of each stock plugin
//! ```
//!
//! Environment: `BENCH_WORKERS` (tokio worker threads, default 1),
//! `BENCH_CONCURRENCY` and `BENCH_REPS` (throughput), `BENCH_ONLY=native|wasm`
//! (throughput, one side only, for profiling), `BENCH_SECONDS`,
//! `BENCH_INTERVAL_MS` and `BENCH_MAX_CONCURRENT` (rss, default 256 as the
//! runtime's default), `RUST_LOG` (any value: warnings to stderr).
//!
//! `scripts/bench-checks.sh` runs them all. Targets are loopback listeners in
//! a child process (so their CPU is not counted); the native baseline is a
//! tokio `TcpStream::connect` per check, measured in the same run, same
//! runtime, same concurrency, interleaved with the WASM runs.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use belay::check::registry::Lookup;
use belay::check::{
    CheckSpec, Invocation, Labels, Limits, NetPolicy, PluginWatcher, Probe, Registry, Runtime,
    RuntimeConfig, Target, WasmProbe,
};

const LISTENER_ENV: &str = "BELAY_BENCH_LISTENER";

fn main() {
    if let Ok(n) = std::env::var(LISTENER_ENV) {
        listener_main(n.parse().unwrap_or(4));
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let num =
        |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let workers = env_num("BENCH_WORKERS", 1);
    if std::env::var_os("RUST_LOG").is_some() {
        belay::logging::init(belay::logging::LogFormat::Text, "warn");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match args.first().map(String::as_str) {
        Some("throughput") => rt.block_on(throughput(num(1, 1000), workers)),
        Some("rss") => rt.block_on(rss(num(1, 10_000))),
        Some("reload") => rt.block_on(reload(num(1, 40))),
        Some("instance") => rt.block_on(instance(num(1, 20_000))),
        Some("compile") => compile(num(1, 10)),
        _ => {
            eprintln!("usage: checks (throughput N | rss N | reload K | instance N)");
            std::process::exit(2);
        }
    }
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------- listeners

/// Child process: accept-and-close listeners on loopback, one thread each.
fn listener_main(n: usize) {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let ports: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect();
    println!("{}", ports.join(" "));
    std::io::stdout().flush().unwrap();
    let threads: Vec<_> = listeners
        .into_iter()
        .map(|l| {
            std::thread::spawn(move || {
                for c in l.incoming() {
                    drop(c);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

/// The listener child, killed by PID on drop.
struct Listeners {
    child: Child,
    addrs: Vec<SocketAddr>,
}

impl Listeners {
    fn start(n: usize) -> Listeners {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(LISTENER_ENV, n.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn listener child");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("listener ports");
        let addrs = line
            .split_whitespace()
            .map(|p| format!("127.0.0.1:{p}").parse().unwrap())
            .collect();
        Listeners { child, addrs }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ helpers

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Median; NaN for no samples (a side skipped with `BENCH_ONLY`).
fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A registry with the stock tcp plugin, compiled once into a bench cache.
fn registry(max_concurrent: u32) -> Arc<Registry> {
    let cache = bench_dir().join("cache");
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent,
        cache_dir: Some(cache),
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    let registry = Registry::new(runtime);
    let tcp = belay::check::stock_plugin("tcp").expect("stock tcp plugin");
    registry.load_stock("tcp", tcp).expect("load tcp");
    registry
}

fn bench_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-checks")
}

fn tcp_probes(registry: &Arc<Registry>, n: usize, addrs: &[SocketAddr]) -> Vec<Arc<WasmProbe>> {
    (0..n)
        .map(|i| {
            let a = addrs[i % addrs.len()];
            let spec = CheckSpec::new(
                &format!("c{i}"),
                "tcp",
                Target::new(a.ip().to_string(), a.port()),
            )
            .param("timeout", "2s");
            Arc::new(WasmProbe::new(registry.clone(), spec))
        })
        .collect()
}

/// Runs `total` jobs from `concurrency` tasks; returns (wall s, cpu s, failures).
async fn drive<F, Fut>(total: usize, concurrency: usize, job: F) -> (f64, f64, usize)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (job, next, failures) = (job.clone(), next.clone(), failures.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    if !job(i).await {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (
        t0.elapsed().as_secs_f64(),
        cpu_seconds() - cpu0,
        failures.load(Ordering::Relaxed),
    )
}

// --------------------------------------------------------------- throughput

async fn throughput(n: usize, workers: usize) {
    let concurrency = env_num("BENCH_CONCURRENCY", 32);
    let reps = env_num("BENCH_REPS", 3);
    let listeners = Listeners::start(4);
    let registry = registry(1000);
    let probes = Arc::new(tcp_probes(&registry, n, &listeners.addrs));
    let addrs = Arc::new(listeners.addrs.clone());
    // Each measured run does every configured check `rounds` times.
    let rounds = (20_000 / n).max(1);
    let total = n * rounds;

    let native = |addrs: Arc<Vec<SocketAddr>>| {
        move |i: usize| {
            let a = addrs[i % addrs.len()];
            async move { tokio::net::TcpStream::connect(a).await.is_ok() }
        }
    };
    let wasm = |probes: Arc<Vec<Arc<WasmProbe>>>| {
        move |i: usize| {
            let p = probes[i % probes.len()].clone();
            async move { p.probe(Duration::from_secs(2)).await.health.is_healthy() }
        }
    };
    // Warm-up: pool slots, caches, listener accept queues.
    drive(n.min(2000), concurrency, wasm(probes.clone())).await;
    drive(n.min(2000), concurrency, native(addrs.clone())).await;

    // BENCH_ONLY=native|wasm runs one side (for profiling).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let (mut n_rate, mut n_cpu, mut w_rate, mut w_cpu) = (vec![], vec![], vec![], vec![]);
    for _ in 0..reps {
        if only != "wasm" {
            let (wall, cpu, fail) = drive(total, concurrency, native(addrs.clone())).await;
            assert_eq!(fail, 0, "native connects failed");
            n_rate.push(total as f64 / wall);
            n_cpu.push(cpu / total as f64 * 1000.0);
        }
        if only != "native" {
            let (wall, cpu, fail) = drive(total, concurrency, wasm(probes.clone())).await;
            assert_eq!(fail, 0, "wasm checks failed");
            w_rate.push(total as f64 / wall);
            w_cpu.push(cpu / total as f64 * 1000.0);
        }
    }
    let (nr, nc, wr, wc) = (
        median(&mut n_rate),
        median(&mut n_cpu),
        median(&mut w_rate),
        median(&mut w_cpu),
    );
    println!(
        "throughput: {n} configured checks x {rounds} rounds = {total} per run, {reps} runs each (medians), \
         {workers} worker thread(s), {concurrency} in flight"
    );
    println!("  native connect : {nr:>8.0} checks/s   {nc:.4} CPU s per 1000 checks");
    println!("  wasm tcp check : {wr:>8.0} checks/s   {wc:.4} CPU s per 1000 checks");
    println!(
        "  ratio wasm/native CPU: {:.2}x   (goal <= 2x)   one core at wasm cost: {:.0} checks/s (goal >= 10000)",
        wc / nc,
        1000.0 / wc
    );
}

// ----------------------------------------------------------------- instance

/// Fresh instance + call with no network: the tcp plugin with a bad
/// parameter fails before opening a socket. Isolates the sandbox's own cost.
async fn instance(total: usize) {
    let registry = registry(1000);
    let spec = CheckSpec::new("bad", "tcp", Target::new("127.0.0.1", 9)).param("timeout", "x");
    let probe = Arc::new(WasmProbe::new(registry.clone(), spec));
    let job = move |_| {
        let p = probe.clone();
        async move { !p.probe(Duration::from_secs(2)).await.health.is_healthy() }
    };
    let job = Arc::new(job);
    let j = job.clone();
    drive(2000, 1, move |i| j(i)).await;
    let (wall, cpu, fail) = drive(total, 1, move |i| job(i)).await;
    assert_eq!(fail, 0);
    println!(
        "instance: fresh store + instantiate + run (no I/O): {:.1} us CPU, {:.1} us wall per call",
        cpu / total as f64 * 1e6,
        wall / total as f64 * 1e6
    );
}

// ------------------------------------------------------------------ compile

/// Cache-miss load (compile + type-check + link) of each stock plugin.
fn compile(reps: usize) {
    let runtime = Runtime::new(RuntimeConfig {
        max_concurrent: 8,
        ..RuntimeConfig::default()
    })
    .expect("runtime");
    for (name, bytes) in belay::check::stock::stock_plugins() {
        let mut ms: Vec<f64> = (0..reps)
            .map(|_| {
                let t = Instant::now();
                runtime
                    .load(name, belay::check::Origin::Stock, bytes)
                    .expect("stock plugin loads");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "compile {name} ({} KiB): median {:.0} ms, min {:.0} ms, max {:.0} ms ({reps} loads)",
            bytes.len() / 1024,
            ms[ms.len() / 2],
            ms[0],
            ms[ms.len() - 1]
        );
    }
}

// ---------------------------------------------------------------------- rss

async fn rss(n: usize) {
    let secs = env_num("BENCH_SECONDS", 10) as u64;
    let interval = Duration::from_millis(env_num("BENCH_INTERVAL_MS", 1000) as u64);
    let listeners = Listeners::start(4);
    let before_runtime = proc_status_kib("VmRSS:");
    let registry = registry(env_num(
        "BENCH_MAX_CONCURRENT",
        belay::check::runtime::DEFAULT_MAX_CONCURRENT as usize,
    ) as u32);
    let probes = tcp_probes(&registry, n, &listeners.addrs);
    let configured = proc_status_kib("VmRSS:");
    // Every check once per interval, start times spread over the interval,
    // as the scheduler does; one task per check.
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let t0 = tokio::time::Instant::now();
    let tasks: Vec<_> = probes
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
            let offset = interval.mul_f64(i as f64 / n as f64);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval_at(t0 + offset, interval);
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let r = p.probe(Duration::from_secs(2)).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    if !r.health.is_healthy() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let mut peak = 0;
    let mut samples = vec![];
    let end = Instant::now() + Duration::from_secs(secs);
    let cpu0 = cpu_seconds();
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = proc_status_kib("VmRSS:");
        peak = peak.max(r);
        samples.push(r as f64);
    }
    let cpu = cpu_seconds() - cpu0;
    stop.store(true, Ordering::Relaxed);
    for t in &tasks {
        t.abort();
    }
    let checks = done.load(Ordering::Relaxed);
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "rss: {n} configured checks, each every {:?} (spread), {secs}s: {checks} checks ({:.0}/s), {} failed, {:.2} CPU s/s",
        interval,
        checks as f64 / secs as f64,
        failed.load(Ordering::Relaxed),
        cpu / secs as f64
    );
    println!(
        "  RSS MiB: process start {:.1}, runtime+registry+{n} probes {:.1}, running median {:.1}, peak {:.1}   (goal < 64)",
        mib(before_runtime),
        mib(configured),
        median(&mut samples) / 1024.0,
        mib(peak)
    );
}

// ------------------------------------------------------------------- reload

/// `bytes` with a custom section appended: a distinct component (new digest,
/// cache miss) with identical behaviour.
fn variant(bytes: &[u8], tag: &str) -> Vec<u8> {
    fn leb(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    let name = b"belay-bench";
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    leb(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

async fn reload(k: usize) {
    let listeners = Listeners::start(1);
    let dir = bench_dir().join(format!("reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let registry = registry(1000);
    let base = belay::check::stock_plugin("tcp").unwrap();
    let file = dir.join("ver.wasm");
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    std::fs::write(&file, variant(base, &format!("{nonce}-start"))).unwrap();
    let _watcher = PluginWatcher::start(registry.clone(), &dir).await.unwrap();

    let mut fresh = vec![];
    let mut cached = vec![];
    // Two fixed variants alternate for the cached case; fresh ones are new.
    let cached_variants = [
        variant(base, &format!("{nonce}-a")),
        variant(base, &format!("{nonce}-b")),
    ];
    let mut compile = vec![];
    for v in &cached_variants {
        // Put them in the code cache (swapping to them is then a cache
        // hit), timing the compile before any checks run.
        let t = Instant::now();
        registry
            .runtime()
            .load("warm", belay::check::Origin::Stock, v)
            .unwrap();
        compile.push(t.elapsed());
    }
    // Checks run back to back from 4 tasks; each records the first time a
    // digest produced a report.
    // Keyed by load (content digest + load time): the same content loaded
    // again later is a new version to wait for.
    type LoadKey = ([u8; 32], std::time::SystemTime);
    let first_seen: Arc<Mutex<HashMap<LoadKey, Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let addr = listeners.addrs[0];
    let done = Arc::new(AtomicUsize::new(0));
    let gens: Vec<_> = (0..4)
        .map(|_| {
            let (registry, first_seen, stop, done) = (
                registry.clone(),
                first_seen.clone(),
                stop.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                let inv = Invocation {
                    labels: Labels::new("bench", "ver", &addr.to_string()),
                    host: addr.ip().to_string(),
                    port: addr.port(),
                    params: vec![],
                    policy: Arc::new(NetPolicy::new(vec![belay::check::Grant {
                        host: addr.ip().to_string(),
                        port: addr.port(),
                        addrs: vec![addr.ip()],
                    }])),
                    tls: belay::check::tls::public_roots(),
                    limits: Limits::default(),
                };
                while !stop.load(Ordering::Relaxed) {
                    let Lookup::Ready(p) = registry.get("ver") else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    let r = registry
                        .runtime()
                        .run(&p, &inv, Duration::from_secs(2))
                        .await;
                    let now = Instant::now();
                    assert!(r.health.is_healthy(), "{r:?}");
                    done.fetch_add(1, Ordering::Relaxed);
                    first_seen
                        .lock()
                        .unwrap()
                        .entry((p.digest, p.loaded_at))
                        .or_insert(now);
                }
            })
        })
        .collect();

    let t_start = Instant::now();
    for i in 0..k * 2 {
        let is_fresh = i % 2 == 0;
        let bytes = if is_fresh {
            variant(base, &format!("{nonce}-{i}"))
        } else {
            cached_variants[(i / 2) % 2].clone()
        };
        let digest = belay::check::cache::digest(&bytes);
        let by_rename = (i / 2) % 2 == 1;
        let t = if by_rename {
            let tmp = dir.join(".ver.wasm.tmp");
            std::fs::write(&tmp, &bytes).unwrap();
            let t = Instant::now();
            std::fs::rename(&tmp, &file).unwrap();
            t
        } else {
            std::fs::write(&file, &bytes).unwrap();
            Instant::now()
        };
        // Wait for the first report from the version loaded from this write.
        let seen = loop {
            let current = match registry.get("ver") {
                Lookup::Ready(p) if p.digest == digest => Some((p.digest, p.loaded_at)),
                _ => None,
            };
            if let Some(key) = current
                && let Some(&s) = first_seen.lock().unwrap().get(&key)
            {
                break s;
            }
            if t.elapsed() > Duration::from_secs(10) {
                panic!("swap {i}: no report from the new version within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        if is_fresh {
            fresh.push(seen - t);
        } else {
            cached.push(seen - t);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for g in gens {
        let _ = g.await;
    }
    let rate = done.load(Ordering::Relaxed) as f64 / t_start.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    for (what, mut v) in [("new content (compile)", fresh), ("cached content", cached)] {
        v.sort();
        println!(
            "reload {what}: {} swaps (in place and rename), file replaced -> first report: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms   (goal p99 < 500 ms)",
            v.len(),
            percentile(&v, 0.5).as_secs_f64() * 1e3,
            percentile(&v, 0.99).as_secs_f64() * 1e3,
            v.last().unwrap().as_secs_f64() * 1e3
        );
    }
    println!(
        "  while checks ran at {rate:.0}/s; compiling the {} KiB plugin (cache miss) with no checks running took {:.0} and {:.0} ms",
        base.len() / 1024,
        compile[0].as_secs_f64() * 1e3,
        compile[1].as_secs_f64() * 1e3
    );
}
