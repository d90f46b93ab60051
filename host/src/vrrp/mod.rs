//! VRRP v2 (RFC 3768) and v3 (RFC 5798 / RFC 9568) for IPv4 and IPv6: a
//! sans-IO protocol core (wire codec, instance state machine) and the I/O
//! driver that feeds it packets and timers and carries out its actions.
//!
//! The core never reads the clock or touches a socket: the driver passes `now`
//! into every call, asks [`Instance::poll_timeout`] when to call back, and
//! drains [`Instance::poll_action`] to learn what to send and which addresses
//! to add or remove.
//!
//! The core (`wire/`, `instance/`, `timers.rs`, `garp_schedule.rs`) uses only
//! std, thiserror and tracing: `fuzz/` compiles those files on their own.

pub mod garp_schedule;
pub mod instance;
pub mod timers;
pub mod wire;

// I/O: sockets, netlink, and the per-instance driver.
pub mod driver;
pub mod garp;
pub mod linkwatch;
pub mod poller;
pub mod rtnl;
pub mod socket;
pub mod vip;
pub mod vmac;

pub use garp_schedule::GarpConfig;
pub use instance::{
    Action, Counters, DropCounts, DropReason, FaultSource, Instance, InstanceConfig,
    InstanceConfigError, Received, State, StateChangeReason,
};
pub use wire::{AdvertInterval, Auth, Family, Version, VrrpPacket, VrrpRepr, WireError};
