//! belay: a high-availability daemon — VRRP elections, IPVS load balancing and
//! sandboxed WebAssembly health checks — as a library; `main.rs` is the CLI edge.

pub mod check;
pub mod config;
pub mod events;
pub mod ipvs;
pub mod logging;
pub mod notify;
pub mod tracker;
pub mod vrrp;
