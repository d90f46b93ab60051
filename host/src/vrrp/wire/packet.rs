//! A zero-copy view of a VRRP packet (the IP payload), v2 or v3.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2: |  Auth Type    |   Adver Int   |          Checksum          |
//! v3: |(rsvd) |     Max Adver Int     |          Checksum          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 IPvX address(es) (Count × 4 or 16)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! v2 only: |          Authentication Data (8 bytes)                |
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum;
use super::error::WireError;

/// Bytes before the address list.
pub const HEADER_LEN: usize = 8;
/// VRRPv2's trailing authentication data.
pub const AUTH_DATA_LEN: usize = 8;

/// Which IP family carries the packet; it decides the address size (the VRRP
/// header itself does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// Size of one address of this family.
    pub const fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    /// The family of an address.
    pub const fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// The VRID of a buffer that looks like VRRP, without validating anything
/// else: lets a driver with several instances on one socket route a packet
/// to the right one before parsing it.
pub fn peek_vrid(buf: &[u8]) -> Option<u8> {
    buf.get(1).copied()
}

/// A VRRP packet in a buffer. After [`Packet::new_checked`] every accessor is
/// in bounds; [`Packet::new_unchecked`] accessors may panic on short buffers.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    family: Family,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T, family: Family) -> Packet<T> {
        Packet { buffer, family }
    }

    /// Wraps a buffer and checks that its length agrees with its version and
    /// address count, so every accessor is in bounds.
    pub fn new_checked(buffer: T, family: Family) -> Result<Packet<T>, WireError> {
        let p = Packet::new_unchecked(buffer, family);
        p.check_len()?;
        Ok(p)
    }

    /// The length checks of [`Packet::new_checked`].
    pub fn check_len(&self) -> Result<(), WireError> {
        let buf = self.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated {
                len: buf.len(),
                needed: HEADER_LEN,
            });
        }
        let version = buf[0] >> 4;
        let expected = match (version, self.family) {
            (2, Family::Ipv4) => HEADER_LEN + 4 * usize::from(buf[3]) + AUTH_DATA_LEN,
            (2, Family::Ipv6) => return Err(WireError::FamilyMismatch("VRRPv2 over IPv6")),
            (3, f) => HEADER_LEN + f.addr_len() * usize::from(buf[3]),
            (v, _) => return Err(WireError::BadVersion(v)),
        };
        if buf.len() != expected {
            return Err(WireError::CountMismatch {
                count: buf[3],
                expected,
                len: buf.len(),
            });
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The family this view was created for.
    pub fn family(&self) -> Family {
        self.family
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version nibble (2 or 3 after `new_checked`).
    pub fn version(&self) -> u8 {
        self.b()[0] >> 4
    }

    /// Type nibble (1 = advertisement).
    pub fn kind(&self) -> u8 {
        self.b()[0] & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        self.b()[1]
    }

    pub fn priority(&self) -> u8 {
        self.b()[2]
    }

    /// Count IPvX Addr.
    pub fn addr_count(&self) -> u8 {
        self.b()[3]
    }

    /// v2: authentication type (byte 4).
    pub fn auth_type(&self) -> u8 {
        self.b()[4]
    }

    /// v2: advertisement interval in seconds (byte 5).
    pub fn adver_int_secs(&self) -> u8 {
        self.b()[5]
    }

    /// v3: the 4 reserved bits before Max Adver Int.
    pub fn reserved(&self) -> u8 {
        self.b()[4] >> 4
    }

    /// v3: Max Adver Int in centiseconds (12 bits).
    pub fn max_adver_int(&self) -> u16 {
        u16::from_be_bytes([self.b()[4], self.b()[5]]) & 0x0fff
    }

    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.b()[6], self.b()[7]])
    }

    /// Raw bytes of the address list.
    pub fn addresses_raw(&self) -> &[u8] {
        let n = usize::from(self.addr_count()) * self.family.addr_len();
        &self.b()[HEADER_LEN..HEADER_LEN + n]
    }

    /// The addresses, typed by the family.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let family = self.family;
        self.addresses_raw()
            .chunks_exact(family.addr_len())
            .map(move |c| match family {
                Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])),
                Family::Ipv6 => {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            })
    }

    /// v2: the 8 bytes of authentication data after the addresses.
    pub fn auth_data(&self) -> &[u8] {
        let start = HEADER_LEN + usize::from(self.addr_count()) * 4;
        &self.b()[start..start + AUTH_DATA_LEN]
    }

    /// The checksum this packet should carry: v2 over the VRRP message alone
    /// (RFC 3768 §5.3.8), v3 over the pseudo-header too (RFC 5798 §5.2.8).
    /// `None` if `src` and `dst` are of different families.
    pub fn compute_checksum(&self, src: IpAddr, dst: IpAddr) -> Option<u16> {
        let b = self.b();
        let start = if self.version() == 3 {
            checksum::pseudo_header_sum(src, dst, super::IP_PROTO_VRRP, b.len())?
        } else {
            0
        };
        // The checksum field counts as zero.
        let acc = checksum::sum(start, &b[..6]);
        let acc = checksum::sum(acc, &b[8..]);
        Some(checksum::finish(acc))
    }

    /// Checks the checksum against `src`/`dst` (ignored for v2).
    pub fn verify_checksum(&self, src: IpAddr, dst: IpAddr) -> Result<(), WireError> {
        let computed = self
            .compute_checksum(src, dst)
            .ok_or(WireError::FamilyMismatch("source and destination"))?;
        if computed != self.checksum() {
            return Err(WireError::BadChecksum {
                found: self.checksum(),
                computed,
            });
        }
        Ok(())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    pub fn set_version_and_kind(&mut self, version: u8, kind: u8) {
        self.bm()[0] = (version << 4) | (kind & 0x0f);
    }

    pub fn set_vrid(&mut self, vrid: u8) {
        self.bm()[1] = vrid;
    }

    pub fn set_priority(&mut self, priority: u8) {
        self.bm()[2] = priority;
    }

    pub fn set_addr_count(&mut self, n: u8) {
        self.bm()[3] = n;
    }

    /// v2 only.
    pub fn set_auth_type(&mut self, t: u8) {
        self.bm()[4] = t;
    }

    /// v2 only.
    pub fn set_adver_int_secs(&mut self, s: u8) {
        self.bm()[5] = s;
    }

    /// v3 only; the reserved bits are written as zero.
    pub fn set_max_adver_int(&mut self, centis: u16) {
        let v = (centis & 0x0fff).to_be_bytes();
        self.bm()[4..6].copy_from_slice(&v);
    }

    pub fn set_checksum(&mut self, c: u16) {
        self.bm()[6..8].copy_from_slice(&c.to_be_bytes());
    }

    /// Raw bytes of the address list, writable.
    pub fn addresses_raw_mut(&mut self) -> &mut [u8] {
        let n = usize::from(self.addr_count()) * self.family.addr_len();
        &mut self.bm()[HEADER_LEN..HEADER_LEN + n]
    }

    /// v2: the authentication data, writable.
    pub fn auth_data_mut(&mut self) -> &mut [u8] {
        let start = HEADER_LEN + usize::from(self.addr_count()) * 4;
        &mut self.bm()[start..start + AUTH_DATA_LEN]
    }

    /// Computes and stores the checksum (v3 needs the IP addresses).
    pub fn fill_checksum(&mut self, src: IpAddr, dst: IpAddr) -> Result<(), WireError> {
        let c = self
            .compute_checksum(src, dst)
            .ok_or(WireError::FamilyMismatch("source and destination"))?;
        self.set_checksum(c);
        Ok(())
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}
