//! IPVS (the kernel's LVS load balancer): a generic-netlink client and a
//! reconciler that keeps the kernel's table equal to the desired one.
//!
//! Layers, bottom up:
//! - [`netlink`]: the wire format (typed attribute views and emitters), no I/O;
//! - [`Client`]: the socket — family resolution, dumps, batched writes;
//! - [`plan()`]: desired vs actual → the ops that differ (pure);
//! - [`Reconciler`]: read, plan, apply; owns what it was asked to program;
//! - [`desired`]: config + health + VRRP mastership → the desired table,
//!   with Keepalived's virtual_server semantics (sans-IO);
//! - [`engine`]: the task that wires those to the daemon.

pub mod client;
pub mod desired;
pub mod dest;
pub mod engine;
pub mod error;
pub mod health;
pub mod netlink;
pub mod op;
pub mod plan;
pub mod reconcile;
pub mod service;
pub mod spec;
pub mod table;
pub mod uring;

pub use client::{Client, Counters};
pub use dest::{Dest, Forward, Tunnel, TunnelKind};
pub use error::IpvsError;
pub use health::{HealthView, RsHealth, RsId};
pub use op::Op;
pub use plan::plan;
pub use reconcile::{Outcome, Reconciler};
pub use service::{Family, Protocol, Scheduler, Service, ServiceFlags, ServiceKey};
pub use spec::{RealServerSpec, SorryServerSpec, VirtualServerSpec};
pub use table::{Table, VirtualService};
