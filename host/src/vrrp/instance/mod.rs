//! One VRRP instance (virtual router) as a sans-IO state machine, per
//! RFC 5798 §6.4 (and RFC 3768 for v2), with Keepalived's extensions:
//! Fault, preempt delay, GARP schedule, priority changes from tracking.
//!
//! The driver calls [`Instance::startup`], feeds received packets to
//! [`Instance::handle_packet`], calls [`Instance::handle_timeout`] when
//! [`Instance::poll_timeout`] is reached, and after every call drains
//! [`Instance::poll_action`]. `now` is always a parameter.

mod action;
mod config;
mod counters;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

pub use action::{Action, FaultSource, State, StateChangeReason};
pub use config::{InstanceConfig, InstanceConfigError};
pub use counters::{Counters, DropCounts, DropReason};

use super::garp_schedule::GarpSchedule;
use super::wire::{AdvertInterval, VrrpRepr};

/// Where a packet came from, as the IP layer saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
}

/// A VRRP instance. See the module docs for the calling convention.
#[derive(Debug)]
pub struct Instance {
    config: InstanceConfig,
    state: State,
    priority: u8,
    master_adver_interval: AdvertInterval,
    master_address: Option<IpAddr>,
    #[allow(dead_code)] // used once the bodies land
    garp: GarpSchedule,
    actions: VecDeque<Action>,
    counters: Counters,
}

impl Instance {
    /// A new instance in Initialize; nothing happens until [`Instance::startup`].
    pub fn new(config: InstanceConfig) -> Result<Instance, InstanceConfigError> {
        todo!("{config:?}")
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn vrid(&self) -> u8 {
        self.config.vrid
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority (configured, then adjusted by `set_priority`).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// The interval in use: ours as master, the master's as a v3 backup.
    pub fn master_adver_interval(&self) -> AdvertInterval {
        self.master_adver_interval
    }

    /// The current master's address as far as we know (ours when master).
    pub fn master_address(&self) -> Option<IpAddr> {
        self.master_address
    }

    /// Whether the driver should accept packets addressed to the VIPs
    /// while master (RFC 5798 accept mode; always true for the owner).
    pub fn accept_mode(&self) -> bool {
        self.config.accept_mode || self.config.priority == 255
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Startup event (RFC 5798 §6.4.1): the owner becomes master and adverts
    /// at once; everyone else becomes backup and arms the master-down timer.
    /// If a fault is already set, the instance enters Fault instead.
    pub fn startup(&mut self, now: Instant) {
        todo!("{now:?}")
    }

    /// Shutdown event: a master sends priority 0 and releases its VIPs;
    /// every state goes to Initialize and stops its timers.
    pub fn shutdown(&mut self, now: Instant) {
        todo!("{now:?}")
    }

    /// A received VRRP packet (the IP payload). Malformed, foreign and
    /// unauthenticated packets are counted and returned as the drop reason.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        rx: &Received,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        todo!("{now:?} {rx:?} {payload:?}")
    }

    /// An already parsed advert (the checks that need only the instance
    /// config are done here: TTL, VRID, version, auth, interval).
    pub fn handle_advert(
        &mut self,
        now: Instant,
        rx: &Received,
        advert: &VrrpRepr,
    ) -> Result<(), DropReason> {
        todo!("{now:?} {rx:?} {advert:?}")
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        todo!("{now:?}")
    }

    /// The next instant [`Instance::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Sets the effective priority (from tracking). Takes effect at once: a
    /// master adverts it immediately. Clamped to 1..=254 (the owner's 255
    /// is only ever configured).
    pub fn set_priority(&mut self, priority: u8, now: Instant) {
        todo!("{priority} {now:?}")
    }

    /// The interface went down: enter Fault (a master releases its VIPs
    /// without sending priority 0, it cannot).
    pub fn interface_down(&mut self, now: Instant) {
        self.set_fault(FaultSource::Interface, true, now);
    }

    /// The interface came back: leave Fault if nothing else holds it.
    pub fn interface_up(&mut self, now: Instant) {
        self.set_fault(FaultSource::Interface, false, now);
    }

    /// Sets or clears one fault source; Fault lasts while any is set.
    pub fn set_fault(&mut self, source: FaultSource, fault: bool, now: Instant) {
        todo!("{source:?} {fault} {now:?}")
    }

    /// Whether `source` is currently holding the instance in Fault.
    pub fn has_fault(&self, source: FaultSource) -> bool {
        todo!("{source:?}")
    }
}
