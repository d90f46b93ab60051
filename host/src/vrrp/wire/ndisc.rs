//! Unsolicited neighbour advertisements (RFC 4861 §7.2.6): IPv6's
//! gratuitous ARP, sent by a new master for each IPv6 VIP.

use std::net::{IpAddr, Ipv6Addr};

use super::checksum;
use super::error::WireError;
use super::ethernet::{self, ETHERTYPE_IPV6, EthernetRepr, MacAddr};

/// ICMPv6 type of a neighbour advertisement.
pub const ICMPV6_NA: u8 = 136;
/// IP protocol number of ICMPv6.
pub const IP_PROTO_ICMPV6: u8 = 58;
/// An NA with one target link-layer address option.
pub const PACKET_LEN: usize = 32;
const IPV6_HEADER_LEN: usize = 40;
/// Ethernet + IPv6 + NA.
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + IPV6_HEADER_LEN + PACKET_LEN;
/// All-nodes multicast, where unsolicited NAs go.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A neighbour advertisement with a target link-layer address option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NaRepr {
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    pub target: Ipv6Addr,
    /// Target link-layer address option (type 2).
    pub target_mac: Option<MacAddr>,
}

impl NaRepr {
    /// The unsolicited, overriding NA a new master sends for `vip` at `mac`.
    pub fn unsolicited(mac: MacAddr, vip: Ipv6Addr, router: bool) -> NaRepr {
        NaRepr {
            router,
            solicited: false,
            override_: true,
            target: vip,
            target_mac: Some(mac),
        }
    }

    /// Bytes [`NaRepr::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        if self.target_mac.is_some() { 32 } else { 24 }
    }

    /// Parses an ICMPv6 NA and checks its checksum against `src`/`dst`.
    pub fn parse(buf: &[u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<NaRepr, WireError> {
        let bad = |why| WireError::Malformed {
            what: "neighbour advertisement",
            why,
        };
        if buf.len() < 24 {
            return Err(WireError::Truncated {
                len: buf.len(),
                needed: 24,
            });
        }
        if buf[0] != ICMPV6_NA || buf[1] != 0 {
            return Err(bad("not an NA"));
        }
        let acc = checksum::pseudo_header_sum(src.into(), dst.into(), IP_PROTO_ICMPV6, buf.len())
            .ok_or(WireError::FamilyMismatch("source and destination"))?;
        let computed = checksum::finish(checksum::sum(acc, buf));
        if computed != 0 {
            return Err(WireError::BadChecksum {
                found: u16::from_be_bytes([buf[2], buf[3]]),
                computed,
            });
        }
        let mut t = [0u8; 16];
        t.copy_from_slice(&buf[8..24]);
        // Options: find a target link-layer address (type 2, length 1).
        let mut target_mac = None;
        let mut opts = &buf[24..];
        while opts.len() >= 2 {
            let len = usize::from(opts[1]) * 8;
            if len == 0 || len > opts.len() {
                return Err(bad("option length"));
            }
            if opts[0] == 2 && len == 8 {
                let mut m = [0u8; 6];
                m.copy_from_slice(&opts[2..8]);
                target_mac = Some(MacAddr(m));
            }
            opts = &opts[len..];
        }
        Ok(NaRepr {
            router: buf[4] & 0x80 != 0,
            solicited: buf[4] & 0x40 != 0,
            override_: buf[4] & 0x20 != 0,
            target: Ipv6Addr::from(t),
            target_mac,
        })
    }

    /// Writes the ICMPv6 message with its checksum for `src` → `dst`.
    pub fn emit(&self, buf: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr) -> Result<usize, WireError> {
        let len = self.buffer_len();
        let have = buf.len();
        let b = buf.get_mut(..len).ok_or(WireError::Truncated {
            len: have,
            needed: len,
        })?;
        b.fill(0);
        b[0] = ICMPV6_NA;
        b[4] = (u8::from(self.router) << 7)
            | (u8::from(self.solicited) << 6)
            | (u8::from(self.override_) << 5);
        b[8..24].copy_from_slice(&self.target.octets());
        if let Some(mac) = self.target_mac {
            b[24] = 2;
            b[25] = 1;
            b[26..32].copy_from_slice(&mac.0);
        }
        let acc =
            checksum::pseudo_header_sum(IpAddr::V6(src), IpAddr::V6(dst), IP_PROTO_ICMPV6, len)
                .ok_or(WireError::FamilyMismatch("source and destination"))?;
        let c = checksum::finish(checksum::sum(acc, b));
        b[2..4].copy_from_slice(&c.to_be_bytes());
        Ok(len)
    }

    /// A whole Ethernet + IPv6 (hop limit 255) frame from `src_mac`/`src`
    /// to all-nodes, for a packet socket. Needs a target MAC option.
    pub fn to_frame(&self, src_mac: MacAddr, src: Ipv6Addr) -> Result<[u8; FRAME_LEN], WireError> {
        if self.target_mac.is_none() {
            return Err(WireError::Malformed {
                what: "neighbour advertisement",
                why: "a frame needs the target link-layer address option",
            });
        }
        let mut f = [0u8; FRAME_LEN];
        EthernetRepr {
            dst: MacAddr::ipv6_multicast(&ALL_NODES),
            src: src_mac,
            ethertype: ETHERTYPE_IPV6,
        }
        .emit(&mut f)?;
        let ip = &mut f[ethernet::HEADER_LEN..ethernet::HEADER_LEN + IPV6_HEADER_LEN];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&(PACKET_LEN as u16).to_be_bytes());
        ip[6] = IP_PROTO_ICMPV6;
        ip[7] = 255;
        ip[8..24].copy_from_slice(&src.octets());
        ip[24..40].copy_from_slice(&ALL_NODES.octets());
        self.emit(
            &mut f[ethernet::HEADER_LEN + IPV6_HEADER_LEN..],
            src,
            ALL_NODES,
        )?;
        Ok(f)
    }
}
