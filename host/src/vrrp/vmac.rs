//! The optional virtual MAC: a macvlan on the instance's interface with the
//! RFC 5798 §7.3 address 00:00:5e:00:01:VRID (IPv6: 00:00:5e:00:02:VRID). The
//! VIPs live on it and announcements leave from it, so clients' ARP caches
//! stay valid across a takeover. Adverts still go out of the parent
//! interface (Keepalived's `vmac_xmit_base`), which keeps one socket per
//! instance.

use super::rtnl::{Link, Rtnl, RtnlError};
use crate::config::vrrp::Family;
use crate::vrrp::wire::MacAddr;

/// Why the macvlan could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VmacError {
    #[error(transparent)]
    Netlink(#[from] RtnlError),
    #[error(
        "interface `{0}` exists and is not a macvlan of ours; set vmac_interface to another name"
    )]
    Foreign(String),
    #[error("macvlan `{0}` vanished right after it was created")]
    Vanished(String),
    #[error("setting {path}: {source}")]
    Sysctl {
        path: String,
        source: std::io::Error,
    },
}

/// The virtual router MAC of `vrid` in `family`.
pub fn virtual_mac(family: Family, vrid: u8) -> MacAddr {
    match family {
        Family::Ipv4 => MacAddr::vrrp_v4(vrid),
        Family::Ipv6 => MacAddr::vrrp_v6(vrid),
    }
}

/// Creates (or adopts, after a crash) the macvlan `name` on `parent` with
/// `mac`, brings it up and returns it.
pub fn ensure(rtnl: &mut Rtnl, parent: &Link, name: &str, mac: MacAddr) -> Result<Link, VmacError> {
    if let Some(existing) = rtnl.link_by_name(name)? {
        let ours = existing.kind.as_deref() == Some("macvlan");
        if !ours {
            return Err(VmacError::Foreign(name.to_owned()));
        }
        if existing.parent == Some(parent.index) && existing.mac == Some(mac.0) {
            if !existing.admin_up {
                rtnl.set_link_up(existing.index, true)?;
            }
            return Ok(existing);
        }
        rtnl.del_link(existing.index)?;
    }
    rtnl.add_macvlan(parent.index, name, mac.0)?;
    let link = rtnl
        .link_by_name(name)?
        .ok_or_else(|| VmacError::Vanished(name.to_owned()))?;
    // Answer ARP for the VIP only on the macvlan (with the virtual MAC), not
    // on the parent with its own MAC; and never announce the VIP with the
    // parent's MAC in the parent's own ARP requests (replies from the VIP are
    // routed out of the parent).
    let parent_conf = format!("/proc/sys/net/ipv4/conf/{}", parent.name);
    set_sysctl(&format!("{parent_conf}/arp_ignore"), "1")?;
    set_sysctl(&format!("{parent_conf}/arp_announce"), "2")?;
    set_sysctl(&format!("/proc/sys/net/ipv4/conf/{name}/arp_ignore"), "1")?;
    rtnl.set_link_up(link.index, true)?;
    Ok(link)
}

/// Deletes the macvlan; gone already is fine.
pub fn remove(rtnl: &mut Rtnl, index: u32) -> Result<(), VmacError> {
    rtnl.del_link(index)?;
    Ok(())
}

fn set_sysctl(path: &str, value: &str) -> Result<(), VmacError> {
    std::fs::write(path, value).map_err(|source| VmacError::Sysctl {
        path: path.to_owned(),
        source,
    })
}
