//! Health checks: WebAssembly plugins run in a sandbox on a schedule; their
//! reports drive VRRP priority and IPVS real servers.

pub mod probe;
pub mod report;
pub mod stock;

pub use probe::Probe;
pub use report::{Health, Report};
pub use stock::{stock_plugin, stock_plugins};
