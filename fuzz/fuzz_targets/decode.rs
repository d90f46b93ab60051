//! The wire decoders on arbitrary bytes: nothing panics, and whatever
//! parses re-emits to bytes that parse to the same meaning.
//!
//! Byte 0 picks the IP context and whether to repair the checksum first (so
//! the fuzzer also explores past the checksum check).
#![no_main]

use std::net::IpAddr;

use belay_fuzz::vrrp::wire::{
    self, ArpRepr, EthernetRepr, Family, Ipv4Header, NaRepr, VrrpPacket, VrrpRepr,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (src, dst): (IpAddr, IpAddr) = if mode & 1 == 0 {
        ("192.0.2.5".parse().unwrap(), IpAddr::V4(wire::MULTICAST_V4))
    } else {
        ("fe80::5".parse().unwrap(), IpAddr::V6(wire::MULTICAST_V6))
    };
    let mut bytes = rest.to_vec();
    if mode & 2 != 0 && VrrpPacket::new_checked(&bytes[..], Family::of(&src)).is_ok() {
        let _ = VrrpPacket::new_unchecked(&mut bytes[..], Family::of(&src)).fill_checksum(src, dst);
    }
    if let Ok(repr) = VrrpRepr::parse_bytes(&bytes, src, dst) {
        let again = repr
            .to_bytes(src, dst)
            .expect("a parsed advert can be emitted");
        assert_eq!(VrrpRepr::parse_bytes(&again, src, dst).as_ref(), Ok(&repr));
    }
    if let Ok((ip, payload)) = Ipv4Header::parse(rest) {
        let _ = VrrpRepr::parse_bytes(payload, ip.src.into(), ip.dst.into());
    }
    if let Ok((_, payload)) = EthernetRepr::parse(rest) {
        let _ = ArpRepr::parse(payload);
    }
    let _ = NaRepr::parse(rest, "fe80::5".parse().unwrap(), wire::ndisc::ALL_NODES);
});
