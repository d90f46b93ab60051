//! What one VRRP instance is configured with, already in the core's terms
//! (the TOML model in `config::vrrp` is translated into this by the driver).

use std::net::IpAddr;
use std::time::Duration;

use crate::vrrp::garp_schedule::GarpConfig;
use crate::vrrp::wire::{AdvertInterval, Auth, Version};

/// One instance's protocol parameters. `#[non_exhaustive]`: build it with
/// [`InstanceConfig::new`] and set the public fields, so new knobs can be
/// added without breaking callers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct InstanceConfig {
    /// Instance name, for logs.
    pub name: String,
    /// Virtual router ID, 1..=255.
    pub vrid: u8,
    pub version: Version,
    /// Configured priority, 1..=255; 255 means we own the addresses.
    pub priority: u8,
    pub advert_interval: AdvertInterval,
    /// Our address on the interface: the source of our adverts and the
    /// tie-breaker in elections.
    pub primary_address: IpAddr,
    /// The VIPs, all of the primary address's family.
    pub virtual_addresses: Vec<IpAddr>,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// How long a backup that could preempt waits first (Keepalived's
    /// `preempt_delay`).
    pub preempt_delay: Duration,
    /// Whether the master accepts packets for VIPs it does not own (RFC 5798
    /// §6.1); the driver applies it, the core only carries it.
    pub accept_mode: bool,
    /// VRRPv2 authentication; must be [`Auth::None`] for v3.
    pub auth: Auth,
    /// Gratuitous ARP / NA schedule on becoming master.
    pub garp: GarpConfig,
    /// Announcements per address when a master hears a lower priority and
    /// re-asserts itself (Keepalived's `garp_lower_prio_repeat`, which
    /// defaults to `garp_master_repeat`, 5): the other router may have taken
    /// the LAN's ARP caches. Zero: none.
    pub garp_lower_prio_repeat: u32,
    /// A second such burst this long after (Keepalived's
    /// `garp_lower_prio_delay`, default `garp_master_delay`, 5 s). Zero: none.
    pub garp_lower_prio_delay: Duration,
    /// A master that hears a higher priority sends one last advert with its
    /// own priority before becoming backup (Keepalived's
    /// `vrrp_higher_prio_send_advert`, default off): if the winner had not
    /// heard us, it then re-asserts and refreshes the ARP caches we held.
    pub higher_prio_send_advert: bool,
    /// Drop adverts whose TTL / hop limit is not 255 (RFC 5798 §7.1). On by
    /// default; a driver in unicast mode across routers may turn it off.
    pub check_ttl: bool,
    /// When a master whose priority tracking lowers hands over at once with
    /// a priority-0 advert instead of waiting for backups to time it out.
    pub resign: Resign,
}

/// Health-driven handover. Under RFC rules a backup ignores a master's lower
/// priority and waits the whole master-down interval; a master that knows it
/// has fallen below a backup can instead send priority 0, and the best backup
/// takes over after its skew time. After resigning (or when it becomes master
/// while below the level) the instance neither preempts nor resigns again
/// until its priority recovers, so there is no flap back and no resign loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resign {
    /// RFC behaviour: never resign.
    Never,
    /// Resign on any drop of a master's priority: a master cannot know its
    /// backups' priorities (backups are silent; what it heard earlier may
    /// be stale). If the router that takes over advertises a priority below
    /// ours, we preempt it back the RFC way: one extra move.
    #[default]
    Auto,
    /// Resign when the priority falls below this level (the backup's priority).
    Below(u8),
}

impl InstanceConfig {
    /// A config with RFC / Keepalived defaults: priority 100, 1 s adverts,
    /// preempt on, no delay, accept mode off, no auth, Keepalived's GARP
    /// defaults.
    pub fn new(
        name: impl Into<String>,
        vrid: u8,
        version: Version,
        primary_address: IpAddr,
        virtual_addresses: Vec<IpAddr>,
    ) -> InstanceConfig {
        InstanceConfig {
            name: name.into(),
            vrid,
            version,
            priority: 100,
            advert_interval: AdvertInterval::DEFAULT,
            primary_address,
            virtual_addresses,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            resign: Resign::Auto,
            auth: Auth::None,
            garp: GarpConfig::default(),
            garp_lower_prio_repeat: 5,
            garp_lower_prio_delay: Duration::from_secs(5),
            higher_prio_send_advert: false,
            check_ttl: true,
        }
    }

    /// Checks the combination; [`super::Instance::new`] calls it.
    pub fn validate(&self) -> Result<(), InstanceConfigError> {
        if self.vrid == 0 {
            return Err(InstanceConfigError::ZeroVrid);
        }
        if self.priority == 0 {
            return Err(InstanceConfigError::ZeroPriority);
        }
        if !self.advert_interval.fits(self.version) {
            return Err(InstanceConfigError::Interval {
                interval: self.advert_interval,
                version: self.version,
            });
        }
        if self.version == Version::V2 && self.primary_address.is_ipv6() {
            return Err(InstanceConfigError::V2OverIpv6);
        }
        if self.version == Version::V3 && self.auth != Auth::None {
            return Err(InstanceConfigError::AuthWithV3);
        }
        if self.virtual_addresses.is_empty() {
            return Err(InstanceConfigError::NoVirtualAddresses);
        }
        if self.virtual_addresses.len() > 255 {
            return Err(InstanceConfigError::TooManyAddresses(
                self.virtual_addresses.len(),
            ));
        }
        if let Some(a) = self
            .virtual_addresses
            .iter()
            .find(|a| a.is_ipv4() != self.primary_address.is_ipv4())
        {
            return Err(InstanceConfigError::MixedFamilies(*a));
        }
        Ok(())
    }
}

/// A combination of parameters the protocol cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstanceConfigError {
    #[error("VRID must be 1..=255, not 0")]
    ZeroVrid,
    #[error("priority must be 1..=255 (0 is reserved for a stopping master)")]
    ZeroPriority,
    #[error("advert interval {interval} cannot be sent as VRRP{version}")]
    Interval {
        interval: AdvertInterval,
        version: Version,
    },
    #[error("VRRPv2 runs over IPv4 only; use version 3 for IPv6")]
    V2OverIpv6,
    #[error("virtual address {0} is not of the primary address's family")]
    MixedFamilies(IpAddr),
    #[error("{0} virtual addresses do not fit in one advert (at most 255)")]
    TooManyAddresses(usize),
    #[error("authentication is a VRRPv2 feature; VRRPv3 has none")]
    AuthWithV3,
    /// RFC 9568 §5.2.5: the count must be at least 1, and peers ignore
    /// adverts with none.
    #[error("at least one virtual address is needed")]
    NoVirtualAddresses,
}
