//! The wasmtime runtime for check plugins: one engine, one linker, one epoch
//! ticker for the whole daemon; a fresh sandboxed store per check invocation.
//!
//! Why this shape: a fresh instance from an `InstancePre` on a pooling
//! allocator costs tens of microseconds, so isolating every invocation (no
//! state leaks between checks or targets, a trap poisons nothing) is cheaper
//! than managing long-lived instances. The pool is sized for the concurrency
//! we allow; a semaphore makes excess checks wait (within their timeout)
//! instead of failing on an exhausted pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

use super::bindings::{self, HealthCheckPre};
use super::cache::{self, CacheOutcome, CodeCache};
use super::labels::Labels;
use super::limits::{CpuDeadlineExceeded, Limits, MemoryCapExceeded, WallTimeout};
use super::plugin::{CHECK_EXPORT, LoadError, Origin, Plugin, error_chain};
use super::policy::NetPolicy;
use super::report::{Health, Report};
use super::sandbox::{BelayImports, Sandbox, truncate};
use super::stderr::StderrTail;

/// Sizing of the runtime, shared by all checks.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Checks that may execute at the same time (pool slots). More wait.
    pub max_concurrent: u32,
    /// Upper bound for any check's memory cap (the pool's slot size).
    pub max_memory: usize,
    /// Epoch tick: granularity of CPU deadlines and of yielding to other checks.
    pub epoch_tick: Duration,
    /// Where compiled plugins are cached; `None` compiles in memory only.
    pub cache_dir: Option<PathBuf>,
}

/// Default for `max_concurrent_checks`: bounds memory, since every check in
/// flight holds a pool slot (~90 KiB resident: its linear memory and stack).
/// 256 keeps 10,000 checks a second under 64 MiB even when the engine falls
/// behind and the backlog fills every slot; more slots only help targets that
/// hold checks open until their timeout (256 / 3 s ≈ 85 such checks a second).
pub const DEFAULT_MAX_CONCURRENT: u32 = 256;

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_memory: 256 << 20,
            epoch_tick: Duration::from_millis(1),
            cache_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot create the wasm engine: {0}")]
    Engine(String),
    #[error("cannot set up the plugin linker: {0}")]
    Linker(String),
}

/// One check invocation's inputs, as the plugin and the sandbox see them.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub labels: Labels,
    /// Host handed to the plugin (an address literal: plugins do no DNS).
    pub host: String,
    pub port: u16,
    pub params: Vec<(String, String)>,
    pub policy: Arc<NetPolicy>,
    /// Whom HTTPS requests trust ([`super::tls`]).
    pub tls: Arc<rustls::ClientConfig>,
    pub limits: Limits,
}

/// The engine and everything shared between invocations.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    permits: Semaphore,
    config: RuntimeConfig,
    cache: Option<CodeCache>,
    _ticker: EpochTicker,
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Arc<Runtime>, RuntimeError> {
        let engine = Engine::new(&engine_config(&config))
            .map_err(|e| RuntimeError::Engine(error_chain(&e)))?;
        let linker = make_linker(&engine).map_err(|e| RuntimeError::Linker(error_chain(&e)))?;
        let cache = config.cache_dir.as_deref().and_then(|dir| {
            CodeCache::open(dir, &engine)
                .inspect_err(|e| tracing::warn!(error = %e, "plugin cache disabled"))
                .ok()
        });
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick);
        Ok(Arc::new(Runtime {
            permits: Semaphore::new(config.max_concurrent as usize),
            engine,
            linker,
            cache,
            config,
            _ticker: ticker,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    pub fn cache(&self) -> Option<&CodeCache> {
        self.cache.as_ref()
    }

    /// Compiles (or loads from cache), type-checks and links a component.
    /// Blocking and CPU-heavy on a cache miss: call it off the async threads.
    pub fn load(&self, name: &str, origin: Origin, bytes: &[u8]) -> Result<Plugin, LoadError> {
        let digest = cache::digest(bytes);
        let (component, outcome) = match &self.cache {
            Some(c) => c.load_or_compile(&self.engine, bytes, &digest),
            None => {
                Component::new(&self.engine, bytes).map(|c| (c, CacheOutcome::CompiledUnstored))
            }
        }
        .map_err(|e| LoadError::Invalid(error_chain(&e)))?;
        let pre = self.link(&component)?;
        Ok(Plugin {
            name: name.to_owned(),
            origin,
            digest,
            loaded_at: SystemTime::now(),
            cache: outcome,
            pre,
        })
    }

    /// Type-checks exports and imports, naming what is wrong.
    fn link(&self, component: &Component) -> Result<HealthCheckPre<Sandbox>, LoadError> {
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        if !exports.iter().any(|e| e.starts_with(CHECK_EXPORT)) {
            let exports = if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports.join(", ")
            };
            return Err(LoadError::MissingExport { exports });
        }
        self.check_run_signature(component)?;
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::Import(error_chain(&e)))?;
        HealthCheckPre::new(pre).map_err(|e| LoadError::WrongExport(error_chain(&e)))
    }

    /// `run` must have exactly the WIT signature; wasmtime would otherwise
    /// only notice at the first call.
    fn check_run_signature(&self, component: &Component) -> Result<(), LoadError> {
        let wrong = |m: String| Err(LoadError::WrongExport(m));
        let ty = component.component_type();
        let Some((name, export)) = ty
            .exports(&self.engine)
            .find(|(n, _)| n.starts_with(CHECK_EXPORT))
        else {
            return wrong(format!("no `{CHECK_EXPORT}x` export"));
        };
        let ComponentItem::ComponentInstance(instance) = export.ty else {
            return wrong(format!("`{name}` is not an interface"));
        };
        let Some(run) = instance.get_export(&self.engine, "run") else {
            return wrong(format!("`{name}` has no function `run`"));
        };
        let ComponentItem::ComponentFunc(func) = run.ty else {
            return wrong(format!("`{name}#run` is not a function"));
        };
        func.typecheck::<(bindings::Target, Vec<(String, String)>), (bindings::Report,)>(
            &ty.instance_type(),
        )
        .map_err(|e| {
            LoadError::WrongExport(format!(
                "`{name}#run` must be `func(target: target, params: list<tuple<string, string>>) -> report`: {}",
                error_chain(&e)
            ))
        })
    }

    /// Runs one check: a fresh store, the plugin's `run`, bounded by the
    /// memory cap, the CPU deadline and the wall-clock `timeout` (which also
    /// covers waiting for a slot and time blocked in host calls). Never
    /// panics; every failure is an unhealthy report with a reason.
    pub async fn run(&self, plugin: &Plugin, inv: &Invocation, timeout: Duration) -> Report {
        self.run_from(Instant::now(), plugin, inv, timeout).await
    }

    /// [`Runtime::run`] for an attempt that began at `start` (time spent
    /// before, e.g. resolving the target, counts against `timeout`).
    pub async fn run_from(
        &self,
        start: Instant,
        plugin: &Plugin,
        inv: &Invocation,
        timeout: Duration,
    ) -> Report {
        let stderr = StderrTail::new();
        let deadline = start + timeout;
        let call = self.call(plugin, inv, stderr.clone(), deadline, timeout);
        let outcome = tokio::time::timeout_at(deadline.into(), call).await;
        let latency = start.elapsed();
        match outcome {
            Err(_elapsed) => {
                Report::failed(format!("timeout after {}", fmt_duration(timeout)), latency)
            }
            Ok(Ok(report)) => from_wit(report, latency),
            Ok(Err(e)) => {
                let reason = failure_reason(&e, &stderr, inv.limits);
                let l = &inv.labels;
                tracing::debug!(check = %l.check, plugin = %l.plugin, target = %l.target,
                    error = %error_chain(&e), %reason, "plugin failed");
                Report::failed(reason, latency)
            }
        }
    }

    async fn call(
        &self,
        plugin: &Plugin,
        inv: &Invocation,
        stderr: StderrTail,
        deadline: Instant,
        timeout: Duration,
    ) -> wasmtime::Result<bindings::Report> {
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| wasmtime::Error::msg("runtime shut down"))?;
        let memory = inv.limits.memory.min(self.config.max_memory);
        let sandbox = Sandbox::new(
            inv.labels.clone(),
            inv.policy.clone(),
            inv.tls.clone(),
            memory,
            stderr,
        );
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|s| &mut s.limiter);
        let tick = self.config.epoch_tick;
        let cpu_ticks = (inv.limits.cpu.as_nanos() / tick.as_nanos().max(1)).max(1) as u64;
        let cpu = inv.limits.cpu;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let s = ctx.data_mut();
            s.cpu_ticks += 1;
            if s.cpu_ticks > cpu_ticks {
                return Err(wasmtime::Error::new(CpuDeadlineExceeded(cpu)));
            }
            // The wall-clock deadline is also checked here: while plugins
            // spin, the async timer may not be serviced promptly.
            if Instant::now() >= deadline {
                return Err(wasmtime::Error::new(WallTimeout(timeout)));
            }
            // Yield every tick through tokio's `yield_now`, which lets the
            // worker service timers and I/O before resuming us: a spinning
            // plugin never holds a worker for more than one tick, so other
            // checks stay on schedule.
            Ok(UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        let instance = plugin.pre.instantiate_async(&mut store).await?;
        let target = bindings::Target {
            host: inv.host.clone(),
            port: inv.port,
        };
        instance
            .belay_check_check()
            .call_run(&mut store, &target, &inv.params)
            .await
    }
}

/// Engine settings: component model, async, epochs, pooling.
fn engine_config(rc: &RuntimeConfig) -> Config {
    let n = rc.max_concurrent.max(1);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(8))
        .total_memories(n.saturating_mul(2))
        .total_tables(n.saturating_mul(8))
        .total_stacks(n)
        .total_gc_heaps(1)
        .max_memory_size(rc.max_memory)
        // Reset a reused slot by rewriting only the pages the last check
        // dirtied, found with the PAGEMAP_SCAN ioctl (Linux >= 6.7; `Auto`
        // falls back to a memset of the kept range on older kernels), instead
        // of an madvise + page faults per check. Halves the cost of a fresh
        // instance + call (~38 -> ~19 us, `checks instance`, kernel 6.18).
        .linear_memory_keep_resident(64 << 10)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut c = Config::new();
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .wasm_gc(false)
        .wasm_function_references(false)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

fn make_linker(engine: &Engine) -> wasmtime::Result<Linker<Sandbox>> {
    let mut linker = Linker::<Sandbox>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::belay::check::types::add_to_linker::<Sandbox, BelayImports>(&mut linker, |s| s)?;
    bindings::belay::check::log::add_to_linker::<Sandbox, BelayImports>(&mut linker, |s| s)?;
    bindings::belay::check::tcp_probe::add_to_linker::<Sandbox, BelayImports>(&mut linker, |s| s)?;
    Ok(linker)
}

/// Metrics and text a plugin may return, bounded so a hostile plugin cannot
/// bloat reports, logs or the status API.
const MAX_METRICS: usize = 64;
const MAX_NAME_BYTES: usize = 128;
const MAX_TEXT_BYTES: usize = 1024;

fn from_wit(r: bindings::Report, latency: Duration) -> Report {
    let health = match r.status {
        bindings::Status::Healthy => Health::Healthy,
        bindings::Status::Unhealthy(reason) if reason.trim().is_empty() => {
            Health::Unhealthy("unhealthy (the plugin gave no reason)".into())
        }
        bindings::Status::Unhealthy(reason) => {
            Health::Unhealthy(truncate(&reason, MAX_TEXT_BYTES).to_owned())
        }
    };
    Report {
        health,
        weight: r.weight,
        metrics: r
            .metrics
            .into_iter()
            .filter(|m| m.value.is_finite())
            .take(MAX_METRICS)
            .map(|m| (truncate(&m.name, MAX_NAME_BYTES).to_owned(), m.value))
            .collect(),
        message: r.message.map(|m| truncate(&m, MAX_TEXT_BYTES).to_owned()),
        latency,
    }
}

/// Turns a failed call into the reason a human reads.
fn failure_reason(e: &wasmtime::Error, stderr: &StderrTail, limits: Limits) -> String {
    if let Some(m) = e.downcast_ref::<MemoryCapExceeded>() {
        return format!(
            "memory limit exceeded: the plugin tried to grow to {} MiB, cap is {} MiB",
            m.desired.div_ceil(1 << 20),
            m.cap >> 20
        );
    }
    if let Some(WallTimeout(t)) = e.downcast_ref::<WallTimeout>() {
        return format!("timeout after {}", fmt_duration(*t));
    }
    if e.downcast_ref::<CpuDeadlineExceeded>().is_some() {
        return format!(
            "timeout: CPU deadline of {} exceeded",
            fmt_duration(limits.cpu)
        );
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return format!("plugin exited with status {}", exit.0);
    }
    if let Some(msg) = stderr.panic_message() {
        return format!("panic: {}", truncate(&msg, MAX_TEXT_BYTES));
    }
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        let last = stderr
            .text()
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!(" (stderr: {})", truncate(l.trim(), 256)))
            .unwrap_or_default();
        return format!("trap: {trap}{last}");
    }
    format!(
        "plugin error: {}",
        truncate(&error_chain(e), MAX_TEXT_BYTES)
    )
}

/// `1500ms`, `2s`: durations as written in the config.
pub(crate) fn fmt_duration(d: Duration) -> String {
    crate::config::Duration(d).to_string()
}

/// Advances the engine's epoch every tick on one thread for the whole
/// process; stopped and joined on drop.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("belay-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the epoch ticker thread: CPU deadlines will not fire");
        }
        EpochTicker { stop, thread }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_config() {
        assert_eq!(fmt_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1500ms");
    }
}
