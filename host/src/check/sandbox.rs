//! The per-invocation store data: everything a plugin can touch lives here
//! and dies with the store when the check returns.
//!
//! Plugins get no filesystem (no preopens), no environment, no arguments, no
//! stdin, stdout discarded and stderr captured (bounded) for panic messages.
//! Their network reach is the check's [`NetPolicy`].

use std::sync::Arc;

use wasmtime::component::{HasData, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::belay::check::log;
use super::labels::Labels;
use super::limits::StoreLimiter;
use super::policy::{self, NetPolicy, PolicyHooks};
use super::stderr::StderrTail;

/// Log lines one invocation may emit; the rest are counted and dropped.
pub const MAX_LOG_LINES: u32 = 64;
/// Longest log message kept, in bytes.
pub const MAX_LOG_BYTES: usize = 1024;
/// Host resources (sockets, streams, pollables, HTTP messages...) one
/// invocation may hold at once: bounds the file descriptors and host memory a
/// plugin can pin. A TCP or HTTP check needs a few dozen.
pub const MAX_RESOURCES: usize = 256;

/// `T` of `Store<T>` for one check invocation.
pub struct Sandbox {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) hooks: PolicyHooks,
    table: ResourceTable,
    pub(crate) limiter: StoreLimiter,
    pub(crate) labels: Labels,
    /// Epoch ticks during which the guest was executing wasm.
    pub(crate) cpu_ticks: u64,
    log_lines: u32,
}

impl Sandbox {
    pub(crate) fn new(
        labels: Labels,
        policy: Arc<NetPolicy>,
        tls: Arc<rustls::ClientConfig>,
        memory_cap: usize,
        stderr: StderrTail,
    ) -> Sandbox {
        let mut b = WasiCtxBuilder::new();
        b.stderr(stderr.clone())
            .allow_tcp(true)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(policy::socket_addr_check(policy.clone(), labels.clone()));
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        Sandbox {
            wasi: b.build(),
            http: WasiHttpCtx::new(),
            hooks: PolicyHooks {
                policy,
                tls,
                labels: labels.clone(),
            },
            table,
            limiter: StoreLimiter::new(memory_cap),
            labels,
            cpu_ticks: 0,
            log_lines: 0,
        }
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// `HasData` marker for belay's own imports (`types`, `log`, `tcp-probe`),
/// all served by the store's `Sandbox`.
pub(crate) struct BelayImports;

impl HasData for BelayImports {
    type Data<'a> = &'a mut Sandbox;
}

impl log::Host for Sandbox {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        self.log_lines += 1;
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                let l = &self.labels;
                tracing::warn!(check = %l.check, plugin = %l.plugin, target = %l.target,
                    "plugin log limit reached ({MAX_LOG_LINES} lines per run); dropping the rest");
            }
            return Ok(());
        }
        let msg = truncate(&message, MAX_LOG_BYTES);
        let l = &self.labels;
        let (check, plugin, target) = (&*l.check, &*l.plugin, &*l.target);
        match level {
            log::Level::Trace => tracing::trace!(check, plugin, target, "{msg}"),
            log::Level::Debug => tracing::debug!(check, plugin, target, "{msg}"),
            log::Level::Info => tracing::info!(check, plugin, target, "{msg}"),
            log::Level::Warn => tracing::warn!(check, plugin, target, "{msg}"),
            log::Level::Error => tracing::error!(check, plugin, target, "{msg}"),
        }
        Ok(())
    }
}

impl super::bindings::belay::check::types::Host for Sandbox {}

/// The longest prefix of `s` within `max` bytes, on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
