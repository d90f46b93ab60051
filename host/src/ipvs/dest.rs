//! Destinations (real servers) of a virtual service.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

/// Tunnel encapsulation of a `TUN` destination (kernel ≥ 5.2 knows GUE and GRE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TunnelKind {
    Ipip,
    Gue,
    Gre,
}

impl TunnelKind {
    pub fn number(self) -> u8 {
        match self {
            TunnelKind::Ipip => 0,
            TunnelKind::Gue => 1,
            TunnelKind::Gre => 2,
        }
    }

    pub fn from_number(n: u8) -> Option<TunnelKind> {
        match n {
            0 => Some(TunnelKind::Ipip),
            1 => Some(TunnelKind::Gue),
            2 => Some(TunnelKind::Gre),
            _ => None,
        }
    }
}

/// Tunnel parameters. `port` is GUE's UDP port; `flags` the
/// `IP_VS_TUNNEL_ENCAP_FLAG_*` checksum bits (GUE/GRE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub port: u16,
    pub flags: u16,
}

impl Tunnel {
    pub const FLAG_CSUM: u16 = 1 << 0;
    pub const FLAG_REMCSUM: u16 = 1 << 1;

    pub const IPIP: Tunnel = Tunnel {
        kind: TunnelKind::Ipip,
        port: 0,
        flags: 0,
    };
}

/// How packets reach a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forward {
    /// NAT (masquerading): the director rewrites the destination address.
    Masq,
    /// The destination is this host.
    Local,
    /// IP-in-IP (or GUE/GRE) tunnelling.
    Tunnel(Tunnel),
    /// Direct routing: the frame is sent to the destination's MAC unchanged.
    Route,
    /// A forwarding code this build does not know (foreign entries only).
    Other(u32),
}

impl Forward {
    /// `IP_VS_CONN_F_*` forwarding code.
    pub fn code(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel(_) => 2,
            Forward::Route => 3,
            Forward::Other(c) => c,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Forward::Masq => "nat",
            Forward::Local => "local",
            Forward::Tunnel(_) => "tun",
            Forward::Route => "dr",
            Forward::Other(_) => "other",
        }
    }
}

impl fmt::Display for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Forward::Other(c) => write!(f, "forward-{c}"),
            other => f.write_str(other.name()),
        }
    }
}

impl Serialize for Forward {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A destination as belay sets it (and reads it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dest {
    /// Address and port; the family may differ from the service's only for tunnels.
    pub addr: SocketAddr,
    pub forward: Forward,
    /// Scheduling weight, 0..=i32::MAX (0 = no new connections).
    pub weight: u32,
    /// Stop sending new connections above this many (0 = no limit).
    pub upper_threshold: u32,
    /// Resume below this many.
    pub lower_threshold: u32,
}

impl Dest {
    pub fn new(addr: SocketAddr, forward: Forward, weight: u32) -> Dest {
        Dest {
            addr,
            forward,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }
}
