//! The IPVS attribute layer: services and destinations to and from their
//! nested attributes (`IPVS_SVC_ATTR_*`, `IPVS_DEST_ATTR_*`).
//!
//! Encodings follow the kernel (`net/netfilter/ipvs/ip_vs_ctl.c`): ports are
//! big-endian; addresses are 4 or 16 bytes (the kernel always sends 16);
//! the IPv4 persistence netmask is a big-endian mask while the IPv6 one is a
//! native-endian prefix length.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::WireError;
use super::attr::{AttrSink, AttrTable};
use super::consts::*;
use crate::ipvs::{
    Dest, Family, Forward, Protocol, Scheduler, Service, ServiceFlags, ServiceKey, Tunnel,
    TunnelKind,
};

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn parse_ip(
    family: Family,
    bytes: &[u8],
    what: &'static str,
    attr: &'static str,
) -> Result<IpAddr, WireError> {
    let bad = || WireError::BadLength {
        what,
        attr,
        len: bytes.len(),
    };
    match family {
        Family::Ipv4 => {
            let b: [u8; 4] = bytes
                .get(..4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?;
            if bytes.len() != 4 && bytes.len() != 16 {
                return Err(bad());
            }
            Ok(IpAddr::V4(Ipv4Addr::from(b)))
        }
        Family::Ipv6 => {
            let b: [u8; 16] = bytes.try_into().map_err(|_| bad())?;
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

/// The identifying attributes of a service (enough for `DEL_SERVICE` and
/// for naming the service of a destination command).
pub fn emit_service_key<S: AttrSink>(key: &ServiceKey, s: &mut S) {
    s.put_u16(IPVS_SVC_ATTR_AF, key.family().af());
    match key {
        ServiceKey::Inet { protocol, addr } => {
            s.put_u16(IPVS_SVC_ATTR_PROTOCOL, protocol.number());
            s.put(IPVS_SVC_ATTR_ADDR, &ip_bytes(&addr.ip()));
            s.put_be16(IPVS_SVC_ATTR_PORT, addr.port());
        }
        ServiceKey::Fwmark { mark, .. } => s.put_u32(IPVS_SVC_ATTR_FWMARK, *mark),
    }
}

/// A full service entry (`NEW_SERVICE` / `SET_SERVICE`): the kernel
/// requires scheduler, flags, timeout and netmask with every write.
pub fn emit_service<S: AttrSink>(svc: &Service, s: &mut S) {
    emit_service_key(&svc.key, s);
    s.put_str(IPVS_SVC_ATTR_SCHED_NAME, svc.scheduler.name());
    if let Some(pe) = &svc.pe_name {
        s.put_str(IPVS_SVC_ATTR_PE_NAME, pe);
    }
    // struct ip_vs_flags { flags, mask }: every user bit is ours to set.
    let mut flags = [0u8; 8];
    flags[..4].copy_from_slice(&(svc.flags.0 & ServiceFlags::USER_MASK).to_ne_bytes());
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    s.put(IPVS_SVC_ATTR_FLAGS, &flags);
    s.put_u32(IPVS_SVC_ATTR_TIMEOUT, svc.timeout);
    match svc.key.family() {
        Family::Ipv4 => s.put(IPVS_SVC_ATTR_NETMASK, &svc.netmask.to_be_bytes()),
        Family::Ipv6 => s.put_u32(IPVS_SVC_ATTR_NETMASK, svc.netmask),
    }
}

const SVC: &str = "service";

/// Parses a service as the kernel dumps it (the payload of
/// `IPVS_CMD_ATTR_SERVICE`). Statistics are skipped.
pub fn parse_service(bytes: &[u8]) -> Result<Service, WireError> {
    let t: AttrTable<'_, { IPVS_SVC_ATTR_MAX + 1 }> = AttrTable::parse(bytes, SVC)?;
    let af = t.u16(IPVS_SVC_ATTR_AF, "af")?.ok_or(WireError::Missing {
        what: SVC,
        attr: "af",
    })?;
    let family = Family::from_af(af).ok_or_else(|| WireError::BadValue {
        what: SVC,
        attr: "af",
        detail: format!("unknown address family {af}"),
    })?;
    let key = match t.u32(IPVS_SVC_ATTR_FWMARK, "fwmark")? {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { family, mark },
        _ => {
            let proto = t
                .u16(IPVS_SVC_ATTR_PROTOCOL, "protocol")?
                .ok_or(WireError::Missing {
                    what: SVC,
                    attr: "protocol",
                })?;
            let protocol = Protocol::from_number(proto).ok_or_else(|| WireError::BadValue {
                what: SVC,
                attr: "protocol",
                detail: format!("unknown protocol {proto}"),
            })?;
            let ip = parse_ip(family, t.required(IPVS_SVC_ATTR_ADDR, "addr")?, SVC, "addr")?;
            let port = t
                .be16(IPVS_SVC_ATTR_PORT, "port")?
                .ok_or(WireError::Missing {
                    what: SVC,
                    attr: "port",
                })?;
            ServiceKey::Inet {
                protocol,
                addr: SocketAddr::new(ip, port),
            }
        }
    };
    let scheduler =
        t.string(IPVS_SVC_ATTR_SCHED_NAME, "sched_name")?
            .ok_or(WireError::Missing {
                what: SVC,
                attr: "sched_name",
            })?;
    let flags = match t.get(IPVS_SVC_ATTR_FLAGS) {
        Some(v) if v.len() >= 4 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&v[..4]);
            u32::from_ne_bytes(b)
        }
        Some(v) => {
            return Err(WireError::BadLength {
                what: SVC,
                attr: "flags",
                len: v.len(),
            });
        }
        None => 0,
    };
    let netmask = match family {
        Family::Ipv4 => t.be32(IPVS_SVC_ATTR_NETMASK, "netmask")?,
        Family::Ipv6 => t.u32(IPVS_SVC_ATTR_NETMASK, "netmask")?,
    };
    Ok(Service {
        key,
        scheduler: Scheduler::from_kernel(&scheduler),
        flags: ServiceFlags::from_kernel(flags),
        timeout: t.u32(IPVS_SVC_ATTR_TIMEOUT, "timeout")?.unwrap_or(0),
        netmask: netmask.unwrap_or(0),
        pe_name: t
            .string(IPVS_SVC_ATTR_PE_NAME, "pe_name")?
            .filter(|s| !s.is_empty()),
    })
}

/// The identifying attributes of a destination (`DEL_DEST`).
pub fn emit_dest_key<S: AttrSink>(addr: &SocketAddr, s: &mut S) {
    s.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, Family::of(addr.ip()).af());
    s.put(IPVS_DEST_ATTR_ADDR, &ip_bytes(&addr.ip()));
    s.put_be16(IPVS_DEST_ATTR_PORT, addr.port());
}

/// A full destination entry (`NEW_DEST` / `SET_DEST`).
pub fn emit_dest<S: AttrSink>(d: &Dest, s: &mut S) {
    emit_dest_key(&d.addr, s);
    s.put_u32(IPVS_DEST_ATTR_FWD_METHOD, d.forward.code());
    s.put_u32(IPVS_DEST_ATTR_WEIGHT, d.weight);
    s.put_u32(IPVS_DEST_ATTR_U_THRESH, d.upper_threshold);
    s.put_u32(IPVS_DEST_ATTR_L_THRESH, d.lower_threshold);
    if let Forward::Tunnel(t) = d.forward {
        s.put_u8(IPVS_DEST_ATTR_TUN_TYPE, t.kind.number());
        s.put_be16(IPVS_DEST_ATTR_TUN_PORT, t.port);
        s.put_u16(IPVS_DEST_ATTR_TUN_FLAGS, t.flags);
    }
}

const DEST: &str = "destination";

/// Connection counters the kernel reports with each destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestConns {
    pub active: u32,
    pub inactive: u32,
    pub persistent: u32,
}

/// Parses a destination as the kernel dumps it. `service_family` is used
/// when the kernel is too old to say the destination's own family.
pub fn parse_dest(bytes: &[u8], service_family: Family) -> Result<(Dest, DestConns), WireError> {
    let t: AttrTable<'_, { IPVS_DEST_ATTR_MAX + 1 }> = AttrTable::parse(bytes, DEST)?;
    let family = match t.u16(IPVS_DEST_ATTR_ADDR_FAMILY, "addr_family")? {
        Some(af) => Family::from_af(af).ok_or_else(|| WireError::BadValue {
            what: DEST,
            attr: "addr_family",
            detail: format!("unknown address family {af}"),
        })?,
        None => service_family,
    };
    let ip = parse_ip(
        family,
        t.required(IPVS_DEST_ATTR_ADDR, "addr")?,
        DEST,
        "addr",
    )?;
    let port = t
        .be16(IPVS_DEST_ATTR_PORT, "port")?
        .ok_or(WireError::Missing {
            what: DEST,
            attr: "port",
        })?;
    let code = t
        .u32(IPVS_DEST_ATTR_FWD_METHOD, "fwd_method")?
        .ok_or(WireError::Missing {
            what: DEST,
            attr: "fwd_method",
        })?
        & IP_VS_CONN_F_FWD_MASK;
    let forward = match code {
        0 => Forward::Masq,
        1 => Forward::Local,
        2 => {
            let n = t.u8(IPVS_DEST_ATTR_TUN_TYPE, "tun_type")?.unwrap_or(0);
            let kind = TunnelKind::from_number(n).ok_or_else(|| WireError::BadValue {
                what: DEST,
                attr: "tun_type",
                detail: format!("unknown tunnel type {n}"),
            })?;
            Forward::Tunnel(Tunnel {
                kind,
                port: t.be16(IPVS_DEST_ATTR_TUN_PORT, "tun_port")?.unwrap_or(0),
                flags: t.u16(IPVS_DEST_ATTR_TUN_FLAGS, "tun_flags")?.unwrap_or(0),
            })
        }
        3 => Forward::Route,
        other => Forward::Other(other),
    };
    let weight = t
        .u32(IPVS_DEST_ATTR_WEIGHT, "weight")?
        .ok_or(WireError::Missing {
            what: DEST,
            attr: "weight",
        })?;
    let dest = Dest {
        addr: SocketAddr::new(ip, port),
        forward,
        weight,
        upper_threshold: t.u32(IPVS_DEST_ATTR_U_THRESH, "u_thresh")?.unwrap_or(0),
        lower_threshold: t.u32(IPVS_DEST_ATTR_L_THRESH, "l_thresh")?.unwrap_or(0),
    };
    let conns = DestConns {
        active: t
            .u32(IPVS_DEST_ATTR_ACTIVE_CONNS, "active_conns")?
            .unwrap_or(0),
        inactive: t
            .u32(IPVS_DEST_ATTR_INACT_CONNS, "inact_conns")?
            .unwrap_or(0),
        persistent: t
            .u32(IPVS_DEST_ATTR_PERSIST_CONNS, "persist_conns")?
            .unwrap_or(0),
    };
    Ok((dest, conns))
}

/// Version and connection-table size (`IPVS_CMD_GET_INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// `IP_VS_VERSION_CODE`, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

pub fn parse_info(bytes: &[u8]) -> Result<Info, WireError> {
    let t: AttrTable<'_, { IPVS_INFO_ATTR_MAX + 1 }> = AttrTable::parse(bytes, "info")?;
    Ok(Info {
        version: t
            .u32(IPVS_INFO_ATTR_VERSION, "version")?
            .ok_or(WireError::Missing {
                what: "info",
                attr: "version",
            })?,
        conn_tab_size: t
            .u32(IPVS_INFO_ATTR_CONN_TAB_SIZE, "conn_tab_size")?
            .unwrap_or(0),
    })
}
