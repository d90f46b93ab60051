//! belay: a high-availability daemon — VRRP elections, IPVS load balancing and
//! sandboxed WebAssembly health checks — as a library; `main.rs` is the CLI edge.

pub mod check;
pub mod config;
pub mod daemon;
pub mod ipvs;
pub mod logging;
pub mod status;
pub mod vrrp;
