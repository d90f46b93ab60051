//! One VRRP instance (virtual router) as a sans-IO state machine, per
//! RFC 5798 / RFC 9568 §6.4 (and RFC 3768 for v2), with Keepalived's
//! extensions: Fault, preempt delay, GARP schedule, priority changes from
//! tracking, and a master that re-asserts itself against a lower priority.
//!
//! The driver calls [`Instance::startup`], feeds received packets to
//! [`Instance::handle_packet`], calls [`Instance::handle_timeout`] when
//! [`Instance::poll_timeout`] is reached, and after every call drains
//! [`Instance::poll_action`]. `now` is always a parameter.
//!
//! Where the RFC and Keepalived 2.2 differ (checked against Keepalived's
//! `vrrp.c` / `vrrp_scheduler.c`), and what we do:
//! - a master that hears priority 0 sends an advert at once and keeps its
//!   advert schedule, as Keepalived does (RFC 5798 §6.4.3 also resets the
//!   Adver_Timer; either way backups see adverts at least every interval);
//! - a master that hears a lower priority (or wins a tie) re-asserts with an
//!   immediate advert, schedule kept, and a GARP burst now and 5 s later
//!   (Keepalived's `garp_lower_prio_*`; the RFC just discards);
//! - optionally a master beaten by a higher priority sends one last advert
//!   first (Keepalived's `vrrp_higher_prio_send_advert`, off by default);
//! - extra adverts from [`Instance::set_priority`] keep the schedule too;
//! - an address-list mismatch is counted and the advert kept (RFC 5798
//!   §7.1 MAY); Keepalived drops it;
//! - an advert from our own primary address is dropped and counted
//!   ([`DropReason::OwnAddress`]); Keepalived logs and ignores it as master
//!   but would follow it as backup.

mod action;
mod config;
mod counters;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

pub use action::{Action, FaultSource, State, StateChangeReason};
pub use config::{InstanceConfig, InstanceConfigError, Resign};
pub use counters::{Counters, DropCounts, DropReason};

use super::garp_schedule::GarpSchedule;
use super::timers;
use super::wire::{self, AdvertInterval, Family, Version, VrrpPacket, VrrpRepr, WireError};

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
    /// Master: when the next advert is due.
    adver_timer: Option<Instant>,
    /// Backup: when we take over unless an advert resets it.
    master_down_timer: Option<Instant>,
    /// Backup with preempt delay: when a lower-priority master may be
    /// preempted (armed by the first lower-priority advert, as Keepalived).
    preempt_time: Option<Instant>,
    /// Backup: the last advert was discarded as lower priority, so the
    /// coming takeover is a preemption.
    preempting: bool,
    faults: [bool; 3],
    /// Held by a sync group: a due master-down timer only signals WantMaster.
    held: bool,
    /// Held, and our master-down timer expired: we would be master.
    wants_master: bool,
    /// Our priority is below the resign level and we already handed over
    /// (or took over with nobody better around): no preempting, no resigning
    /// again, until the priority recovers.
    degraded_hold: bool,
    garp: GarpSchedule,
    actions: VecDeque<Action>,
    counters: Counters,
}

impl Instance {
    /// A new instance in Initialize; nothing happens until [`Instance::startup`].
    pub fn new(config: InstanceConfig) -> Result<Instance, InstanceConfigError> {
        config.validate()?;
        Ok(Instance {
            state: State::Initialize,
            priority: config.priority,
            master_adver_interval: config.advert_interval,
            master_address: None,
            adver_timer: None,
            master_down_timer: None,
            preempt_time: None,
            preempting: false,
            faults: [false; 3],
            held: false,
            wants_master: false,
            degraded_hold: false,
            garp: GarpSchedule::new(config.garp),
            actions: VecDeque::new(),
            counters: Counters::default(),
            config,
        })
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
    /// If a fault is already set, the instance enters Fault instead. Does
    /// nothing unless in Initialize.
    pub fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        if let Some(source) = self.fault_source() {
            self.transition(State::Fault, StateChangeReason::Fault(source));
        } else if self.priority == 255 {
            self.become_master(now, StateChangeReason::AddressOwner);
        } else {
            self.become_backup(now, StateChangeReason::Startup, self.config.advert_interval);
        }
    }

    /// Shutdown event: a master sends priority 0 and releases its VIPs;
    /// every state goes to Initialize and stops its timers.
    pub fn shutdown(&mut self, _now: Instant) {
        match self.state {
            State::Initialize => return,
            State::Master => {
                self.transition(State::Initialize, StateChangeReason::Shutdown);
                self.send_advert(0);
                self.release_addresses();
            }
            State::Backup | State::Fault => {
                self.transition(State::Initialize, StateChangeReason::Shutdown);
            }
        }
        self.stop_timers();
        self.master_address = None;
    }

    /// A received VRRP packet (the IP payload). Malformed, foreign and
    /// unauthenticated packets are counted and returned as the drop reason.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        rx: &Received,
        payload: &[u8],
    ) -> Result<(), DropReason> {
        let advert = match self.decode(rx, payload) {
            Ok(a) => a,
            Err(e) => {
                let reason = DropReason::from(&e);
                tracing::debug!(instance = %self.config.name, vrid = self.config.vrid,
                    src = %rx.src, error = %e, "dropped malformed VRRP packet");
                return Err(self.drop_packet(reason));
            }
        };
        self.handle_advert(now, rx, &advert)
    }

    /// An already parsed advert (the checks that need only the instance
    /// config are done here: TTL, VRID, version, auth, interval).
    pub fn handle_advert(
        &mut self,
        now: Instant,
        rx: &Received,
        advert: &VrrpRepr,
    ) -> Result<(), DropReason> {
        if let Err(reason) = self.check(rx, advert) {
            tracing::debug!(instance = %self.config.name, vrid = self.config.vrid,
                src = %rx.src, %reason, "dropped VRRP advert");
            return Err(self.drop_packet(reason));
        }
        if !self.addresses_match(&advert.addresses) {
            self.counters.address_list_mismatch += 1;
            tracing::debug!(instance = %self.config.name, vrid = self.config.vrid,
                src = %rx.src, "advert's address list differs from ours (kept)");
        }
        self.counters.adverts_received += 1;
        if advert.priority == 0 {
            self.counters.priority_zero_received += 1;
        }
        match self.state {
            State::Backup => self.backup_receive(now, rx.src, advert),
            State::Master => self.master_receive(now, rx.src, advert),
            State::Initialize | State::Fault => unreachable!("check() refuses these states"),
        }
        Ok(())
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Master => {
                if self.adver_timer.is_some_and(|t| t <= now) {
                    let interval = self.config.advert_interval.as_duration();
                    self.send_advert(self.priority);
                    let next = self.adver_timer.map_or(now, |t| t + interval);
                    // Stay on the grid unless we fell a whole interval behind.
                    self.adver_timer = Some(if next <= now { now + interval } else { next });
                }
                if let Some(burst) = self.garp.handle_timeout(now) {
                    self.announce(burst.repeat);
                }
            }
            State::Backup => {
                if self.master_down_timer.is_some_and(|t| t <= now) {
                    if self.held {
                        // Keepalived's sync groups wait for every member;
                        // keep the timer running so the wish stays current.
                        self.master_down_timer = Some(now + self.master_down_interval());
                        if !self.wants_master {
                            self.wants_master = true;
                            self.actions.push_back(Action::WantMaster(true));
                        }
                        return;
                    }
                    let reason = if self.preempting {
                        StateChangeReason::Preempt
                    } else {
                        StateChangeReason::MasterDown
                    };
                    self.become_master(now, reason);
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// The next instant [`Instance::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Master => [self.adver_timer, self.garp.poll_timeout()]
                .into_iter()
                .flatten()
                .min(),
            State::Backup => self.master_down_timer,
            State::Initialize | State::Fault => None,
        }
    }

    /// The next action to carry out, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Sets the effective priority (from tracking). Takes effect at once: a
    /// master adverts it immediately. Clamped to 1..=254 (0 is reserved for
    /// a stopping master, 255 for the configured address owner).
    pub fn set_priority(&mut self, priority: u8, now: Instant) {
        let max = if self.config.priority == 255 {
            255
        } else {
            254
        };
        let priority = priority.clamp(1, max);
        if priority == self.priority {
            return;
        }
        tracing::debug!(instance = %self.config.name, vrid = self.config.vrid,
            from = self.priority, to = priority, "priority changed");
        let below = match self.resign_level() {
            Some(level) => priority < level,
            // Auto: a master cannot know its backups' priorities (they are
            // silent, and what it once heard may be stale), so any drop
            // resigns; a weaker taker is preempted back.
            None => self.config.resign == Resign::Auto && priority < self.priority,
        };
        self.priority = priority;
        if !below {
            self.degraded_hold = false;
        }
        if self.state == State::Master {
            if below && !self.degraded_hold {
                self.resign(now);
            } else {
                self.send_advert(priority);
            }
        }
    }

    /// The priority below which a master hands over (see [`Resign`]); none
    /// for `Never`, and for `Auto`, which resigns on any drop.
    pub fn resign_level(&self) -> Option<u8> {
        match self.config.resign {
            Resign::Never => None,
            Resign::Auto => None,
            Resign::Below(level) => Some(level),
        }
    }

    /// Holds (or releases) the instance for its sync group: while held, a
    /// backup whose master-down timer expires emits `WantMaster(true)`
    /// instead of taking over. Releasing a member that wants master makes it
    /// master at once.
    pub fn set_hold(&mut self, held: bool, now: Instant) {
        self.held = held;
        if !held && self.wants_master && self.state == State::Backup {
            self.wants_master = false;
            self.become_master(now, StateChangeReason::SyncGroup);
        }
    }

    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Held, and would be master: what the sync group waits for.
    pub fn wants_master(&self) -> bool {
        self.wants_master
    }

    /// A sync group moves a master to backup because another member lost
    /// its election: priority 0 so the peer group takes over at once.
    pub fn step_down(&mut self, now: Instant) {
        if self.state != State::Master {
            return;
        }
        self.send_advert(0);
        self.become_backup(
            now,
            StateChangeReason::SyncGroup,
            self.config.advert_interval,
        );
    }

    fn resign(&mut self, now: Instant) {
        tracing::info!(instance = %self.config.name, vrid = self.config.vrid,
            priority = self.priority, level = ?self.resign_level(),
            "priority fell below the resign level: handing over");
        self.counters.resignations += 1;
        self.degraded_hold = true;
        self.send_advert(0);
        self.become_backup(
            now,
            StateChangeReason::Resigned,
            self.config.advert_interval,
        );
    }

    /// The interface went down: enter Fault. A master still emits a
    /// priority-0 advert first (as Keepalived does; harmless if the link is
    /// really down) and releases its VIPs.
    pub fn interface_down(&mut self, now: Instant) {
        self.set_fault(FaultSource::Interface, true, now);
    }

    /// The interface came back: leave Fault if nothing else holds it.
    pub fn interface_up(&mut self, now: Instant) {
        self.set_fault(FaultSource::Interface, false, now);
    }

    /// Sets or clears one fault source; Fault lasts while any is set.
    /// Leaving Fault is like startup: the owner becomes master, others
    /// backup with a fresh master-down timer.
    pub fn set_fault(&mut self, source: FaultSource, fault: bool, now: Instant) {
        let was_faulty = self.fault_source().is_some();
        self.faults[source as usize] = fault;
        let faulty = self.fault_source().is_some();
        match self.state {
            State::Initialize => {}
            State::Backup | State::Master if faulty => {
                if self.state == State::Master {
                    self.transition(State::Fault, StateChangeReason::Fault(source));
                    self.send_advert(0);
                    self.release_addresses();
                } else {
                    self.transition(State::Fault, StateChangeReason::Fault(source));
                }
                self.stop_timers();
                self.master_address = None;
            }
            State::Fault if was_faulty && !faulty => {
                if self.priority == 255 {
                    self.become_master(now, StateChangeReason::FaultCleared);
                } else {
                    self.become_backup(
                        now,
                        StateChangeReason::FaultCleared,
                        self.config.advert_interval,
                    );
                }
            }
            _ => {}
        }
    }

    /// Whether `source` is currently holding the instance in Fault.
    pub fn has_fault(&self, source: FaultSource) -> bool {
        self.faults[source as usize]
    }

    // --- internals ---

    fn fault_source(&self) -> Option<FaultSource> {
        [
            FaultSource::Interface,
            FaultSource::Tracking,
            FaultSource::SyncGroup,
        ]
        .into_iter()
        .find(|s| self.faults[*s as usize])
    }

    fn decode(&mut self, rx: &Received, payload: &[u8]) -> Result<VrrpRepr, WireError> {
        let family = Family::of(&rx.src);
        let packet = VrrpPacket::new_checked(payload, family)?;
        match VrrpRepr::parse(&packet, rx.src, rx.dst) {
            // Keepalived before 2.0 checksummed v3 unicast IPv4 adverts as if
            // sent to the multicast group; Keepalived 2.x accepts that too.
            Err(WireError::BadChecksum { .. })
                if packet.version() == 3
                    && family == Family::Ipv4
                    && rx.dst != IpAddr::V4(wire::MULTICAST_V4) =>
            {
                let advert = VrrpRepr::parse(&packet, rx.src, IpAddr::V4(wire::MULTICAST_V4))?;
                self.counters.unicast_checksum_compat += 1;
                Ok(advert)
            }
            other => other,
        }
    }

    fn check(&self, rx: &Received, advert: &VrrpRepr) -> Result<(), DropReason> {
        let c = &self.config;
        if c.check_ttl && rx.ttl != wire::TTL {
            return Err(DropReason::TtlNot255);
        }
        if advert.version != c.version {
            return Err(DropReason::VersionMismatch);
        }
        if advert.vrid != c.vrid {
            return Err(DropReason::VridMismatch);
        }
        if Family::of(&rx.src) != Family::of(&c.primary_address) {
            return Err(DropReason::FamilyMismatch);
        }
        if c.version == Version::V2 {
            if advert.auth != c.auth {
                return Err(DropReason::AuthMismatch);
            }
            // RFC 3768 §7.1 MUST; Keepalived drops too ("prevent concurrent
            // VRID running => multiple master in 1 VRID").
            if advert.interval != c.advert_interval {
                return Err(DropReason::IntervalMismatch);
            }
        }
        if rx.src == c.primary_address {
            return Err(DropReason::OwnAddress);
        }
        if matches!(self.state, State::Initialize | State::Fault) {
            return Err(DropReason::NotListening);
        }
        Ok(())
    }

    fn addresses_match(&self, theirs: &[IpAddr]) -> bool {
        let ours = &self.config.virtual_addresses;
        theirs.len() == ours.len() && ours.iter().all(|a| theirs.contains(a))
    }

    fn drop_packet(&mut self, reason: DropReason) -> DropReason {
        self.counters.drops.bump(reason);
        reason
    }

    /// RFC 5798 §6.4.2, Backup receiving an advert.
    fn backup_receive(&mut self, now: Instant, src: IpAddr, advert: &VrrpRepr) {
        let c = &self.config;
        if advert.priority == 0 {
            // The master is stepping down: take over after Skew_Time.
            self.preempting = false;
            self.master_down_timer =
                Some(now + timers::skew_time(c.version, self.priority, self.master_adver_interval));
            return;
        }
        if c.resign == Resign::Auto && self.degraded_hold && advert.priority < self.priority {
            // Auto resigned, and the router that took over is below us after
            // all: hand the VIP back the RFC way (preemption) rather than
            // leave it on the weaker router.
            self.degraded_hold = false;
        }
        let preempt = (c.preempt && !self.degraded_hold) || self.priority == 255;
        let delaying = !c.preempt_delay.is_zero() && self.preempt_time.is_none_or(|t| t > now);
        if !preempt || advert.priority >= self.priority || delaying {
            if c.version == Version::V3 {
                self.master_adver_interval = advert.interval;
            }
            self.master_down_timer = Some(now + self.master_down_interval());
            self.master_address = Some(src);
            self.preempting = false;
            if self.wants_master {
                self.wants_master = false;
                self.actions.push_back(Action::WantMaster(false));
            }
            if !c.preempt_delay.is_zero() {
                if advert.priority >= self.priority {
                    self.preempt_time = None;
                } else if self.preempt_time.is_none() {
                    self.preempt_time = Some(now + c.preempt_delay);
                }
            }
        } else {
            // A lower-priority master and we may preempt: ignore it and let
            // the master-down timer run out.
            self.master_address = Some(src);
            self.preempting = true;
        }
    }

    /// RFC 5798 §6.4.3, Master receiving an advert.
    fn master_receive(&mut self, now: Instant, src: IpAddr, advert: &VrrpRepr) {
        if advert.priority == 0 {
            // An extra advert; the schedule is kept, as in Keepalived.
            self.send_advert(self.priority);
            return;
        }
        let primary = self.config.primary_address;
        let higher = advert.priority > self.priority;
        let tie_lost = advert.priority == self.priority && src > primary;
        if higher || tie_lost {
            if self.config.higher_prio_send_advert {
                self.send_advert(self.priority);
            }
            let reason = if higher {
                StateChangeReason::HigherPriority
            } else {
                StateChangeReason::HigherAddress
            };
            let mai = match self.config.version {
                Version::V3 => advert.interval,
                Version::V2 => self.config.advert_interval,
            };
            self.become_backup(now, reason, mai);
            self.master_address = Some(src);
        } else {
            // Lower priority (or a tie we win): re-assert at once, and
            // reclaim the ARP caches the other master may have taken.
            self.send_advert(self.priority);
            let (repeat, delay) = (
                self.config.garp_lower_prio_repeat,
                self.config.garp_lower_prio_delay,
            );
            if let Some(burst) = self.garp.lower_prio(now, repeat, delay) {
                self.announce(burst.repeat);
            }
        }
    }

    fn master_down_interval(&self) -> std::time::Duration {
        timers::master_down_interval(
            self.config.version,
            self.priority,
            self.master_adver_interval,
        )
    }

    fn become_master(&mut self, now: Instant, reason: StateChangeReason) {
        self.transition(State::Master, reason);
        self.counters.became_master += 1;
        // Taking over while below the resign level, or (auto) after
        // resigning when nobody better answered: keep the VIP rather than
        // resign again until the priority recovers.
        self.degraded_hold = match self.resign_level() {
            Some(l) => self.priority < l,
            None => self.degraded_hold && self.config.resign == Resign::Auto,
        };
        self.master_down_timer = None;
        self.preempt_time = None;
        self.preempting = false;
        self.master_adver_interval = self.config.advert_interval;
        self.master_address = Some(self.config.primary_address);
        self.actions
            .push_back(Action::AddAddresses(self.config.virtual_addresses.clone()));
        self.send_advert(self.priority);
        self.adver_timer = Some(now + self.config.advert_interval.as_duration());
        if let Some(burst) = self.garp.start(now) {
            self.announce(burst.repeat);
        }
    }

    fn become_backup(&mut self, now: Instant, reason: StateChangeReason, mai: AdvertInterval) {
        let from = self.state;
        self.transition(State::Backup, reason);
        if from == State::Master {
            self.release_addresses();
        }
        self.adver_timer = None;
        self.garp.stop();
        self.preempt_time = None;
        self.preempting = false;
        self.master_adver_interval = mai;
        self.master_down_timer = Some(now + self.master_down_interval());
    }

    fn release_addresses(&mut self) {
        self.garp.stop();
        self.actions.push_back(Action::RemoveAddresses(
            self.config.virtual_addresses.clone(),
        ));
    }

    fn stop_timers(&mut self) {
        self.adver_timer = None;
        self.master_down_timer = None;
        self.preempt_time = None;
        self.preempting = false;
        self.garp.stop();
    }

    fn transition(&mut self, to: State, reason: StateChangeReason) {
        let from = self.state;
        self.state = to;
        // A wish to be master only means something while waiting in Backup.
        self.wants_master = false;
        tracing::debug!(instance = %self.config.name, vrid = self.config.vrid,
            %from, %to, ?reason, "state change");
        self.actions
            .push_back(Action::StateChange { from, to, reason });
    }

    fn send_advert(&mut self, priority: u8) {
        self.counters.adverts_sent += 1;
        if priority == 0 {
            self.counters.priority_zero_sent += 1;
        }
        self.actions.push_back(Action::SendAdvert(VrrpRepr {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            interval: self.config.advert_interval,
            auth: self.config.auth,
            addresses: self.config.virtual_addresses.clone(),
        }));
    }

    fn announce(&mut self, repeat: u32) {
        self.actions.push_back(Action::Announce {
            addresses: self.config.virtual_addresses.clone(),
            repeat,
        });
    }
}
