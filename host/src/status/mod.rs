//! The daemon's status: a JSON document served over HTTP on a unix socket
//! (`global.status_socket`), read by `belay status`.
//!
//! Drivers keep their live figures in a [`registry::InstanceCell`] (a mutex
//! around plain numbers, updated without allocating); the server turns them
//! into a [`document::StatusDoc`] only when someone asks.

pub mod client;
pub mod document;
pub mod registry;
pub mod server;

pub use document::{InstanceStatus, StatusDoc};
pub use registry::{InstanceCell, InstanceInfo, InstanceLive, IoCounters, Registry};
