//! What the state machine asks the driver to do.

use std::fmt;
use std::net::IpAddr;

use crate::vrrp::wire::VrrpRepr;

/// RFC 5798 §6.4 states, plus Fault (interface down or a failed track, as in
/// Keepalived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    Fault,
}

impl State {
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What put an instance in Fault; an instance leaves Fault when no source
/// remains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultSource {
    /// The interface went down (or lost its primary address).
    Interface,
    /// A tracked check with weight 0 failed (issue 4).
    Tracking,
}

/// Why a state changed, for logs and notify hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateChangeReason {
    /// Initialize → Backup at startup.
    Startup,
    /// Initialize → Master: priority 255, we own the addresses.
    AddressOwner,
    /// Backup → Master: the master-down timer expired (no adverts, or a
    /// priority-0 advert followed by Skew_Time).
    MasterDown,
    /// Backup → Master: we preempted a lower-priority master.
    Preempt,
    /// Master → Backup: an advert with a higher priority arrived.
    HigherPriority,
    /// Master → Backup: an advert with our priority from a higher address.
    HigherAddress,
    /// Any → Initialize: the instance was shut down.
    Shutdown,
    /// → Fault.
    Fault(FaultSource),
    /// Fault → Backup / Master: the last fault cleared.
    FaultCleared,
}

/// One thing for the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// The state changed (log it, run notify hooks).
    StateChange {
        from: State,
        to: State,
        reason: StateChangeReason,
    },
    /// Send this advert from the primary address to the VRRP group (or the
    /// unicast peers), TTL 255.
    SendAdvert(VrrpRepr),
    /// Add these VIPs to the interface.
    AddAddresses(Vec<IpAddr>),
    /// Remove these VIPs from the interface.
    RemoveAddresses(Vec<IpAddr>),
    /// Send `repeat` gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) for
    /// each of these addresses, back to back.
    Announce { addresses: Vec<IpAddr>, repeat: u32 },
}
