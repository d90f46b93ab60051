//! Where drivers publish their live figures for the status server.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::document::{CountersDoc, InstanceStatus, StatusDoc, TransitionDoc};
use crate::vrrp::{Counters, State, StateChangeReason};

/// Drops and errors only the I/O driver can see (the core counts the rest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoCounters {
    /// The IPv4 header in front of the VRRP packet was malformed.
    pub bad_ip_header: u64,
    /// Datagram longer than any VRRP packet (cut by the kernel).
    pub oversize: u64,
    /// Unicast mode: the sender is not one of `unicast_peers`.
    pub unknown_peer: u64,
    /// The IP total length disagrees with what arrived.
    pub ip_length_mismatch: u64,
    /// Dropped by the kernel because our receive queue was full (a flood).
    pub socket_overflow: u64,
    pub send_errors: u64,
    pub announcements_sent: u64,
    pub vip_errors: u64,
}

impl IoCounters {
    /// `(name, count)` for every receive drop reason counted here.
    pub fn drops(&self) -> [(&'static str, u64); 5] {
        [
            ("socket_overflow", self.socket_overflow),
            ("bad_ip_header", self.bad_ip_header),
            ("oversize", self.oversize),
            ("unknown_peer", self.unknown_peer),
            ("ip_length_mismatch", self.ip_length_mismatch),
        ]
    }
}

/// What does not change while an instance runs.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceInfo {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    pub family: &'static str,
    pub configured_priority: u8,
    pub vips: Vec<String>,
}

/// What changes; plain data so updating it never allocates.
#[derive(Debug, Clone, Default)]
pub struct InstanceLive {
    pub state: Option<State>,
    pub priority: u8,
    pub primary_address: Option<IpAddr>,
    pub master_address: Option<IpAddr>,
    pub advert_interval: Duration,
    pub vips_held: bool,
    pub counters: Counters,
    pub io: IoCounters,
    pub last_transition: Option<(State, State, StateChangeReason, SystemTime)>,
}

/// One instance's published status.
#[derive(Debug)]
pub struct InstanceCell {
    pub info: InstanceInfo,
    live: Mutex<InstanceLive>,
}

impl InstanceCell {
    pub fn new(info: InstanceInfo) -> InstanceCell {
        InstanceCell {
            live: Mutex::new(InstanceLive {
                priority: info.configured_priority,
                ..InstanceLive::default()
            }),
            info,
        }
    }

    /// The live figures, for the driver to update in place.
    pub fn live(&self) -> MutexGuard<'_, InstanceLive> {
        // A panic while holding the lock cannot leave plain numbers inconsistent.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> InstanceStatus {
        let live = self.live().clone();
        let i = &self.info;
        let mut drops: std::collections::BTreeMap<String, u64> = live
            .counters
            .drops
            .iter()
            .map(|(r, n)| (r.as_str().to_owned(), n))
            .collect();
        for (name, n) in live.io.drops() {
            drops.insert(name.to_owned(), n);
        }
        let drops_total = drops.values().sum();
        InstanceStatus {
            name: i.name.clone(),
            interface: i.interface.clone(),
            vrid: i.vrid,
            version: i.version,
            family: i.family.to_owned(),
            state: live.state.map_or("INIT", State::as_str).to_owned(),
            priority: live.priority,
            configured_priority: i.configured_priority,
            primary_address: live.primary_address,
            master_address: live.master_address,
            advert_interval_ms: live.advert_interval.as_millis() as u64,
            vips: i.vips.clone(),
            vips_held: live.vips_held,
            counters: CountersDoc {
                adverts_received: live.counters.adverts_received,
                adverts_sent: live.counters.adverts_sent,
                priority_zero_received: live.counters.priority_zero_received,
                priority_zero_sent: live.counters.priority_zero_sent,
                became_master: live.counters.became_master,
                address_list_mismatch: live.counters.address_list_mismatch,
                drops,
                drops_total,
                send_errors: live.io.send_errors,
                announcements_sent: live.io.announcements_sent,
                vip_errors: live.io.vip_errors,
            },
            last_transition: live
                .last_transition
                .map(|(from, to, reason, at)| TransitionDoc {
                    from: from.to_string(),
                    to: to.to_string(),
                    reason: reason_str(reason).to_owned(),
                    at_unix_ms: at
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                }),
        }
    }
}

/// A stable snake_case name for a transition reason.
pub fn reason_str(r: StateChangeReason) -> &'static str {
    use crate::vrrp::FaultSource;
    match r {
        StateChangeReason::Startup => "startup",
        StateChangeReason::AddressOwner => "address_owner",
        StateChangeReason::MasterDown => "master_down",
        StateChangeReason::Preempt => "preempt",
        StateChangeReason::HigherPriority => "higher_priority",
        StateChangeReason::HigherAddress => "higher_address",
        StateChangeReason::Shutdown => "shutdown",
        StateChangeReason::Fault(FaultSource::Interface) => "fault_interface",
        StateChangeReason::Fault(FaultSource::Tracking) => "fault_tracking",
        StateChangeReason::FaultCleared => "fault_cleared",
    }
}

/// Every instance of the daemon, in config order.
#[derive(Debug)]
pub struct Registry {
    pub router_id: String,
    pub instances: Vec<Arc<InstanceCell>>,
}

impl Registry {
    pub fn document(&self) -> StatusDoc {
        StatusDoc {
            router_id: self.router_id.clone(),
            pid: std::process::id(),
            instances: self.instances.iter().map(|c| c.snapshot()).collect(),
        }
    }
}
