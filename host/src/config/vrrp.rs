//! `[vrrp_instance.NAME]`: VRRP instances (interface, VRID, priority, VIPs, ...).
//!
//! ```toml
//! [vrrp_instance.VI_1]
//! interface = "eth0"
//! vrid = 51
//! priority = 150
//! advert_interval = "100ms"
//! virtual_ipaddress = ["192.0.2.100/24"]
//! ```
//!
//! The address family of an instance is inferred from its VIPs (VRRPv3 runs
//! IPv4 and IPv6 as separate virtual routers, so one instance is one family).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::{Config, Diagnostics, Duration, NotifyConfig, TrackConfig};
use crate::key_path;

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAMSIZ_MAX: usize = 15;
/// v3 intervals are 12-bit centisecond counts.
pub const V3_MAX_INTERVAL_CS: u64 = 4095;
/// v2 intervals are whole seconds in 8 bits.
pub const V2_MAX_INTERVAL_S: u64 = 255;
/// Keepalived's cap on preempt_delay; a longer delay is almost certainly a typo.
pub const MAX_PREEMPT_DELAY_S: u64 = 1000;
/// v2 simple-text authentication carries 8 bytes.
pub const AUTH_PASS_MAX: usize = 8;

/// One VRRP virtual router on one interface.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstanceConfig {
    /// Interface the instance runs on (adverts sent and received, VIPs added).
    pub interface: String,
    /// Virtual router ID, 1..=255; unique per interface and family.
    pub vrid: u8,
    /// 1..=254, or 255 for the address owner. Higher wins.
    #[serde(default = "default_priority")]
    pub priority: u8,
    /// How often the master advertises. v2: whole seconds; v3: 10ms..40.95s in 10ms steps.
    #[serde(default = "default_advert_interval")]
    pub advert_interval: Duration,
    /// VRRP version, 2 (RFC 3768, IPv4 only) or 3 (RFC 5798).
    #[serde(default = "default_version")]
    pub version: u8,
    /// The addresses that move: `"192.0.2.100/24"`, or `{ address = "...", label = "eth0:vip" }`.
    pub virtual_ipaddress: Vec<Vip>,
    /// A higher-priority backup takes over from a lower-priority master.
    #[serde(default = "default_true")]
    pub preempt: bool,
    /// How long a higher-priority backup waits after start before preempting.
    #[serde(default)]
    pub preempt_delay: Duration,
    /// Send adverts to these peers by unicast instead of multicast.
    #[serde(default)]
    pub unicast_peers: Vec<IpAddr>,
    /// Source address for unicast adverts (default: the interface's primary address).
    #[serde(default)]
    pub unicast_src: Option<IpAddr>,
    /// Accept mode (RFC 5798 §6.1): a non-owner master accepts packets
    /// addressed to the VIPs. Carried to the protocol core; belay does not
    /// yet filter that traffic when it is off (Keepalived only does with
    /// `vrrp_iptables` / nftables configured), so today a master accepts it
    /// either way.
    #[serde(default)]
    pub accept: bool,
    /// Put the VIPs on a macvlan with the VRRP virtual MAC 00:00:5e:00:01:VRID (v6: :02:).
    #[serde(default)]
    pub use_vmac: bool,
    /// Name of the macvlan when `use_vmac` is on (default `vrrp.VRID`, or `vrrp6.VRID`).
    #[serde(default)]
    pub vmac_interface: Option<String>,
    /// v2 only: `"pass"` for simple text authentication (RFC 2338 type 1).
    #[serde(default)]
    pub auth_type: Option<AuthType>,
    /// v2 only: the password for `auth_type = "pass"`, at most 8 bytes.
    #[serde(default)]
    pub auth_pass: Option<String>,
    /// A master beaten by a higher priority sends one last advert first, so
    /// a winner that had not heard it re-asserts and refreshes the ARP caches
    /// the loser held (after a partition heals). Keepalived's
    /// `vrrp_higher_prio_send_advert`, which is off there; on here, because
    /// without it clients can keep the loser's MAC for seconds.
    #[serde(default = "default_true")]
    pub higher_prio_send_advert: bool,
    /// Gratuitous ARP / unsolicited neighbour advertisement schedule.
    #[serde(default)]
    pub garp: GarpConfig,
    /// Checks and interfaces whose health moves this instance's priority
    /// (Keepalived's track_script / track_interface).
    #[serde(default)]
    pub track: Vec<TrackConfig>,
    /// Health-driven handover: a master whose priority tracking lowers below
    /// this level hands over at once with a priority-0 advert. `"auto"`
    /// (default): on any drop, preempting back a taker that turns out to be
    /// weaker; `"never"`; or a number (the backup's priority).
    #[serde(default)]
    pub resign_below: ResignBelow,
    /// Commands run on every state change of this instance.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
}

/// `resign_below = "auto" | "never" | 1..=254`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResignBelow {
    #[default]
    Auto,
    Never,
    Level(u8),
}

impl<'de> Deserialize<'de> for ResignBelow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ResignBelow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\", \"never\" or a priority 1..=254")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ResignBelow, E> {
                match v {
                    "auto" => Ok(ResignBelow::Auto),
                    "never" => Ok(ResignBelow::Never),
                    _ => Err(E::custom(format!(
                        "resign_below must be \"auto\", \"never\" or a priority, not `{v}`"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ResignBelow, E> {
                u8::try_from(v)
                    .ok()
                    .filter(|p| (1..=254).contains(p))
                    .map(ResignBelow::Level)
                    .ok_or_else(|| E::custom(format!("resign_below {v} is outside 1..=254")))
            }
        }
        d.deserialize_any(V)
    }
}

/// v2 authentication types; only simple text survives in practice (and in Keepalived).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    Pass,
}

/// When gratuitous ARPs / unsolicited NAs are sent (Keepalived's `garp_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpConfig {
    /// Frames per VIP in each burst.
    pub repeat: u32,
    /// Gap between the frames of one burst.
    pub interval: Duration,
    /// A second burst this long after becoming master (0s: none).
    pub delay: Duration,
    /// While master, a burst every `refresh` (0s: never).
    pub refresh: Duration,
    /// Frames per VIP when a master hears a lower priority and re-asserts
    /// (the other router may have taken the ARP caches); 0: none.
    pub lower_prio_repeat: u32,
    /// A second such burst this long after (0s: none).
    pub lower_prio_delay: Duration,
    /// Frames per VIP in each refresh burst.
    pub refresh_repeat: u32,
}

impl Default for GarpConfig {
    fn default() -> Self {
        Self {
            repeat: 5,
            interval: Duration::from_millis(0),
            delay: Duration::from_secs(5),
            refresh: Duration::from_millis(0),
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
            refresh_repeat: 1,
        }
    }
}

/// A virtual IP with its prefix length and optional label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Vip {
    pub addr: IpAddr,
    pub prefix: u8,
    /// IPv4 label (`ip addr ... label eth0:vip`); must start with the interface name.
    pub label: Option<String>,
}

impl Vip {
    pub fn new(addr: IpAddr, prefix: u8) -> Vip {
        Vip {
            addr,
            prefix,
            label: None,
        }
    }
}

impl fmt::Display for Vip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a VIP string did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid virtual IP `{input}`: {reason} (write e.g. \"192.0.2.100/24\" or \"2001:db8::100/64\")"
)]
pub struct ParseVipError {
    input: String,
    reason: &'static str,
}

impl FromStr for Vip {
    type Err = ParseVipError;

    /// `addr/prefix`, or a bare address meaning a host route (/32, /128).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseVipError {
            input: s.to_owned(),
            reason,
        };
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| err("prefix length out of range"))?,
        };
        if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
            return Err(err("a VIP must be a unicast address"));
        }
        Ok(Vip::new(addr, prefix))
    }
}

impl<'de> Deserialize<'de> for Vip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            address: String,
            #[serde(default)]
            label: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Table(Table),
        }
        match Form::deserialize(d).map_err(|_| {
            de::Error::custom(
                "a virtual IP is a string \"192.0.2.100/24\" or a table { address = \"192.0.2.100/24\", label = \"eth0:vip\" }",
            )
        })? {
            Form::Text(s) => s.parse().map_err(de::Error::custom),
            Form::Table(t) => {
                let mut vip: Vip = t.address.parse().map_err(de::Error::custom)?;
                vip.label = t.label;
                Ok(vip)
            }
        }
    }
}

/// The address family of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        })
    }
}

impl VrrpInstanceConfig {
    /// The family of the VIPs (validation guarantees there is exactly one).
    pub fn family(&self) -> Family {
        self.virtual_ipaddress
            .first()
            .map_or(Family::Ipv4, |v| Family::of(&v.addr))
    }

    /// Advert interval in centiseconds, as it goes on the wire (v2: seconds × 100).
    pub fn advert_interval_cs(&self) -> u16 {
        u16::try_from(self.advert_interval.get().as_millis() / 10).unwrap_or(u16::MAX)
    }

    /// Name of the macvlan carrying the VIPs when `use_vmac` is on.
    pub fn vmac_name(&self) -> String {
        self.vmac_interface
            .clone()
            .unwrap_or_else(|| match self.family() {
                Family::Ipv4 => format!("vrrp.{}", self.vrid),
                Family::Ipv6 => format!("vrrp6.{}", self.vrid),
            })
    }

    /// The v2 password bytes (zero-padded to 8 on the wire), if any.
    pub fn auth_pass_bytes(&self) -> Option<&[u8]> {
        match self.auth_type {
            Some(AuthType::Pass) => self.auth_pass.as_deref().map(str::as_bytes),
            None => None,
        }
    }
}

fn default_priority() -> u8 {
    100
}
fn default_advert_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_version() -> u8 {
    3
}
fn default_true() -> bool {
    true
}

pub(super) fn validate(config: &Config, d: &mut Diagnostics<'_>) {
    for (name, inst) in &config.vrrp_instance {
        validate_instance(name, inst, d);
        for (i, t) in inst.track.iter().enumerate() {
            t.validate(config, key_path!["vrrp_instance", name, "track", i], d);
        }
        if let Some(n) = &inst.notify {
            n.validate(key_path!["vrrp_instance", name, "notify"], d);
        }
    }
    validate_uniqueness(config, d);
}

fn validate_instance(name: &str, i: &VrrpInstanceConfig, d: &mut Diagnostics<'_>) {
    let at = |key: &str| key_path!["vrrp_instance", name, key];

    validate_interface_name(&i.interface, at("interface"), d);
    if i.vrid == 0 {
        d.error(
            at("vrid"),
            "vrid must be 1..=255",
            Some("VRID 0 is reserved; pick one unused on this LAN".into()),
        );
    }
    if i.priority == 0 {
        d.error(
            at("priority"),
            "priority must be 1..=255",
            Some(
                "priority 0 is sent only by a stopping master; use 1..=254 (255 = address owner)"
                    .into(),
            ),
        );
    }
    if i.priority == 255 && !i.preempt {
        d.error(
            at("preempt"),
            "the address owner (priority 255) always preempts",
            Some("remove `preempt = false`, or lower the priority below 255".into()),
        );
    }

    let version_ok = match i.version {
        2 | 3 => true,
        _ => {
            d.error(
                at("version"),
                format!("unsupported VRRP version {}", i.version),
                Some("use 3 (RFC 5798, IPv4 and IPv6) or 2 (RFC 3768, IPv4 only)".into()),
            );
            false
        }
    };
    if version_ok {
        validate_interval(i, at("advert_interval"), d);
    }

    // VIPs: at least one, one family, no duplicates.
    if i.virtual_ipaddress.is_empty() {
        d.error(
            at("virtual_ipaddress"),
            "an instance needs at least one virtual IP",
            Some("add e.g. virtual_ipaddress = [\"192.0.2.100/24\"]".into()),
        );
    }
    let family = i.family();
    for (n, vip) in i.virtual_ipaddress.iter().enumerate() {
        let here = key_path!["vrrp_instance", name, "virtual_ipaddress", n];
        if Family::of(&vip.addr) != family {
            d.error(
                here.clone(),
                format!(
                    "{} mixes address families: {} after {} VIPs",
                    vip.addr,
                    Family::of(&vip.addr),
                    family
                ),
                Some(
                    "one instance carries one family (VRRPv3 runs IPv4 and IPv6 as separate routers): \
                     move these VIPs to a second [vrrp_instance] with its own vrid"
                        .into(),
                ),
            );
        }
        if i.virtual_ipaddress[..n].iter().any(|v| v.addr == vip.addr) {
            d.error(
                here.clone(),
                format!("{} is listed twice", vip.addr),
                Some("remove the duplicate".into()),
            );
        }
        if let IpAddr::V6(a) = vip.addr
            && a.is_unicast_link_local()
            && vip.prefix != 64
        {
            // Not fatal in the kernel, but a link-local VIP with another prefix is a typo.
            d.error(
                here.clone(),
                format!("link-local VIP {} should be /64", vip.addr),
                Some("write it as fe80::.../64".into()),
            );
        }
        if let Some(label) = &vip.label {
            if vip.addr.is_ipv6() {
                d.error(
                    here.clone(),
                    "labels exist only for IPv4 addresses",
                    Some("remove `label`".into()),
                );
            } else if !label.starts_with(&i.interface) || label.len() > IFNAMSIZ_MAX {
                d.error(
                    here.clone(),
                    format!("label `{label}` must start with the interface name and be at most {IFNAMSIZ_MAX} bytes"),
                    Some(format!("e.g. label = \"{}:vip\"", i.interface)),
                );
            }
        }
    }
    if i.version == 2 && family == Family::Ipv6 && !i.virtual_ipaddress.is_empty() {
        d.error(
            at("version"),
            "VRRPv2 carries IPv4 only",
            Some("use version = 3 for IPv6 VIPs".into()),
        );
    }

    // Preemption.
    if !i.preempt && i.preempt_delay.get() > std::time::Duration::ZERO {
        d.error(
            at("preempt_delay"),
            "preempt_delay has no effect with preempt = false",
            Some("remove one of the two".into()),
        );
    }
    if i.preempt_delay.get() > std::time::Duration::from_secs(MAX_PREEMPT_DELAY_S) {
        d.error(
            at("preempt_delay"),
            format!(
                "preempt_delay {} is longer than {MAX_PREEMPT_DELAY_S}s",
                i.preempt_delay
            ),
            None,
        );
    }

    // Unicast.
    for (n, peer) in i.unicast_peers.iter().enumerate() {
        let here = key_path!["vrrp_instance", name, "unicast_peers", n];
        if Family::of(peer) != family {
            d.error(
                here.clone(),
                format!(
                    "unicast peer {peer} is {} but the VIPs are {family}",
                    Family::of(peer)
                ),
                Some("peers must be of the VIPs' family".into()),
            );
        }
        if peer.is_multicast() || peer.is_unspecified() || peer.is_loopback() {
            d.error(
                here.clone(),
                format!("unicast peer {peer} is not a unicast host address"),
                None,
            );
        }
        if i.unicast_peers[..n].contains(peer) {
            d.error(
                here,
                format!("{peer} is listed twice"),
                Some("remove the duplicate".into()),
            );
        }
    }
    if let Some(src) = i.unicast_src {
        if i.unicast_peers.is_empty() {
            d.error(
                at("unicast_src"),
                "unicast_src without unicast_peers",
                Some("add unicast_peers, or remove unicast_src to use multicast".into()),
            );
        }
        if Family::of(&src) != family {
            d.error(
                at("unicast_src"),
                format!(
                    "unicast_src {src} is {} but the VIPs are {family}",
                    Family::of(&src)
                ),
                None,
            );
        }
    }

    // Authentication (v2 only).
    match (i.auth_type, &i.auth_pass) {
        (None, None) => {}
        (None, Some(_)) => d.error(
            at("auth_pass"),
            "auth_pass without auth_type",
            Some("add auth_type = \"pass\"".into()),
        ),
        (Some(_), None) => d.error(
            at("auth_type"),
            "auth_type = \"pass\" needs auth_pass",
            Some("add auth_pass = \"...\" (at most 8 bytes)".into()),
        ),
        (Some(_), Some(pass)) => {
            if i.version != 2 {
                d.error(
                    at("auth_type"),
                    "authentication exists only in VRRPv2",
                    Some(
                        "RFC 5798 removed it: remove auth_type/auth_pass, or set version = 2"
                            .into(),
                    ),
                );
            }
            if pass.is_empty() || pass.len() > AUTH_PASS_MAX {
                d.error(
                    at("auth_pass"),
                    format!("auth_pass must be 1..={AUTH_PASS_MAX} bytes, it is {}", pass.len()),
                    Some("VRRPv2 carries 8 bytes of password; Keepalived truncates longer ones silently, belay refuses them".into()),
                );
            }
        }
    }

    // Virtual MAC.
    if let Some(vname) = &i.vmac_interface {
        if !i.use_vmac {
            d.error(
                at("vmac_interface"),
                "vmac_interface without use_vmac = true",
                Some("add use_vmac = true, or remove vmac_interface".into()),
            );
        }
        validate_interface_name(vname, at("vmac_interface"), d);
    }

    // GARP.
    if i.garp.repeat == 0 {
        d.error(
            key_path!["vrrp_instance", name, "garp", "repeat"],
            "garp.repeat must be at least 1",
            Some("a new master must announce its VIPs; the default is 5".into()),
        );
    }
    if i.garp.refresh.get() > std::time::Duration::ZERO && i.garp.refresh_repeat == 0 {
        d.error(
            key_path!["vrrp_instance", name, "garp", "refresh_repeat"],
            "garp.refresh_repeat must be at least 1 when garp.refresh is set",
            None,
        );
    }
}

fn validate_interval(i: &VrrpInstanceConfig, path: Vec<super::Seg>, d: &mut Diagnostics<'_>) {
    let iv = i.advert_interval.get();
    let ms = iv.as_millis();
    if i.version == 2 {
        let ok = iv.subsec_nanos() == 0 && (1..=V2_MAX_INTERVAL_S).contains(&iv.as_secs());
        if !ok {
            d.error(
                path,
                format!("VRRPv2 advert_interval must be whole seconds 1s..={V2_MAX_INTERVAL_S}s, not {}", i.advert_interval),
                Some("use version = 3 for sub-second adverts (10ms steps)".into()),
            );
        }
    } else {
        let ok = iv.as_nanos().is_multiple_of(10_000_000)
            && (1..=u128::from(V3_MAX_INTERVAL_CS)).contains(&(ms / 10));
        if !ok {
            d.error(
                path,
                format!(
                    "VRRPv3 advert_interval must be 10ms..=40.95s in 10ms steps, not {}",
                    i.advert_interval
                ),
                Some("the wire carries centiseconds in 12 bits, e.g. \"100ms\" or \"1s\"".into()),
            );
        }
    }
}

fn validate_interface_name(name: &str, path: Vec<super::Seg>, d: &mut Diagnostics<'_>) {
    let bad_char = name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if name.is_empty() || name.len() > IFNAMSIZ_MAX || bad_char || name == "." || name == ".." {
        d.error(
            path,
            format!("`{name}` is not a valid interface name"),
            Some(format!(
                "1..={IFNAMSIZ_MAX} bytes, no '/', ':' or spaces (see `ip link`)"
            )),
        );
    }
}

/// Two instances with the same VRID on one interface and family would answer
/// each other's adverts; the same VIP in two instances would flap.
fn validate_uniqueness(config: &Config, d: &mut Diagnostics<'_>) {
    let all: Vec<(&String, &VrrpInstanceConfig)> = config.vrrp_instance.iter().collect();
    for (n, (name, inst)) in all.iter().enumerate() {
        for (other_name, other) in &all[..n] {
            if inst.interface == other.interface
                && inst.vrid == other.vrid
                && inst.family() == other.family()
                && inst.vrid != 0
            {
                d.error(
                    key_path!["vrrp_instance", *name, "vrid"],
                    format!(
                        "vrid {} on {} ({}) is already used by instance `{other_name}`",
                        inst.vrid,
                        inst.interface,
                        inst.family()
                    ),
                    Some("each virtual router on a LAN needs its own vrid".into()),
                );
            }
            for (k, vip) in inst.virtual_ipaddress.iter().enumerate() {
                if other.virtual_ipaddress.iter().any(|v| v.addr == vip.addr) {
                    d.error(
                        key_path!["vrrp_instance", *name, "virtual_ipaddress", k],
                        format!("{} is also a VIP of instance `{other_name}`", vip.addr),
                        Some("a VIP belongs to one instance".into()),
                    );
                }
            }
            if inst.use_vmac && other.use_vmac && inst.vmac_name() == other.vmac_name() {
                d.error(
                    key_path!["vrrp_instance", *name, "use_vmac"],
                    format!(
                        "virtual MAC interface `{}` is also used by instance `{other_name}`",
                        inst.vmac_name()
                    ),
                    Some("set vmac_interface to a unique name".into()),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::ConfigError;

    const BASE: &str = "[vrrp_instance.VI_1]\ninterface = \"eth0\"\nvrid = 51\n";

    fn ok(text: &str) -> Config {
        Config::parse(Path::new("t.toml"), text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str) -> ConfigError {
        let errs = Config::parse(Path::new("t.toml"), text).unwrap_err().0;
        assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
        errs.into_iter().next().unwrap()
    }

    /// An instance with BASE plus `extra` lines, with a v4 VIP unless `extra` has one.
    fn inst(extra: &str) -> String {
        let vips = if extra.contains("virtual_ipaddress") {
            ""
        } else {
            "virtual_ipaddress = [\"192.0.2.100/24\"]\n"
        };
        format!("{BASE}{vips}{extra}")
    }

    fn at(e: &ConfigError) -> (usize, usize) {
        (e.line, e.col)
    }

    #[test]
    fn minimal_instance_gets_defaults() {
        let c = ok(&inst(""));
        let i = &c.vrrp_instance["VI_1"];
        assert_eq!(i.priority, 100);
        assert_eq!(i.version, 3);
        assert_eq!(i.advert_interval, Duration::from_secs(1));
        assert!(i.preempt);
        assert_eq!(i.family(), Family::Ipv4);
        assert_eq!(i.advert_interval_cs(), 100);
        assert_eq!(i.garp, GarpConfig::default());
        assert_eq!(
            i.virtual_ipaddress,
            vec![Vip::new("192.0.2.100".parse().unwrap(), 24)]
        );
    }

    #[test]
    fn full_instance_parses() {
        let c = ok(&inst(
            "priority = 150\nadvert_interval = \"10ms\"\npreempt_delay = \"2s\"\n\
             unicast_peers = [\"192.0.2.2\", \"192.0.2.3\"]\nunicast_src = \"192.0.2.1\"\n\
             accept = true\nuse_vmac = true\n\
             [vrrp_instance.VI_1.garp]\nrepeat = 3\ninterval = \"1ms\"\ndelay = \"0s\"\nrefresh = \"60s\"\n",
        ));
        let i = &c.vrrp_instance["VI_1"];
        assert_eq!(i.advert_interval_cs(), 1);
        assert_eq!(i.unicast_peers.len(), 2);
        assert_eq!(i.garp.repeat, 3);
        assert_eq!(i.garp.refresh, Duration::from_secs(60));
        assert_eq!(i.vmac_name(), "vrrp.51");
    }

    #[test]
    fn vip_forms() {
        let c = ok(&inst(
            "virtual_ipaddress = [\"192.0.2.100\", { address = \"192.0.2.101/24\", label = \"eth0:vip\" }]\n",
        ));
        let v = &c.vrrp_instance["VI_1"].virtual_ipaddress;
        assert_eq!(v[0].prefix, 32);
        assert_eq!(v[1].label.as_deref(), Some("eth0:vip"));
        let c = ok(&inst(
            "virtual_ipaddress = [\"2001:db8::100/64\", \"2001:db8::101\"]\n",
        ));
        let i = &c.vrrp_instance["VI_1"];
        assert_eq!(i.family(), Family::Ipv6);
        assert_eq!(i.virtual_ipaddress[1].prefix, 128);
        assert_eq!(i.vmac_name(), "vrrp6.51");
    }

    #[test]
    fn v2_with_auth_parses() {
        let c = ok(&inst(
            "version = 2\nauth_type = \"pass\"\nauth_pass = \"secret\"\n",
        ));
        assert_eq!(
            c.vrrp_instance["VI_1"].auth_pass_bytes(),
            Some(&b"secret"[..])
        );
    }

    #[test]
    fn bad_vip_string_points_at_it() {
        let e = err(&inst("virtual_ipaddress = [\"192.0.2.300/24\"]\n"));
        assert_eq!(e.line, 4);
        assert!(e.message.contains("invalid virtual IP"), "{}", e.message);
        let e = err(&inst("virtual_ipaddress = [\"192.0.2.1/33\"]\n"));
        assert!(e.message.contains("prefix length"), "{}", e.message);
        let e = err(&inst("virtual_ipaddress = [\"224.0.0.18/32\"]\n"));
        assert!(e.message.contains("unicast"), "{}", e.message);
    }

    #[test]
    fn mixed_families_are_an_error_with_a_hint() {
        let e = err(&inst(
            "virtual_ipaddress = [\"192.0.2.100/24\", \"2001:db8::1/64\"]\n",
        ));
        assert_eq!(at(&e), (4, 40));
        assert!(
            e.message.contains("mixes address families"),
            "{}",
            e.message
        );
        assert!(e.hint.unwrap().contains("second [vrrp_instance]"));
    }

    #[test]
    fn no_vips() {
        let e = err(&inst("virtual_ipaddress = []\n"));
        assert!(e.message.contains("at least one virtual IP"));
    }

    #[test]
    fn duplicate_vip() {
        let e = err(&inst(
            "virtual_ipaddress = [\"192.0.2.100/24\", \"192.0.2.100/32\"]\n",
        ));
        assert!(e.message.contains("listed twice"));
    }

    #[test]
    fn vrid_zero() {
        let e = err(&inst("").replace("vrid = 51", "vrid = 0"));
        assert_eq!(at(&e), (3, 8));
        assert!(e.message.contains("vrid"));
    }

    #[test]
    fn vrid_out_of_u8_range() {
        let e = err(&inst("").replace("vrid = 51", "vrid = 256"));
        assert_eq!(e.line, 3);
    }

    #[test]
    fn priority_zero() {
        let e = err(&inst("priority = 0\n"));
        assert_eq!(at(&e), (5, 12));
        assert!(e.hint.unwrap().contains("stopping master"));
    }

    #[test]
    fn owner_must_preempt() {
        let e = err(&inst("priority = 255\npreempt = false\n"));
        assert_eq!(e.line, 6);
    }

    #[test]
    fn unknown_version() {
        let e = err(&inst("version = 4\n"));
        assert!(e.message.contains("unsupported VRRP version 4"));
    }

    #[test]
    fn v2_interval_must_be_whole_seconds() {
        let e = err(&inst("version = 2\nadvert_interval = \"100ms\"\n"));
        assert_eq!(at(&e), (6, 19));
        assert!(e.hint.unwrap().contains("version = 3"));
    }

    #[test]
    fn v3_interval_range_and_steps() {
        for bad in ["5ms", "15ms", "41s", "0s"] {
            let e = err(&inst(&format!("advert_interval = \"{bad}\"\n")));
            assert!(e.message.contains("10ms steps"), "{bad}: {}", e.message);
        }
        ok(&inst("advert_interval = \"40.95s\"\n"));
    }

    #[test]
    fn interval_without_unit() {
        let e = err(&inst("advert_interval = 1\n"));
        assert!(e.message.contains("needs a unit"), "{}", e.message);
    }

    #[test]
    fn v2_is_ipv4_only() {
        let e = err(&inst(
            "version = 2\nvirtual_ipaddress = [\"2001:db8::1/64\"]\n",
        ));
        assert!(e.message.contains("IPv4 only"));
    }

    #[test]
    fn auth_only_in_v2() {
        let e = err(&inst("auth_type = \"pass\"\nauth_pass = \"x\"\n"));
        assert!(e.message.contains("only in VRRPv2"));
    }

    #[test]
    fn auth_pass_too_long() {
        let e = err(&inst(
            "version = 2\nauth_type = \"pass\"\nauth_pass = \"123456789\"\n",
        ));
        assert!(e.message.contains("1..=8 bytes"));
    }

    #[test]
    fn auth_halves() {
        let e = err(&inst("version = 2\nauth_pass = \"x\"\n"));
        assert!(e.message.contains("without auth_type"));
        let e = err(&inst("version = 2\nauth_type = \"pass\"\n"));
        assert!(e.message.contains("needs auth_pass"));
        let e = err(&inst(
            "version = 2\nauth_type = \"ah\"\nauth_pass = \"x\"\n",
        ));
        assert!(e.message.contains("unknown variant"), "{}", e.message);
    }

    #[test]
    fn preempt_delay_needs_preempt() {
        let e = err(&inst("preempt = false\npreempt_delay = \"5s\"\n"));
        assert!(e.message.contains("no effect"));
    }

    #[test]
    fn preempt_delay_cap() {
        let e = err(&inst("preempt_delay = \"2000s\"\n"));
        assert!(e.message.contains("longer than"));
    }

    #[test]
    fn unicast_peer_family() {
        let e = err(&inst("unicast_peers = [\"2001:db8::2\"]\n"));
        assert_eq!(at(&e), (5, 18));
        assert!(e.message.contains("but the VIPs are IPv4"));
    }

    #[test]
    fn unicast_peer_must_be_unicast() {
        let e = err(&inst("unicast_peers = [\"224.0.0.18\"]\n"));
        assert!(e.message.contains("not a unicast host"));
    }

    #[test]
    fn unicast_src_without_peers() {
        let e = err(&inst("unicast_src = \"192.0.2.1\"\n"));
        assert!(e.message.contains("without unicast_peers"));
    }

    #[test]
    fn bad_interface_name() {
        let e = err(&inst("").replace("\"eth0\"", "\"a-very-long-interface-name\""));
        assert_eq!(at(&e), (2, 13));
        let e = err(&inst("").replace("\"eth0\"", "\"\""));
        assert!(e.message.contains("not a valid interface name"));
    }

    #[test]
    fn vmac_interface_needs_use_vmac() {
        let e = err(&inst("vmac_interface = \"vm1\"\n"));
        assert!(e.message.contains("without use_vmac"));
    }

    #[test]
    fn label_must_start_with_interface() {
        let e = err(&inst(
            "virtual_ipaddress = [{ address = \"192.0.2.1/24\", label = \"eth1:x\" }]\n",
        ));
        assert!(e.message.contains("must start with the interface name"));
        let e = err(&inst(
            "virtual_ipaddress = [{ address = \"2001:db8::1/64\", label = \"eth0:x\" }]\n",
        ));
        assert!(e.message.contains("only for IPv4"));
    }

    #[test]
    fn garp_repeat_zero() {
        let e = err(&inst("[vrrp_instance.VI_1.garp]\nrepeat = 0\n"));
        assert_eq!(at(&e), (6, 10));
    }

    #[test]
    fn garp_unknown_key() {
        let e = err(&inst("[vrrp_instance.VI_1.garp]\nrepet = 3\n"));
        assert_eq!(e.hint.as_deref(), Some("did you mean `repeat`?"));
    }

    #[test]
    fn duplicate_vrid_on_interface_and_family() {
        let two = format!(
            "{}\n[vrrp_instance.VI_2]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ipaddress = [\"192.0.2.101/24\"]\n",
            inst("")
        );
        let e = err(&two);
        assert_eq!(e.line, 8);
        assert!(e.message.contains("already used by instance `VI_1`"));
        // Same VRID in the other family is a different virtual router.
        ok(&format!(
            "{}\n[vrrp_instance.VI_6]\ninterface = \"eth0\"\nvrid = 51\nvirtual_ipaddress = [\"2001:db8::1/64\"]\n",
            inst("")
        ));
    }

    #[test]
    fn vip_shared_between_instances() {
        let two = format!(
            "{}\n[vrrp_instance.VI_2]\ninterface = \"eth0\"\nvrid = 52\nvirtual_ipaddress = [\"192.0.2.100/24\"]\n",
            inst("")
        );
        assert!(err(&two).message.contains("also a VIP of instance `VI_1`"));
    }

    #[test]
    fn missing_required_key() {
        let errs = Config::parse(
            Path::new("t.toml"),
            "[vrrp_instance.VI_1]\ninterface = \"eth0\"\n",
        )
        .unwrap_err()
        .0;
        assert!(
            errs[0].message.contains("missing field `vrid`"),
            "{}",
            errs[0].message
        );
    }

    #[test]
    fn every_example_config_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
                n += 1;
            }
        }
        assert!(n >= 4, "examples missing in {}", dir.display());
    }

    #[test]
    fn unknown_key_suggests() {
        let e = err(&inst("priorty = 5\n"));
        assert_eq!(e.hint.as_deref(), Some("did you mean `priority`?"));
    }
}
