//! Ethernet II headers: enough to read captures and to build the frames a
//! packet socket sends (gratuitous ARP, unsolicited NA).

use std::fmt;

use super::error::WireError;

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q tag; captures may carry one before the real ethertype.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// A 48-bit MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    /// The VRRP virtual MAC for IPv4 (00:00:5e:00:01:VRID, RFC 5798 §7.3).
    pub const fn vrrp_v4(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x01, vrid])
    }

    /// The VRRP virtual MAC for IPv6 (00:00:5e:00:02:VRID).
    pub const fn vrrp_v6(vrid: u8) -> MacAddr {
        MacAddr([0x00, 0x00, 0x5e, 0x00, 0x02, vrid])
    }

    /// The multicast MAC an IPv6 multicast group maps to (RFC 2464 §7).
    pub const fn ipv6_multicast(group: &std::net::Ipv6Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An Ethernet II header (untagged once parsed: one 802.1Q tag is skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub dst: MacAddr,
    pub src: MacAddr,
    pub ethertype: u16,
}

impl EthernetRepr {
    /// Parses a frame; returns the header and the payload after it.
    pub fn parse(frame: &[u8]) -> Result<(EthernetRepr, &[u8]), WireError> {
        if frame.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                len: frame.len(),
                needed: HEADER_LEN,
            });
        }
        let mac = |i: usize| {
            let mut m = [0u8; 6];
            m.copy_from_slice(&frame[i..i + 6]);
            MacAddr(m)
        };
        let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let mut payload = &frame[HEADER_LEN..];
        if ethertype == ETHERTYPE_VLAN {
            if payload.len() < 4 {
                return Err(WireError::Truncated {
                    len: frame.len(),
                    needed: HEADER_LEN + 4,
                });
            }
            ethertype = u16::from_be_bytes([payload[2], payload[3]]);
            payload = &payload[4..];
        }
        Ok((
            EthernetRepr {
                dst: mac(0),
                src: mac(6),
                ethertype,
            },
            payload,
        ))
    }

    /// Writes the 14-byte header at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = buf.len();
        let b = buf.get_mut(..HEADER_LEN).ok_or(WireError::Truncated {
            len,
            needed: HEADER_LEN,
        })?;
        b[0..6].copy_from_slice(&self.dst.0);
        b[6..12].copy_from_slice(&self.src.0);
        b[12..14].copy_from_slice(&self.ethertype.to_be_bytes());
        Ok(HEADER_LEN)
    }
}
