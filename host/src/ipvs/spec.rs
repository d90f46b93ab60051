//! A virtual server as configured, resolved into kernel terms: the input of
//! the desired-state computation (built from `[virtual_server.NAME]`, or
//! directly by tests and benchmarks).

use super::{Dest, Service};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerSpec {
    /// The config table name (`[virtual_server.NAME]`), used in logs and status.
    pub name: String,
    /// Key, scheduler, flags and persistence, exactly as programmed.
    pub service: Service,
    pub real_servers: Vec<RealServerSpec>,
    /// Used instead of the real servers while the live weight is below quorum.
    pub sorry_server: Option<SorryServerSpec>,
    /// Minimum sum of live real-server weights (Keepalived's `quorum`, ≥ 1).
    pub quorum: u64,
    /// Gain quorum at `quorum + hysteresis`, lose it below `quorum - hysteresis`.
    pub hysteresis: u64,
    /// A real server with checks starts down until its first success.
    pub alpha: bool,
    /// On stop, report real servers and quorum down before removing them.
    pub omega: bool,
    /// Program the service only while this VRRP instance is MASTER.
    pub only_when_master: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerSpec {
    /// Address, forwarding method, configured weight and thresholds.
    pub dest: Dest,
    /// On failure keep the destination with weight 0 instead of removing it.
    pub inhibit_on_failure: bool,
    /// Names of the `[check.NAME]` tables that decide its health; none =
    /// always up (as in Keepalived, a real server without checkers is alive).
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServerSpec {
    pub dest: Dest,
    /// Keep it in the table with weight 0 while not in use.
    pub inhibit: bool,
}
