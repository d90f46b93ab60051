//! The Internet checksum (RFC 1071) and the IPv4/IPv6 pseudo-headers that
//! VRRPv3 (RFC 5798 §5.2.8) and ICMPv6 fold into it.

use std::net::IpAddr;

/// One's-complement sum of `data` as big-endian 16-bit words, folded into
/// `acc` without the final inversion, so pieces can be chained.
pub fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for w in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes([w[0], w[1]])));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

/// Folds a running sum into the final 16-bit checksum (inverted).
pub fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The checksum of `data` alone (VRRPv2, IPv4 header).
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(0, data))
}

/// The partial sum of the pseudo-header for an upper-layer packet of `len`
/// bytes and protocol `proto` between `src` and `dst`. IPv4 uses the RFC 768
/// layout, IPv6 the RFC 8200 §8.1 one. Mixed families give `None`.
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Option<u32> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut acc = sum(0, &s.octets());
            acc = sum(acc, &d.octets());
            // Zero byte + protocol, then the 16-bit length.
            acc = sum(acc, &[0, proto]);
            Some(sum(acc, &(len as u16).to_be_bytes()))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut acc = sum(0, &s.octets());
            acc = sum(acc, &d.octets());
            acc = sum(acc, &(len as u32).to_be_bytes());
            Some(sum(acc, &[0, 0, 0, proto]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum(0, &data), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(
            checksum(&[0x12, 0x34, 0x56]),
            checksum(&[0x12, 0x34, 0x56, 0x00])
        );
    }

    #[test]
    fn data_with_its_checksum_sums_to_zero() {
        let mut data = vec![0x45, 0x00, 0x00, 0x28, 0x12, 0x34, 0x00, 0x00];
        let c = checksum(&data);
        data.extend_from_slice(&c.to_be_bytes());
        assert_eq!(checksum(&data), 0);
    }

    #[test]
    fn mixed_families_have_no_pseudo_header() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(pseudo_header_sum(v4, v6, 112, 20), None);
    }
}
