//! A minimal IPv4 header reader: raw IPv4 sockets deliver the header with
//! the payload, and VRRP needs its TTL, protocol and addresses.

use std::net::Ipv4Addr;

use super::checksum;
use super::error::WireError;

/// Minimum IPv4 header length.
pub const MIN_HEADER_LEN: usize = 20;

/// The fields of an IPv4 header that VRRP looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub protocol: u8,
    pub tos: u8,
    pub ident: u16,
    /// Header length in bytes (IHL × 4).
    pub header_len: usize,
}

impl Ipv4Header {
    /// Parses the header of `packet` and returns it with the payload (cut to
    /// the header's total length; anything after is link padding). Fragments
    /// are refused: VRRP adverts are never fragmented.
    pub fn parse(packet: &[u8]) -> Result<(Ipv4Header, &[u8]), WireError> {
        if packet.len() < MIN_HEADER_LEN {
            return Err(WireError::Truncated {
                len: packet.len(),
                needed: MIN_HEADER_LEN,
            });
        }
        if packet[0] >> 4 != 4 {
            return Err(WireError::BadIpHeader("version is not 4"));
        }
        let header_len = usize::from(packet[0] & 0x0f) * 4;
        if header_len < MIN_HEADER_LEN || header_len > packet.len() {
            return Err(WireError::BadIpHeader("header length out of range"));
        }
        let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        if total < header_len || total > packet.len() {
            return Err(WireError::BadIpHeader("total length out of range"));
        }
        let frag = u16::from_be_bytes([packet[6], packet[7]]);
        if frag & 0x3fff != 0 {
            return Err(WireError::BadIpHeader("fragment"));
        }
        let ip = |i: usize| Ipv4Addr::new(packet[i], packet[i + 1], packet[i + 2], packet[i + 3]);
        Ok((
            Ipv4Header {
                src: ip(12),
                dst: ip(16),
                ttl: packet[8],
                protocol: packet[9],
                tos: packet[1],
                ident: u16::from_be_bytes([packet[4], packet[5]]),
                header_len,
            },
            &packet[header_len..total],
        ))
    }

    /// Whether the header checksum of `packet` is right.
    pub fn checksum_ok(packet: &[u8], header_len: usize) -> bool {
        packet
            .get(..header_len)
            .is_some_and(|h| checksum::checksum(h) == 0)
    }
}
