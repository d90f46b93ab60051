//! The VIPs of one instance on its interface: desired state, reconciled
//! against what the kernel reports. Only our configured addresses are ever
//! touched; foreign addresses on the interface are left alone.
//!
//! Two paths:
//! - [`VipSet::install`] / [`VipSet::release`]: the takeover fast path, one
//!   netlink request per VIP, idempotent (EEXIST / EADDRNOTAVAIL are fine);
//! - [`VipSet::reconcile`]: read back, diff, apply only the difference. Used at
//!   start to clean VIPs a crashed run left behind (we start as a backup, so
//!   none of ours may be on the interface), and to verify.

use std::net::IpAddr;

use netlink_packet_route::AddressFamily;

use super::rtnl::{IfAddr, Rtnl, RtnlError};
use crate::config::vrrp::Vip;

/// What a reconcile changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    pub added: Vec<IpAddr>,
    pub removed: Vec<IpAddr>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The configured VIPs of one instance on one link.
#[derive(Debug, Clone)]
pub struct VipSet {
    ifindex: u32,
    vips: Vec<Vip>,
}

impl VipSet {
    pub fn new(ifindex: u32, vips: Vec<Vip>) -> VipSet {
        VipSet { ifindex, vips }
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.vips.iter().map(|v| v.addr)
    }

    fn family(&self) -> AddressFamily {
        match self.vips.first().map(|v| v.addr) {
            Some(IpAddr::V6(_)) => AddressFamily::Inet6,
            _ => AddressFamily::Inet,
        }
    }

    /// Adds the given VIPs (those of `addrs` that are ours); returns those
    /// that were not there yet. Stops at the first refusal.
    pub fn install(&self, rtnl: &mut Rtnl, addrs: &[IpAddr]) -> Result<Vec<IpAddr>, RtnlError> {
        let mut added = Vec::new();
        for vip in self.vips.iter().filter(|v| addrs.contains(&v.addr)) {
            if rtnl.add_address(self.ifindex, vip.addr, vip.prefix, vip.label.as_deref())? {
                added.push(vip.addr);
            }
        }
        Ok(added)
    }

    /// Removes the given VIPs; returns those that were there. Tries every one
    /// even if one fails, and reports the first failure.
    pub fn release(&self, rtnl: &mut Rtnl, addrs: &[IpAddr]) -> Result<Vec<IpAddr>, RtnlError> {
        let mut removed = Vec::new();
        let mut first_err = None;
        for vip in self.vips.iter().filter(|v| addrs.contains(&v.addr)) {
            match rtnl.del_address(self.ifindex, vip.addr, vip.prefix) {
                Ok(true) => removed.push(vip.addr),
                Ok(false) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(removed),
        }
    }

    /// Which of our VIPs are on the link now (any prefix length).
    pub fn present(&self, rtnl: &mut Rtnl) -> Result<Vec<IfAddr>, RtnlError> {
        let actual = rtnl.addresses(self.ifindex, self.family())?;
        Ok(actual
            .into_iter()
            .filter(|a| self.vips.iter().any(|v| v.addr == a.addr))
            .collect())
    }

    /// Brings the link to the desired state: all VIPs (with their configured
    /// prefix) when `held`, none of them otherwise. Re-applying is a no-op.
    pub fn reconcile(&self, rtnl: &mut Rtnl, held: bool) -> Result<Diff, RtnlError> {
        let present = self.present(rtnl)?;
        let mut diff = Diff::default();
        if held {
            for vip in &self.vips {
                let exact = present
                    .iter()
                    .any(|a| a.addr == vip.addr && a.prefix == vip.prefix);
                if !exact
                    && rtnl.add_address(self.ifindex, vip.addr, vip.prefix, vip.label.as_deref())?
                {
                    diff.added.push(vip.addr);
                }
            }
        } else {
            // Whatever prefix a crashed run (or an older config) used, the address is ours.
            for a in &present {
                if rtnl.del_address(self.ifindex, a.addr, a.prefix)? {
                    diff.removed.push(a.addr);
                }
            }
        }
        Ok(diff)
    }
}
