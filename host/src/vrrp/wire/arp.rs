//! ARP for IPv4 over Ethernet (RFC 826), as gratuitous ARP uses it: the new
//! master announces that a VIP now lives at its MAC.

use std::net::Ipv4Addr;

use super::error::WireError;
use super::ethernet::{self, ETHERTYPE_ARP, EthernetRepr, MacAddr};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// Length of a whole gratuitous ARP frame as Keepalived sends it (no padding).
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    Request,
    Reply,
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub op: ArpOp,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// A gratuitous ARP request for `vip` from `mac`, in the form Keepalived
    /// sends: sender and target IP both the VIP, target MAC broadcast.
    pub fn gratuitous(mac: MacAddr, vip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            op: ArpOp::Request,
            sender_mac: mac,
            sender_ip: vip,
            target_mac: MacAddr::BROADCAST,
            target_ip: vip,
        }
    }

    /// Whether this announces the sender's own address (sender IP = target IP).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    /// Parses the ARP payload of an Ethernet frame.
    pub fn parse(buf: &[u8]) -> Result<ArpRepr, WireError> {
        let bad = |why| WireError::Malformed { what: "ARP", why };
        if buf.len() < PACKET_LEN {
            return Err(WireError::Truncated {
                len: buf.len(),
                needed: PACKET_LEN,
            });
        }
        if buf[0..2] != [0, 1] || buf[2..4] != [0x08, 0x00] || buf[4] != 6 || buf[5] != 4 {
            return Err(bad("not Ethernet/IPv4"));
        }
        let op = match u16::from_be_bytes([buf[6], buf[7]]) {
            1 => ArpOp::Request,
            2 => ArpOp::Reply,
            _ => return Err(bad("unknown opcode")),
        };
        let mac = |i: usize| {
            let mut m = [0u8; 6];
            m.copy_from_slice(&buf[i..i + 6]);
            MacAddr(m)
        };
        let ip = |i: usize| Ipv4Addr::new(buf[i], buf[i + 1], buf[i + 2], buf[i + 3]);
        Ok(ArpRepr {
            op,
            sender_mac: mac(8),
            sender_ip: ip(14),
            target_mac: mac(18),
            target_ip: ip(24),
        })
    }

    /// Writes the 28-byte ARP packet.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, WireError> {
        let len = buf.len();
        let b = buf.get_mut(..PACKET_LEN).ok_or(WireError::Truncated {
            len,
            needed: PACKET_LEN,
        })?;
        b[0..2].copy_from_slice(&1u16.to_be_bytes());
        b[2..4].copy_from_slice(&0x0800u16.to_be_bytes());
        b[4] = 6;
        b[5] = 4;
        let op: u16 = match self.op {
            ArpOp::Request => 1,
            ArpOp::Reply => 2,
        };
        b[6..8].copy_from_slice(&op.to_be_bytes());
        b[8..14].copy_from_slice(&self.sender_mac.0);
        b[14..18].copy_from_slice(&self.sender_ip.octets());
        b[18..24].copy_from_slice(&self.target_mac.0);
        b[24..28].copy_from_slice(&self.target_ip.octets());
        Ok(PACKET_LEN)
    }

    /// The whole Ethernet frame, broadcast from `sender_mac`, ready for a
    /// packet socket.
    pub fn to_frame(&self) -> [u8; FRAME_LEN] {
        let mut f = [0u8; FRAME_LEN];
        let eth = EthernetRepr {
            dst: MacAddr::BROADCAST,
            src: self.sender_mac,
            ethertype: ETHERTYPE_ARP,
        };
        // Both writes fit the fixed-size frame.
        let _ = eth.emit(&mut f);
        let _ = self.emit(&mut f[ethernet::HEADER_LEN..]);
        f
    }
}
