//! `belay::vrrp`'s sans-IO core, by path (see lib.rs).

#[path = "../../host/src/vrrp/garp_schedule.rs"]
pub mod garp_schedule;
#[path = "../../host/src/vrrp/instance/mod.rs"]
pub mod instance;
#[path = "../../host/src/vrrp/timers.rs"]
pub mod timers;
#[path = "../../host/src/vrrp/wire/mod.rs"]
pub mod wire;

pub use garp_schedule::GarpConfig;
pub use instance::{
    Action, Counters, DropCounts, DropReason, FaultSource, Instance, InstanceConfig,
    InstanceConfigError, Received, State, StateChangeReason,
};
pub use wire::{AdvertInterval, Auth, Family, Version, VrrpPacket, VrrpRepr, WireError};
