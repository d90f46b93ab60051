//! Health checks: WebAssembly plugins run in a sandbox on a schedule; their
//! reports drive VRRP priority and IPVS real servers.

pub mod probe;
pub mod report;

pub use probe::Probe;
pub use report::{Health, Report};
