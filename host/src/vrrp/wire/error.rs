//! Every way a frame can be wrong, as a typed error.

/// Why a frame could not be parsed or emitted. Each variant names one thing
/// that was wrong, so a drop counter and a log line can say exactly what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the fixed header (or a buffer too small to emit into).
    #[error("truncated: {len} bytes, need at least {needed}")]
    Truncated { len: usize, needed: usize },
    /// Version nibble other than 2 or 3 (or other than what the IP family allows).
    #[error("unsupported VRRP version {0} (expected 2 or 3)")]
    BadVersion(u8),
    /// Type nibble other than 1 (advertisement), the only type defined.
    #[error("unknown VRRP packet type {0} (only 1, advertisement, exists)")]
    BadType(u8),
    /// The checksum in the packet does not match the one computed.
    #[error("bad checksum: packet has {found:#06x}, computed {computed:#06x}")]
    BadChecksum { found: u16, computed: u16 },
    /// The address count says the packet is longer or shorter than it is.
    #[error("address count {count} means {expected} bytes, but the packet has {len}")]
    CountMismatch {
        count: u8,
        expected: usize,
        len: usize,
    },
    /// An advertisement interval of zero (never valid: timers would spin).
    #[error("advertisement interval is zero")]
    ZeroInterval,
    /// An interval that the version cannot carry (v2: whole seconds 1–255;
    /// v3: 1–4095 centiseconds).
    #[error("advertisement interval {centis} cs cannot be sent as VRRPv{version}")]
    InvalidInterval { version: u8, centis: u32 },
    /// A VRRPv2 authentication type that is not 0, 1 or 2.
    #[error("unknown VRRPv2 authentication type {0}")]
    UnknownAuth(u8),
    /// VRRPv2 authentication type 2 (IP Authentication Header), removed by
    /// RFC 3768 and not supported.
    #[error("VRRPv2 authentication type 2 (IP AH) is not supported; use none or simple text")]
    AuthHeaderUnsupported,
    /// IPv4/IPv6 mixed: VRRPv2 over IPv6, or an address of the other family.
    #[error("address family mismatch: {0}")]
    FamilyMismatch(&'static str),
    /// More than 255 addresses cannot be counted in one byte.
    #[error("{0} addresses do not fit in one advertisement (at most 255)")]
    TooManyAddresses(usize),
    /// An IPv4 header that is malformed (bad IHL, total length, protocol...).
    #[error("malformed IPv4 header: {0}")]
    BadIpHeader(&'static str),
    /// An ARP / neighbour discovery frame that is not what we understand.
    #[error("malformed {what}: {why}")]
    Malformed {
        what: &'static str,
        why: &'static str,
    },
}
