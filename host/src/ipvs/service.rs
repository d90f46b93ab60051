//! Virtual services: how the kernel identifies them (`ServiceKey`) and what
//! can be set on them (`Service`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::Serialize;

/// Address family of a service or destination (`AF_INET` / `AF_INET6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The kernel's `AF_*` value.
    pub fn af(self) -> u16 {
        match self {
            Family::Ipv4 => libc::AF_INET as u16,
            Family::Ipv6 => libc::AF_INET6 as u16,
        }
    }

    pub fn from_af(af: u16) -> Option<Family> {
        match i32::from(af) {
            libc::AF_INET => Some(Family::Ipv4),
            libc::AF_INET6 => Some(Family::Ipv6),
            _ => None,
        }
    }

    /// Bits in an address of this family (the widest persistence netmask).
    pub fn bits(self) -> u8 {
        match self {
            Family::Ipv4 => 32,
            Family::Ipv6 => 128,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        })
    }
}

/// Transport protocol of an address-based service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The `IPPROTO_*` number the kernel uses.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => libc::IPPROTO_TCP as u16,
            Protocol::Udp => libc::IPPROTO_UDP as u16,
            Protocol::Sctp => libc::IPPROTO_SCTP as u16,
        }
    }

    pub fn from_number(n: u16) -> Option<Protocol> {
        match i32::from(n) {
            libc::IPPROTO_TCP => Some(Protocol::Tcp),
            libc::IPPROTO_UDP => Some(Protocol::Udp),
            libc::IPPROTO_SCTP => Some(Protocol::Sctp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        })
    }
}

/// What identifies a virtual service in the kernel: protocol + address +
/// port, or a firewall mark within one address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    Inet {
        protocol: Protocol,
        addr: SocketAddr,
    },
    Fwmark {
        family: Family,
        mark: u32,
    },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Inet { addr, .. } => Family::of(addr.ip()),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

/// `192.0.2.1:80/tcp`, `[2001:db8::1]:443/tcp`, `fwmark 7/ipv4`: the forms
/// error messages and status use.
impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet { protocol, addr } => write!(f, "{addr}/{protocol}"),
            ServiceKey::Fwmark { family, mark } => write!(f, "fwmark {mark}/{family}"),
        }
    }
}

impl Serialize for ServiceKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A kernel scheduler, by the name the kernel registers it under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Dh,
    Sh,
    Sed,
    Nq,
    Fo,
    Ovf,
    Mh,
    Twos,
    /// A name this build does not know (seen only on foreign services).
    Other(String),
}

impl Scheduler {
    /// Every scheduler Linux ships, in ipvsadm's order.
    pub const KNOWN: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Dh,
        Scheduler::Sh,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Mh,
        Scheduler::Twos,
    ];

    pub fn name(&self) -> &str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Dh => "dh",
            Scheduler::Sh => "sh",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Mh => "mh",
            Scheduler::Twos => "twos",
            Scheduler::Other(s) => s,
        }
    }

    /// The scheduler named `name`, `Other` when unknown (used for kernel dumps).
    pub fn from_kernel(name: &str) -> Scheduler {
        name.parse()
            .unwrap_or_else(|_| Scheduler::Other(name.to_owned()))
    }
}

impl Default for Scheduler {
    /// `wlc`, ipvsadm's default.
    fn default() -> Self {
        Scheduler::Wlc
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Scheduler {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Only the known names parse; `Other` comes from kernel dumps, never from config.
impl FromStr for Scheduler {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheduler::KNOWN
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown scheduler `{s}`"))
    }
}

/// Service flags a user may set (`IP_VS_SVC_F_*`, without the kernel's
/// internal `HASHED` bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ServiceFlags(pub u32);

impl ServiceFlags {
    pub const PERSISTENT: u32 = 0x0001;
    /// Kernel-internal; never compared or written.
    pub const HASHED: u32 = 0x0002;
    pub const ONE_PACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// The bits belay owns: everything but `HASHED`.
    pub const USER_MASK: u32 =
        Self::PERSISTENT | Self::ONE_PACKET | Self::SCHED1 | Self::SCHED2 | Self::SCHED3;

    /// `sh`: fall back to another server when the hashed one is unavailable.
    pub const SH_FALLBACK: u32 = Self::SCHED1;
    /// `sh`: hash the source port too.
    pub const SH_PORT: u32 = Self::SCHED2;
    /// `mh`: fall back to another server when the hashed one is unavailable.
    pub const MH_FALLBACK: u32 = Self::SCHED1;
    /// `mh`: hash the source port too.
    pub const MH_PORT: u32 = Self::SCHED2;

    /// Flags as the kernel reports them, without internal bits.
    pub fn from_kernel(bits: u32) -> ServiceFlags {
        ServiceFlags(bits & Self::USER_MASK)
    }

    pub fn contains(self, bit: u32) -> bool {
        self.0 & bit == bit
    }
}

/// Everything belay sets on a virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    pub flags: ServiceFlags,
    /// Persistence timeout in whole seconds (meaningful with `PERSISTENT`).
    pub timeout: u32,
    /// Persistence granularity as the kernel stores it: for IPv4 the mask
    /// (`0xffffff00` = /24), for IPv6 the prefix length.
    pub netmask: u32,
    /// Persistence engine (`sip`), if any.
    pub pe_name: Option<String>,
}

impl Service {
    /// A non-persistent service with default netmask.
    pub fn new(key: ServiceKey, scheduler: Scheduler) -> Service {
        Service {
            key,
            scheduler,
            flags: ServiceFlags::default(),
            timeout: 0,
            netmask: netmask_from_prefix(key.family(), key.family().bits()),
            pe_name: None,
        }
    }

    /// Persistence granularity as a prefix length, when it is one.
    pub fn netmask_prefix(&self) -> Option<u8> {
        match self.key.family() {
            Family::Ipv6 => u8::try_from(self.netmask).ok().filter(|p| *p <= 128),
            Family::Ipv4 => {
                let ones = self.netmask.leading_ones();
                (self.netmask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
            }
        }
    }
}

/// The kernel's netmask encoding for a persistence prefix.
pub fn netmask_from_prefix(family: Family, prefix: u8) -> u32 {
    match family {
        Family::Ipv4 => {
            let p = u32::from(prefix.min(32));
            if p == 0 { 0 } else { u32::MAX << (32 - p) }
        }
        Family::Ipv6 => u32::from(prefix.min(128)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_display_as_in_messages() {
        let k = ServiceKey::Inet {
            protocol: Protocol::Tcp,
            addr: "192.0.2.1:80".parse().unwrap(),
        };
        assert_eq!(k.to_string(), "192.0.2.1:80/tcp");
        let k6 = ServiceKey::Inet {
            protocol: Protocol::Udp,
            addr: "[2001:db8::1]:53".parse().unwrap(),
        };
        assert_eq!(k6.to_string(), "[2001:db8::1]:53/udp");
        let f = ServiceKey::Fwmark {
            family: Family::Ipv6,
            mark: 7,
        };
        assert_eq!(f.to_string(), "fwmark 7/ipv6");
    }

    #[test]
    fn schedulers_round_trip_by_name() {
        for s in Scheduler::KNOWN {
            assert_eq!(s.name().parse::<Scheduler>().unwrap(), s);
        }
        assert!("wrrr".parse::<Scheduler>().is_err());
        assert_eq!(
            Scheduler::from_kernel("new"),
            Scheduler::Other("new".into())
        );
    }

    #[test]
    fn netmask_encodings() {
        assert_eq!(netmask_from_prefix(Family::Ipv4, 24), 0xffff_ff00);
        assert_eq!(netmask_from_prefix(Family::Ipv4, 32), 0xffff_ffff);
        assert_eq!(netmask_from_prefix(Family::Ipv4, 0), 0);
        assert_eq!(netmask_from_prefix(Family::Ipv6, 64), 64);
        let mut s = Service::new(
            ServiceKey::Fwmark {
                family: Family::Ipv4,
                mark: 1,
            },
            Scheduler::Rr,
        );
        assert_eq!(s.netmask_prefix(), Some(32));
        s.netmask = 0xff00_ff00;
        assert_eq!(s.netmask_prefix(), None);
    }

    #[test]
    fn kernel_flags_lose_internal_bits() {
        let f = ServiceFlags::from_kernel(ServiceFlags::HASHED | ServiceFlags::PERSISTENT);
        assert_eq!(f, ServiceFlags(ServiceFlags::PERSISTENT));
    }
}
