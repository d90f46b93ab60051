//! The status document's shape (stable JSON: tests and tools read it).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusDoc {
    pub router_id: String,
    pub pid: u32,
    pub instances: Vec<InstanceStatus>,
}

impl StatusDoc {
    pub fn instance(&self, name: &str) -> Option<&InstanceStatus> {
        self.instances.iter().find(|i| i.name == name)
    }
}

/// One VRRP instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub version: u8,
    /// `ipv4` or `ipv6`.
    pub family: String,
    /// `INIT`, `BACKUP`, `MASTER` or `FAULT`.
    pub state: String,
    /// The effective priority (after tracking).
    pub priority: u8,
    pub configured_priority: u8,
    /// Our advert source and tie-breaker.
    pub primary_address: Option<IpAddr>,
    /// The current master as far as this instance knows.
    pub master_address: Option<IpAddr>,
    pub advert_interval_ms: u64,
    pub vips: Vec<String>,
    /// Whether this instance currently has its VIPs on the interface.
    pub vips_held: bool,
    pub counters: CountersDoc,
    pub last_transition: Option<TransitionDoc>,
}

/// Packet and action counters of one instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountersDoc {
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub priority_zero_received: u64,
    pub priority_zero_sent: u64,
    pub became_master: u64,
    pub address_list_mismatch: u64,
    /// Dropped received packets, per reason (every reason listed, zeros included).
    pub drops: BTreeMap<String, u64>,
    pub drops_total: u64,
    pub send_errors: u64,
    pub announcements_sent: u64,
    pub vip_errors: u64,
}

/// The last state change and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionDoc {
    pub from: String,
    pub to: String,
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
}
