//! Health checks: WebAssembly plugins run in a sandbox on a schedule; their
//! reports drive VRRP priority and IPVS real servers.

pub mod bindings;
pub mod cache;
pub mod http_send;
pub mod labels;
pub mod limits;
pub mod plugin;
pub mod policy;
pub mod probe;
pub mod registry;
pub mod report;
pub mod rise_fall;
pub mod runtime;
pub mod sandbox;
pub mod scheduler;
pub mod service;
pub mod stderr;
pub mod stock;
pub mod target;
pub mod tcp_probe;
pub mod tls;
pub mod wasm_probe;
pub mod watch;

pub use labels::Labels;
pub use limits::Limits;
pub use plugin::{LoadError, Origin, Plugin};
pub use policy::{Grant, NetPolicy};
pub use probe::Probe;
pub use registry::{Lookup, Registry, RegistryEvent};
pub use report::{Health, Report};
pub use rise_fall::CheckState;
pub use runtime::{Invocation, Runtime, RuntimeConfig};
pub use scheduler::{CheckEvent, CheckStatus, ReportEvent, Schedule, Scheduler};
pub use service::{CheckService, ServiceConfig};
pub use stock::{stock_plugin, stock_plugins};
pub use target::Target;
pub use wasm_probe::{CheckSpec, WasmProbe};
pub use watch::PluginWatcher;
