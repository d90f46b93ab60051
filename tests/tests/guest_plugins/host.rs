//! A minimal wasmtime host for the guest tests: real WASI (sockets, http,
//! clocks, stdio) from wasmtime-wasi and wasmtime-wasi-http, a `log` import,
//! network reach limited to an allow-list, a memory cap, an epoch deadline
//! and captured stderr. `belay:check/tcp-probe` is belay's own
//! implementation (`belay::check::tcp_probe`) under the same allow-list. It
//! holds none of belay's runtime policy (pooling,
//! caching, scheduling); it exists so the plugins' own behaviour is tested
//! on its own.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use belay::check::bindings::belay::check::tcp_probe::Request as ProbeRequest;
use belay::check::bindings::belay::check::types::Target as ProbeTarget;
use belay::check::{Grant, Labels, NetPolicy, tcp_probe};
use http_body_util::BodyExt;
use wasmtime::component::{Component, ComponentType, Lift, Linker, Lower, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, ForbiddenHeaderFilter, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

#[derive(ComponentType, Lower, Clone, Debug)]
#[component(record)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

#[derive(ComponentType, Lift, Clone, Debug, PartialEq)]
#[component(variant)]
pub enum Status {
    #[component(name = "healthy")]
    Healthy,
    #[component(name = "unhealthy")]
    Unhealthy(String),
}

#[derive(ComponentType, Lift, Clone, Debug, PartialEq)]
#[component(record)]
pub struct Metric {
    pub name: String,
    pub value: f64,
}

#[derive(ComponentType, Lift, Clone, Debug, PartialEq)]
#[component(record)]
pub struct Report {
    pub status: Status,
    pub weight: Option<i32>,
    pub metrics: Vec<Metric>,
    pub message: Option<String>,
}

impl Report {
    pub fn reason(&self) -> Option<&str> {
        match &self.status {
            Status::Healthy => None,
            Status::Unhealthy(r) => Some(r),
        }
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.value)
    }
}

/// Lifted from the guest's log calls; never built on the host side.
#[allow(dead_code)]
#[derive(ComponentType, Lift, Clone, Copy, Debug)]
#[component(enum)]
#[repr(u8)]
pub enum Level {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

/// What one call produced.
#[derive(Debug)]
pub struct Outcome {
    /// The report, or the trap/instantiation error as text.
    pub result: Result<Report, String>,
    pub stderr: String,
    pub logs: Vec<String>,
    pub elapsed: Duration,
}

impl Outcome {
    #[track_caller]
    pub fn report(&self) -> &Report {
        match &self.result {
            Ok(r) => r,
            Err(e) => panic!("plugin trapped: {e}\nstderr: {}", self.stderr),
        }
    }
}

/// How a call is bounded and what it may reach.
pub struct Limits {
    pub allowed: Vec<SocketAddr>,
    pub memory: usize,
    pub deadline: Duration,
}

impl Limits {
    pub fn to(allowed: &[SocketAddr]) -> Limits {
        Limits {
            allowed: allowed.to_vec(),
            memory: 64 << 20,
            deadline: Duration::from_secs(10),
        }
    }
}

struct Hooks {
    allowed: Vec<SocketAddr>,
}

impl WasiHttpHooks for Hooks {
    // Guests may set Host (virtual hosts); the default is set in send_request.
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(|name| *name != http::header::HOST && DEFAULT_FORBIDDEN_HEADERS.contains(name))
    }

    fn set_host_header(&mut self) -> bool {
        false
    }

    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<wasmtime_wasi_http::WasiBody>,
                        Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                    ),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        drop(fut);
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let allowed = authority
            .parse::<SocketAddr>()
            .is_ok_and(|a| self.allowed.contains(&a));
        if !allowed {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if !request.headers().contains_key(http::header::HOST)
            && let Ok(v) = http::HeaderValue::from_str(&authority)
        {
            request.headers_mut().insert(http::header::HOST, v);
        }
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

struct State {
    table: ResourceTable,
    policy: Arc<NetPolicy>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    limits: StoreLimits,
    logs: Vec<String>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).expect("engine");
        let ticker = engine.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(10));
                ticker.increment_epoch();
            }
        });
        engine
    })
}

fn linker() -> &'static Linker<State> {
    static LINKER: OnceLock<Linker<State>> = OnceLock::new();
    LINKER.get_or_init(|| {
        let mut linker = Linker::new(engine());
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("wasi-http");
        linker
            .instance("belay:check/log@0.1.0")
            .expect("log instance")
            .func_wrap(
                "log",
                |mut store: wasmtime::StoreContextMut<'_, State>,
                 (level, message): (Level, String)| {
                    store.data_mut().logs.push(format!("{level:?}: {message}"));
                    Ok(())
                },
            )
            .expect("log func");
        linker
            .instance("belay:check/tcp-probe@0.1.0")
            .expect("tcp-probe instance")
            .func_wrap_async(
                "probe",
                |store: wasmtime::StoreContextMut<'_, State>,
                 (target, request): (ProbeTarget, ProbeRequest)| {
                    let policy = store.data().policy.clone();
                    Box::new(async move {
                        let labels = Labels::new("guest-test", "plugin", "target");
                        Ok((tcp_probe::probe(&policy, &labels, &target, request).await,))
                    })
                },
            )
            .expect("tcp-probe func");
        linker
    })
}

/// Compiles a component once per process.
pub fn component(path: &Path) -> Component {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Component>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    cache
        .entry(path.to_owned())
        .or_insert_with(|| {
            Component::from_file(engine(), path)
                .unwrap_or_else(|e| panic!("{}: not a valid component: {e:?}", path.display()))
        })
        .clone()
}

/// Instantiates `plugin` in a fresh store and calls `run` once.
pub async fn call(
    plugin: &Path,
    target: Target,
    params: &[(&str, &str)],
    limits: Limits,
) -> Outcome {
    let component = component(plugin);
    let stderr = MemoryOutputPipe::new(64 * 1024);
    let allowed = Arc::new(limits.allowed.clone());
    let wasi = WasiCtxBuilder::new()
        .stderr(stderr.clone())
        // TCP is off by default in wasmtime-wasi 48.
        .allow_tcp(true)
        .socket_addr_check(move |addr, use_| {
            // wasmtime-wasi checks the implicit bind (unspecified address,
            // port 0) before every connect; only connects are restricted.
            let ok = match use_ {
                SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
                SocketAddrUse::TcpConnect => allowed.contains(&addr),
                _ => false,
            };
            Box::pin(async move { ok })
        })
        .build();
    let grants = limits
        .allowed
        .iter()
        .map(|a| Grant {
            host: a.ip().to_string(),
            port: a.port(),
            addrs: vec![a.ip()],
        })
        .collect();
    let state = State {
        table: ResourceTable::new(),
        policy: Arc::new(NetPolicy::new(grants)),
        wasi,
        http: WasiHttpCtx::new(),
        hooks: Hooks {
            allowed: limits.allowed.clone(),
        },
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory)
            .trap_on_grow_failure(false)
            .build(),
        logs: Vec::new(),
    };
    let mut store = Store::new(engine(), state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(u64::try_from(limits.deadline.as_millis() / 10).unwrap_or(u64::MAX));
    store.epoch_deadline_trap();

    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let start = Instant::now();
    let result = async {
        let instance = linker()
            .instantiate_async(&mut store, &component)
            .await
            .map_err(|e| format!("instantiate: {e:?}"))?;
        let iface = instance
            .get_export_index(&mut store, None, "belay:check/check@0.1.0")
            .ok_or("no export belay:check/check@0.1.0")?;
        let run = instance
            .get_export_index(&mut store, Some(&iface), "run")
            .ok_or("no export run")?;
        let run = instance
            .get_typed_func::<(Target, Vec<(String, String)>), (Report,)>(&mut store, &run)
            .map_err(|e| format!("run has the wrong type: {e:?}"))?;
        let (report,) = run
            .call_async(&mut store, (target, params))
            .await
            .map_err(|e| format!("trap: {e:?}"))?;
        Ok(report)
    }
    .await;
    let elapsed = start.elapsed();
    Outcome {
        result,
        stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
        logs: std::mem::take(&mut store.data_mut().logs),
        elapsed,
    }
}
