//! Counters for everything an instance receives, sends and drops.

use std::fmt;

use crate::vrrp::wire::WireError;

/// Why a received packet was dropped. Each has a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than the VRRP header.
    Truncated,
    /// Version nibble not 2 or 3.
    BadVersion,
    /// Type nibble not 1.
    BadType,
    BadChecksum,
    /// The address count disagrees with the packet length.
    CountMismatch,
    /// Zero advert interval.
    BadInterval,
    /// v2 authentication type not 0/1/2.
    UnknownAuth,
    /// v2 authentication type 2 (IP AH).
    AuthHeader,
    /// IPv4/IPv6 mixed up (v2 over IPv6, header families differ).
    FamilyMismatch,
    /// TTL / hop limit not 255: the packet crossed a router.
    TtlNot255,
    /// Another virtual router's advert.
    VridMismatch,
    /// A v2 advert to a v3 instance or the reverse.
    VersionMismatch,
    /// v2 authentication type or password differs from ours.
    AuthMismatch,
    /// v2 advert interval differs from ours (RFC 3768 §7.1 says drop).
    IntervalMismatch,
    /// Our own advert came back (multicast loop or a duplicate address).
    OwnAddress,
    /// Received while not listening (Initialize or Fault).
    NotListening,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 16] = [
        DropReason::Truncated,
        DropReason::BadVersion,
        DropReason::BadType,
        DropReason::BadChecksum,
        DropReason::CountMismatch,
        DropReason::BadInterval,
        DropReason::UnknownAuth,
        DropReason::AuthHeader,
        DropReason::FamilyMismatch,
        DropReason::TtlNot255,
        DropReason::VridMismatch,
        DropReason::VersionMismatch,
        DropReason::AuthMismatch,
        DropReason::IntervalMismatch,
        DropReason::OwnAddress,
        DropReason::NotListening,
    ];

    /// A stable snake_case name, for metric labels and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadVersion => "bad_version",
            DropReason::BadType => "bad_type",
            DropReason::BadChecksum => "bad_checksum",
            DropReason::CountMismatch => "count_mismatch",
            DropReason::BadInterval => "bad_interval",
            DropReason::UnknownAuth => "unknown_auth",
            DropReason::AuthHeader => "auth_header",
            DropReason::FamilyMismatch => "family_mismatch",
            DropReason::TtlNot255 => "ttl_not_255",
            DropReason::VridMismatch => "vrid_mismatch",
            DropReason::VersionMismatch => "version_mismatch",
            DropReason::AuthMismatch => "auth_mismatch",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::OwnAddress => "own_address",
            DropReason::NotListening => "not_listening",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&WireError> for DropReason {
    fn from(e: &WireError) -> DropReason {
        match e {
            WireError::Truncated { .. } => DropReason::Truncated,
            WireError::BadVersion(_) => DropReason::BadVersion,
            WireError::BadType(_) => DropReason::BadType,
            WireError::BadChecksum { .. } => DropReason::BadChecksum,
            WireError::CountMismatch { .. } | WireError::TooManyAddresses(_) => {
                DropReason::CountMismatch
            }
            WireError::ZeroInterval | WireError::InvalidInterval { .. } => DropReason::BadInterval,
            WireError::UnknownAuth(_) => DropReason::UnknownAuth,
            WireError::AuthHeaderUnsupported => DropReason::AuthHeader,
            WireError::FamilyMismatch(_) => DropReason::FamilyMismatch,
            WireError::BadIpHeader(_) | WireError::Malformed { .. } => DropReason::Truncated,
        }
    }
}

/// Per-reason drop counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::ALL.len()]);

impl DropCounts {
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Every reason with its count (zeros included, for stable metrics).
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r)))
    }

    pub(crate) fn bump(&mut self, reason: DropReason) {
        self.0[reason.index()] += 1;
    }
}

/// Everything an instance counts. `#[non_exhaustive]`: read it, don't build it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Adverts that passed every check.
    pub adverts_received: u64,
    pub adverts_sent: u64,
    pub priority_zero_received: u64,
    pub priority_zero_sent: u64,
    /// Transitions into Master.
    pub became_master: u64,
    /// Accepted adverts whose address list differs from ours (RFC 5798
    /// §6.4.3 lets us log and keep them).
    pub address_list_mismatch: u64,
    /// v3 IPv4 unicast adverts whose checksum only matched with the
    /// multicast group as pseudo-header destination (Keepalived < 2.0's
    /// way; Keepalived 2.x accepts it too, `unicast_chksum_compat`).
    pub unicast_checksum_compat: u64,
    pub drops: DropCounts,
}
