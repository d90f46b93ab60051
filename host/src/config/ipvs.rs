//! `[virtual_server.NAME]`: IPVS virtual servers and their real servers.
//!
//! ```toml
//! [virtual_server.www]
//! address = "192.0.2.1:80"          # or: fwmark = 7 (family = "ipv6")
//! protocol = "tcp"                  # tcp (default), udp, sctp
//! scheduler = "wrr"                 # any kernel scheduler; default wlc
//! scheduler_flags = ["sh-port"]     # sh-fallback sh-port mh-fallback mh-port flag-1..3
//! forwarding = "nat"                # default for its real servers: nat, dr, tun
//! persistence_timeout = "300s"      # turns persistence on
//! persistence_granularity = 24      # prefix (or "255.255.255.0")
//! quorum = 2                        # live weight needed; below it the sorry server serves
//! hysteresis = 1
//! inhibit_on_failure = true         # failed real servers stay with weight 0
//! alpha = true                      # real servers start down until their first success
//! omega = true                      # report everything down on stop
//! only_when_master = "VI_1"         # program only while this VRRP instance is MASTER
//! sorry_server = { address = "203.0.113.9:80" }
//!
//! [[virtual_server.www.real_server]]
//! address = "198.51.100.2:8080"
//! weight = 3
//! checks = ["web1"]                 # names of [check.NAME]; all must pass
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::diagnostic::{Seg, did_you_mean};
use super::{Config, Diagnostics, Duration};
use crate::ipvs::service::netmask_from_prefix;
use crate::ipvs::{
    Dest, Family, Forward, Protocol, RealServerSpec, Scheduler, Service, ServiceFlags, ServiceKey,
    SorryServerSpec, Tunnel, TunnelKind, VirtualServerSpec,
};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VirtualServerConfig {
    /// `IP:PORT` of the service (exclusive with `fwmark`).
    pub address: Option<Endpoint>,
    /// Firewall mark of the service (exclusive with `address`).
    pub fwmark: Option<u32>,
    /// Address family of a fwmark service; default ipv4.
    pub family: Option<FamilyName>,
    pub protocol: Option<ProtocolName>,
    #[serde(default)]
    pub scheduler: SchedulerName,
    #[serde(default)]
    pub scheduler_flags: Vec<SchedFlag>,
    /// One-packet scheduling (UDP): schedule each datagram on its own.
    #[serde(default)]
    pub one_packet: bool,
    /// Default forwarding method of the real servers.
    #[serde(default)]
    pub forwarding: ForwardingName,
    pub persistence_timeout: Option<Duration>,
    pub persistence_granularity: Option<Granularity>,
    pub persistence_engine: Option<String>,
    #[serde(default = "one")]
    pub quorum: u64,
    #[serde(default)]
    pub hysteresis: u64,
    /// Default for the real servers.
    #[serde(default)]
    pub inhibit_on_failure: bool,
    #[serde(default)]
    pub alpha: bool,
    #[serde(default)]
    pub omega: bool,
    pub only_when_master: Option<String>,
    pub sorry_server: Option<SorryServerConfig>,
    #[serde(default)]
    pub real_server: Vec<RealServerConfig>,
}

fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RealServerConfig {
    /// `IP:PORT`, or `IP` for the service's port.
    pub address: Endpoint,
    #[serde(default = "one_u32")]
    pub weight: u32,
    /// Overrides the virtual server's `forwarding`.
    pub forwarding: Option<ForwardingName>,
    /// Tunnel type of a `tun` server: ipip (default), gue, gre.
    pub tunnel: Option<TunnelName>,
    /// UDP port of a GUE tunnel.
    pub tunnel_port: Option<u16>,
    /// Checksum option of a GUE or GRE tunnel.
    pub tunnel_checksum: Option<ChecksumName>,
    #[serde(default)]
    pub upper_threshold: u32,
    #[serde(default)]
    pub lower_threshold: u32,
    /// Overrides the virtual server's `inhibit_on_failure`.
    pub inhibit_on_failure: Option<bool>,
    #[serde(default)]
    pub checks: Vec<String>,
}

fn one_u32() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SorryServerConfig {
    pub address: Endpoint,
    #[serde(default = "one_u32")]
    pub weight: u32,
    pub forwarding: Option<ForwardingName>,
    pub tunnel: Option<TunnelName>,
    pub tunnel_port: Option<u16>,
    pub tunnel_checksum: Option<ChecksumName>,
    /// Keep it in the table with weight 0 while not in use.
    #[serde(default)]
    pub inhibit: bool,
}

/// Tunnel options of a real or sorry server, gathered for checking.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct TunnelConfig {
    tunnel: Option<TunnelName>,
    tunnel_port: Option<u16>,
    tunnel_checksum: Option<ChecksumName>,
}

/// `IP:PORT` or a bare `IP` (port left to the context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(Endpoint {
                ip: sa.ip(),
                port: Some(sa.port()),
            });
        }
        let bare = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(s);
        bare.parse::<IpAddr>()
            .map(|ip| Endpoint { ip, port: None })
            .map_err(|_| {
                format!(
                    "invalid address `{s}`: write IP:PORT, e.g. \"192.0.2.1:80\" or \"[2001:db8::1]:80\""
                )
            })
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

/// A scheduler name, checked against the kernel's schedulers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulerName(pub Scheduler);

impl<'de> Deserialize<'de> for SchedulerName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map(SchedulerName).map_err(|_| {
            let names: Vec<&str> = Scheduler::KNOWN.iter().map(Scheduler::name).collect();
            let hint = match did_you_mean(&s, names.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("one of {}", names.join(", ")),
            };
            de::Error::custom(format!("unknown scheduler `{s}` ({hint})"))
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FamilyName {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ForwardingName {
    /// NAT (masquerading).
    #[default]
    Nat,
    /// Direct routing.
    Dr,
    /// Tunnelling (IPIP, GUE, GRE).
    Tun,
}

impl fmt::Display for ForwardingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForwardingName::Nat => "nat",
            ForwardingName::Dr => "dr",
            ForwardingName::Tun => "tun",
        })
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TunnelName {
    Ipip,
    Gue,
    Gre,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumName {
    None,
    Csum,
    Remcsum,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SchedFlag {
    ShFallback,
    ShPort,
    MhFallback,
    MhPort,
    #[serde(rename = "flag-1")]
    Flag1,
    #[serde(rename = "flag-2")]
    Flag2,
    #[serde(rename = "flag-3")]
    Flag3,
}

impl SchedFlag {
    fn bit(self) -> u32 {
        match self {
            SchedFlag::ShFallback | SchedFlag::MhFallback | SchedFlag::Flag1 => {
                ServiceFlags::SCHED1
            }
            SchedFlag::ShPort | SchedFlag::MhPort | SchedFlag::Flag2 => ServiceFlags::SCHED2,
            SchedFlag::Flag3 => ServiceFlags::SCHED3,
        }
    }

    /// The scheduler a named flag belongs to (generic `flag-N` fit any).
    fn scheduler(self) -> Option<Scheduler> {
        match self {
            SchedFlag::ShFallback | SchedFlag::ShPort => Some(Scheduler::Sh),
            SchedFlag::MhFallback | SchedFlag::MhPort => Some(Scheduler::Mh),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            SchedFlag::ShFallback => "sh-fallback",
            SchedFlag::ShPort => "sh-port",
            SchedFlag::MhFallback => "mh-fallback",
            SchedFlag::MhPort => "mh-port",
            SchedFlag::Flag1 => "flag-1",
            SchedFlag::Flag2 => "flag-2",
            SchedFlag::Flag3 => "flag-3",
        }
    }
}

/// Persistence granularity: a prefix length or (IPv4) a dotted mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granularity {
    Prefix(u8),
    Mask(String),
}

impl<'de> Deserialize<'de> for Granularity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Granularity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prefix length like 24, or a netmask like \"255.255.255.0\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Granularity, E> {
                u8::try_from(v)
                    .map(Granularity::Prefix)
                    .map_err(|_| E::custom(format!("prefix length {v} is out of range")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Granularity, E> {
                Ok(Granularity::Mask(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One problem found while resolving a virtual server, located by key path.
struct Problem {
    path: Vec<Seg>,
    message: String,
    hint: Option<String>,
}

struct Resolver<'a> {
    name: &'a str,
    problems: Vec<Problem>,
}

impl Resolver<'_> {
    fn at(&mut self, rel: Vec<Seg>, message: impl Into<String>, hint: Option<&str>) {
        let mut path = crate::key_path!["virtual_server", self.name];
        path.extend(rel);
        self.problems.push(Problem {
            path,
            message: message.into(),
            hint: hint.map(str::to_owned),
        });
    }
}

const MAX_WEIGHT: u32 = i32::MAX as u32;

/// Resolves a virtual server into kernel terms, or says what is wrong.
fn resolve(
    config: &Config,
    name: &str,
    vs: &VirtualServerConfig,
) -> Result<VirtualServerSpec, Vec<Problem>> {
    let mut r = Resolver {
        name,
        problems: Vec::new(),
    };

    // Identity.
    let key = match (&vs.address, vs.fwmark) {
        (Some(_), Some(_)) => {
            r.at(
                crate::key_path!["fwmark"],
                "a virtual server has either `address` or `fwmark`, not both",
                Some("remove one of them"),
            );
            None
        }
        (None, None) => {
            r.at(
                vec![],
                format!("virtual server `{name}` needs `address` or `fwmark`"),
                Some("add address = \"192.0.2.1:80\" (or fwmark = 7)"),
            );
            None
        }
        (Some(ep), None) => {
            if vs.family.is_some() {
                r.at(
                    crate::key_path!["family"],
                    "`family` is only for fwmark services; the address says the family",
                    Some("remove `family`"),
                );
            }
            match ep.port {
                None => {
                    r.at(
                        crate::key_path!["address"],
                        "the virtual server address needs a port",
                        Some("write IP:PORT, e.g. \"192.0.2.1:80\" (port 0 with persistence = all ports)"),
                    );
                    None
                }
                Some(0) if vs.persistence_timeout.is_none() => {
                    r.at(
                        crate::key_path!["address"],
                        "port 0 (all ports) needs persistence",
                        Some("set persistence_timeout, or give a port"),
                    );
                    None
                }
                Some(port) => Some(ServiceKey::Inet {
                    protocol: match vs.protocol.unwrap_or(ProtocolName::Tcp) {
                        ProtocolName::Tcp => Protocol::Tcp,
                        ProtocolName::Udp => Protocol::Udp,
                        ProtocolName::Sctp => Protocol::Sctp,
                    },
                    addr: SocketAddr::new(ep.ip, port),
                }),
            }
        }
        (None, Some(mark)) => {
            if vs.protocol.is_some() {
                r.at(
                    crate::key_path!["protocol"],
                    "a fwmark service matches packets of any protocol",
                    Some("remove `protocol`; the firewall rule that sets the mark chooses the protocol"),
                );
            }
            if mark == 0 {
                r.at(
                    crate::key_path!["fwmark"],
                    "fwmark 0 means \"no mark\"",
                    Some("use a mark from 1 up"),
                );
                None
            } else {
                Some(ServiceKey::Fwmark {
                    family: match vs.family.unwrap_or(FamilyName::Ipv4) {
                        FamilyName::Ipv4 => Family::Ipv4,
                        FamilyName::Ipv6 => Family::Ipv6,
                    },
                    mark,
                })
            }
        }
    };
    let family = key.map(|k| k.family());

    // Scheduler and flags.
    let scheduler = vs.scheduler.0.clone();
    let mut flags = 0u32;
    for (i, f) in vs.scheduler_flags.iter().enumerate() {
        if let Some(owner) = f.scheduler()
            && owner != scheduler
        {
            r.at(
                crate::key_path!["scheduler_flags", i],
                format!(
                    "`{}` is a flag of the `{owner}` scheduler, not of `{scheduler}`",
                    f.name()
                ),
                Some("remove it, or use scheduler = \"sh\" / \"mh\""),
            );
        }
        flags |= f.bit();
    }
    if vs.one_packet {
        match key {
            Some(ServiceKey::Inet { protocol, .. }) if protocol != Protocol::Udp => r.at(
                crate::key_path!["one_packet"],
                "one-packet scheduling only works for UDP",
                Some("set protocol = \"udp\" or remove `one_packet`"),
            ),
            _ => flags |= ServiceFlags::ONE_PACKET,
        }
    }

    // Persistence.
    let mut timeout = 0u32;
    if let Some(t) = vs.persistence_timeout {
        let d = t.get();
        if d.subsec_nanos() != 0 || d.as_secs() == 0 || d.as_secs() > u64::from(u32::MAX) {
            r.at(
                crate::key_path!["persistence_timeout"],
                format!("persistence timeout {t} is not a whole number of seconds ≥ 1s"),
                Some("the kernel counts it in seconds, e.g. \"300s\""),
            );
        } else {
            timeout = d.as_secs() as u32;
            flags |= ServiceFlags::PERSISTENT;
        }
    }
    let mut netmask = family.map_or(0, |f| netmask_from_prefix(f, f.bits()));
    if let Some(g) = &vs.persistence_granularity {
        if vs.persistence_timeout.is_none() {
            r.at(
                crate::key_path!["persistence_granularity"],
                "persistence granularity without persistence",
                Some("set persistence_timeout too"),
            );
        }
        if let Some(f) = family {
            match granularity(f, g) {
                Ok(m) => netmask = m,
                Err(msg) => r.at(
                    crate::key_path!["persistence_granularity"],
                    msg,
                    Some(match f {
                        Family::Ipv4 => "a prefix length 1..32 or a mask like \"255.255.255.0\"",
                        Family::Ipv6 => "a prefix length 1..128",
                    }),
                ),
            }
        }
    }
    if let Some(pe) = &vs.persistence_engine
        && pe != "sip"
    {
        r.at(
            crate::key_path!["persistence_engine"],
            format!("unknown persistence engine `{pe}`"),
            Some("Linux has one: \"sip\""),
        );
    }
    if vs.persistence_engine.is_some() && vs.persistence_timeout.is_none() {
        r.at(
            crate::key_path!["persistence_engine"],
            "a persistence engine needs persistence",
            Some("set persistence_timeout too"),
        );
    }
    if vs.quorum == 0 {
        r.at(
            crate::key_path!["quorum"],
            "quorum must be at least 1",
            Some("the default is 1"),
        );
    }
    if let Some(vi) = &vs.only_when_master
        && !config.vrrp_instance.contains_key(vi)
    {
        let hint = did_you_mean(vi, config.vrrp_instance.keys().map(String::as_str))
            .map(|c| format!("did you mean `{c}`?"))
            .unwrap_or_else(|| "name a [vrrp_instance.NAME] of this file".into());
        r.at(
            crate::key_path!["only_when_master"],
            format!("no VRRP instance `{vi}`"),
            Some(&hint),
        );
    }

    // Real servers.
    let mut real_servers = Vec::with_capacity(vs.real_server.len());
    let mut seen: Vec<SocketAddr> = Vec::new();
    for (i, rs) in vs.real_server.iter().enumerate() {
        let base = crate::key_path!["real_server", i];
        let fwd_name = rs.forwarding.unwrap_or(vs.forwarding);
        let tun = TunnelConfig {
            tunnel: rs.tunnel,
            tunnel_port: rs.tunnel_port,
            tunnel_checksum: rs.tunnel_checksum,
        };
        let dest = destination(&mut r, &base, key, &rs.address, rs.weight, fwd_name, &tun);
        if rs.lower_threshold > rs.upper_threshold {
            let mut p = base.clone();
            p.push("lower_threshold".into());
            r.at(
                p,
                format!(
                    "lower_threshold {} is above upper_threshold {}",
                    rs.lower_threshold, rs.upper_threshold
                ),
                Some("set upper_threshold (0 = no limit) above lower_threshold"),
            );
        }
        for (j, c) in rs.checks.iter().enumerate() {
            if !config.check.contains_key(c) {
                let hint = did_you_mean(c, config.check.keys().map(String::as_str))
                    .map(|x| format!("did you mean `{x}`?"))
                    .unwrap_or_else(|| "name a [check.NAME] of this file".into());
                let mut p = base.clone();
                p.extend(crate::key_path!["checks", j]);
                r.at(p, format!("no check `{c}`"), Some(&hint));
            }
        }
        if let Some(mut d) = dest {
            if seen.contains(&d.addr) {
                let mut p = base.clone();
                p.push("address".into());
                r.at(
                    p,
                    format!("real server {} is listed twice", d.addr),
                    Some("each real server appears once per virtual server"),
                );
            }
            seen.push(d.addr);
            d.upper_threshold = rs.upper_threshold;
            d.lower_threshold = rs.lower_threshold;
            real_servers.push(RealServerSpec {
                dest: d,
                inhibit_on_failure: rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure),
                checks: rs.checks.clone(),
            });
        }
    }
    let sorry_server = vs.sorry_server.as_ref().and_then(|s| {
        let fwd_name = s.forwarding.unwrap_or(vs.forwarding);
        let tun = TunnelConfig {
            tunnel: s.tunnel,
            tunnel_port: s.tunnel_port,
            tunnel_checksum: s.tunnel_checksum,
        };
        destination(
            &mut r,
            &[Seg::from("sorry_server")],
            key,
            &s.address,
            s.weight,
            fwd_name,
            &tun,
        )
        .map(|dest| SorryServerSpec {
            dest,
            inhibit: s.inhibit,
        })
    });

    match key {
        Some(key) if r.problems.is_empty() => Ok(VirtualServerSpec {
            name: name.to_owned(),
            service: Service {
                key,
                scheduler,
                flags: ServiceFlags(flags),
                timeout,
                netmask,
                pe_name: vs.persistence_engine.clone(),
            },
            real_servers,
            sorry_server,
            quorum: vs.quorum,
            hysteresis: vs.hysteresis,
            alpha: vs.alpha,
            omega: vs.omega,
            only_when_master: vs.only_when_master.clone(),
        }),
        _ => Err(r.problems),
    }
}

fn granularity(family: Family, g: &Granularity) -> Result<u32, String> {
    match (family, g) {
        (f, Granularity::Prefix(p)) if *p >= 1 && *p <= f.bits() => Ok(netmask_from_prefix(f, *p)),
        (f, Granularity::Prefix(p)) => Err(format!("prefix /{p} is out of range for {f}")),
        (Family::Ipv4, Granularity::Mask(m)) => {
            let ip: Ipv4Addr = m.parse().map_err(|_| format!("`{m}` is not a netmask"))?;
            let bits = u32::from(ip);
            let ones = bits.leading_ones();
            if ones == 0 || bits.checked_shl(ones).unwrap_or(0) != 0 {
                Err(format!("`{m}` is not a contiguous netmask"))
            } else {
                Ok(bits)
            }
        }
        (Family::Ipv6, Granularity::Mask(m)) => {
            Err(format!("`{m}`: IPv6 granularity is a prefix length"))
        }
    }
}

/// A real or sorry server's destination, checked against its service.
fn destination(
    r: &mut Resolver<'_>,
    base: &[Seg],
    key: Option<ServiceKey>,
    ep: &Endpoint,
    weight: u32,
    fwd_name: ForwardingName,
    tun: &TunnelConfig,
) -> Option<Dest> {
    let path = |leaf: &str| {
        let mut p = base.to_vec();
        p.push(leaf.into());
        p
    };
    let mut ok = true;
    if weight > MAX_WEIGHT {
        r.at(
            path("weight"),
            format!("weight {weight} is above {MAX_WEIGHT}"),
            None,
        );
        ok = false;
    }
    let forward = match fwd_name {
        ForwardingName::Nat => Forward::Masq,
        ForwardingName::Dr => Forward::Route,
        ForwardingName::Tun => {
            let kind = match tun.tunnel.unwrap_or(TunnelName::Ipip) {
                TunnelName::Ipip => TunnelKind::Ipip,
                TunnelName::Gue => TunnelKind::Gue,
                TunnelName::Gre => TunnelKind::Gre,
            };
            let port = tun.tunnel_port.unwrap_or(0);
            if kind == TunnelKind::Gue && port == 0 {
                r.at(
                    path("tunnel_port"),
                    "a GUE tunnel needs `tunnel_port`",
                    Some("e.g. tunnel_port = 6080"),
                );
                ok = false;
            }
            if kind != TunnelKind::Gue && tun.tunnel_port.is_some() {
                r.at(
                    path("tunnel_port"),
                    "`tunnel_port` is only for GUE tunnels",
                    Some("remove it, or set tunnel = \"gue\""),
                );
                ok = false;
            }
            let flags = match tun.tunnel_checksum {
                None | Some(ChecksumName::None) => 0,
                Some(_) if kind == TunnelKind::Ipip => {
                    r.at(
                        path("tunnel_checksum"),
                        "IPIP tunnels have no checksum option",
                        Some("use tunnel = \"gue\" or \"gre\""),
                    );
                    ok = false;
                    0
                }
                Some(ChecksumName::Csum) => Tunnel::FLAG_CSUM,
                Some(ChecksumName::Remcsum) => Tunnel::FLAG_REMCSUM,
            };
            Forward::Tunnel(Tunnel { kind, port, flags })
        }
    };
    if fwd_name != ForwardingName::Tun && tun != &TunnelConfig::default() {
        r.at(
            path("tunnel"),
            format!("tunnel options on a `{fwd_name}` server"),
            Some("set forwarding = \"tun\", or remove the tunnel options"),
        );
        ok = false;
    }
    let key = key?;
    if Family::of(ep.ip) != key.family() && !matches!(forward, Forward::Tunnel(_)) {
        r.at(
            path("address"),
            format!(
                "{} is {}, the virtual server is {}",
                ep.ip,
                Family::of(ep.ip),
                key.family()
            ),
            Some("only tunnelled (forwarding = \"tun\") servers may use the other family"),
        );
        ok = false;
    }
    let port = match (key, ep.port) {
        (ServiceKey::Inet { addr, .. }, Some(p))
            if p != addr.port() && !matches!(forward, Forward::Masq) =>
        {
            r.at(
                path("address"),
                format!("{fwd_name} cannot change the port ({} → {p})", addr.port()),
                Some("give the virtual server's port (or none), or use forwarding = \"nat\""),
            );
            ok = false;
            p
        }
        (_, Some(p)) => p,
        (ServiceKey::Inet { addr, .. }, None) => addr.port(),
        (ServiceKey::Fwmark { .. }, None) => 0,
    };
    ok.then(|| Dest {
        addr: SocketAddr::new(ep.ip, port),
        forward,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
    })
}

pub(super) fn validate(config: &Config, d: &mut Diagnostics<'_>) {
    let mut keys: Vec<(ServiceKey, &str)> = Vec::new();
    for (name, vs) in &config.virtual_server {
        match resolve(config, name, vs) {
            Ok(spec) => {
                if let Some((_, other)) = keys.iter().find(|(k, _)| *k == spec.service.key) {
                    let leaf = if vs.fwmark.is_some() {
                        "fwmark"
                    } else {
                        "address"
                    };
                    d.error(
                        crate::key_path!["virtual_server", name, leaf],
                        format!(
                            "{} is already defined by virtual server `{other}`",
                            spec.service.key
                        ),
                        Some("each virtual service is defined once".into()),
                    );
                }
                keys.push((spec.service.key, name));
            }
            Err(problems) => {
                for p in problems {
                    d.error(p.path, p.message, p.hint);
                }
            }
        }
    }
}

impl Config {
    /// The virtual servers in kernel terms. The config was validated when
    /// loaded, so every one resolves; one that does not is skipped.
    pub fn virtual_server_specs(&self) -> Vec<VirtualServerSpec> {
        self.virtual_server
            .iter()
            .filter_map(|(name, vs)| resolve(self, name, vs).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests;
