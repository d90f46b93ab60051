//! Codec unit tests: one per typed error, v2/v3/IPv6 emit, and arbitrary
//! inputs that must never panic.

use std::net::IpAddr;

use super::packet::Family;
use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Keepalived's first advert in vrrp-v2.pcap: VRID 51, prio 150, 1 s.
const V2: [u8; 20] = [
    0x21, 0x33, 0x96, 0x01, 0x00, 0x01, 0x3e, 0x35, 0x0a, 0x63, 0x00, 0x32, 0, 0, 0, 0, 0, 0, 0, 0,
];
const SRC: &str = "10.99.0.11";
const DST: &str = "224.0.0.18";

fn parse(bytes: &[u8]) -> Result<VrrpRepr, WireError> {
    VrrpRepr::parse_bytes(bytes, ip(SRC), ip(DST))
}

/// Rewrites the checksum after a deliberate change, so the error under test
/// is the only one.
fn fix(mut bytes: Vec<u8>) -> Vec<u8> {
    let mut p = VrrpPacket::new_unchecked(&mut bytes[..], Family::Ipv4);
    p.fill_checksum(ip(SRC), ip(DST)).unwrap();
    bytes
}

fn v3(priority: u8) -> VrrpRepr {
    VrrpRepr {
        version: Version::V3,
        vrid: 51,
        priority,
        interval: AdvertInterval::from_centis(100).unwrap(),
        auth: Auth::None,
        addresses: vec![ip("10.99.0.50")],
    }
}

#[test]
fn parses_keepalived_v2() {
    let r = parse(&V2).unwrap();
    assert_eq!(
        r,
        VrrpRepr {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval: AdvertInterval::from_secs(1).unwrap(),
            auth: Auth::None,
            addresses: vec![ip("10.99.0.50")],
        }
    );
    assert_eq!(r.to_bytes(ip(SRC), ip(DST)).unwrap(), V2);
}

#[test]
fn v3_ipv4_checksum_matches_keepalived() {
    // vrrp-v3.pcap frame 1 carries checksum 0x42d5 (tshark: correct).
    let b = v3(150).to_bytes(ip(SRC), ip(DST)).unwrap();
    assert_eq!(&b[6..8], &[0x42, 0xd5]);
    // The same advert to a unicast peer has another checksum.
    let u = v3(150).to_bytes(ip(SRC), ip("10.99.0.12")).unwrap();
    assert_ne!(&u[6..8], &b[6..8]);
    assert!(matches!(
        VrrpRepr::parse_bytes(&u, ip(SRC), ip(DST)),
        Err(WireError::BadChecksum { .. })
    ));
}

#[test]
fn truncated() {
    assert_eq!(
        parse(&V2[..7]),
        Err(WireError::Truncated { len: 7, needed: 8 })
    );
    assert_eq!(parse(&[]), Err(WireError::Truncated { len: 0, needed: 8 }));
}

#[test]
fn bad_version() {
    let mut b = V2.to_vec();
    b[0] = 0x41;
    assert_eq!(parse(&fix(b)), Err(WireError::BadVersion(4)));
}

#[test]
fn bad_type() {
    let mut b = V2.to_vec();
    b[0] = 0x22;
    assert_eq!(parse(&fix(b)), Err(WireError::BadType(2)));
}

#[test]
fn bad_checksum() {
    let mut b = V2.to_vec();
    b[7] ^= 0x01;
    assert_eq!(
        parse(&b),
        Err(WireError::BadChecksum {
            found: 0x3e34,
            computed: 0x3e35
        })
    );
}

#[test]
fn count_lying_about_length() {
    let mut b = V2.to_vec();
    b[3] = 2;
    assert_eq!(
        parse(&fix(b)),
        Err(WireError::CountMismatch {
            count: 2,
            expected: 24,
            len: 20
        })
    );
    // A count of 0 with an address left in the packet lies the other way.
    let mut b = V2.to_vec();
    b[3] = 0;
    assert!(matches!(
        parse(&fix(b)),
        Err(WireError::CountMismatch { .. })
    ));
    // Trailing garbage after the auth data.
    let mut b = V2.to_vec();
    b.extend_from_slice(&[0, 0]);
    assert!(matches!(parse(&b), Err(WireError::CountMismatch { .. })));
}

#[test]
fn zero_interval() {
    let mut b = V2.to_vec();
    b[5] = 0;
    assert_eq!(parse(&fix(b)), Err(WireError::ZeroInterval));
    let mut b = v3(100).to_bytes(ip(SRC), ip(DST)).unwrap();
    b[4] = 0xf0; // reserved bits set, interval 0
    b[5] = 0;
    assert_eq!(parse(&fix(b)), Err(WireError::ZeroInterval));
}

#[test]
fn v3_reserved_bits_are_ignored() {
    let mut b = v3(100).to_bytes(ip(SRC), ip(DST)).unwrap();
    b[4] |= 0xf0;
    assert_eq!(parse(&fix(b)).unwrap(), v3(100));
}

#[test]
fn unknown_auth_and_ah() {
    let mut b = V2.to_vec();
    b[4] = 3;
    assert_eq!(parse(&fix(b)), Err(WireError::UnknownAuth(3)));
    let mut b = V2.to_vec();
    b[4] = 2;
    assert_eq!(parse(&fix(b)), Err(WireError::AuthHeaderUnsupported));
}

#[test]
fn simple_text_auth_round_trips() {
    let r = VrrpRepr {
        version: Version::V2,
        vrid: 7,
        priority: 100,
        interval: AdvertInterval::from_secs(3).unwrap(),
        auth: Auth::simple("s3cret").unwrap(),
        addresses: vec![ip("192.0.2.10"), ip("192.0.2.11")],
    };
    let b = r.to_bytes(ip("192.0.2.1"), ip(DST)).unwrap();
    assert_eq!(b.len(), 8 + 8 + 8);
    assert_eq!(b[4], 1);
    assert_eq!(&b[16..], b"s3cret\0\0");
    assert_eq!(
        VrrpRepr::parse_bytes(&b, ip("192.0.2.1"), ip(DST)).unwrap(),
        r
    );
    assert_eq!(Auth::simple("123456789"), None, "longer than 8 bytes");
    assert_eq!(
        format!("{:?}", r.auth),
        "Simple(..)",
        "never print the password"
    );
}

#[test]
fn ipv6_v3_round_trips_and_v2_is_refused() {
    let src = ip("fe80::1");
    let dst = IpAddr::V6(MULTICAST_V6);
    let r = VrrpRepr {
        addresses: vec![ip("2001:db8::50"), ip("2001:db8::51")],
        ..v3(200)
    };
    let b = r.to_bytes(src, dst).unwrap();
    assert_eq!(b.len(), 8 + 32);
    assert_eq!(VrrpRepr::parse_bytes(&b, src, dst).unwrap(), r);
    // Another source: the pseudo-header changes the checksum.
    assert!(matches!(
        VrrpRepr::parse_bytes(&b, ip("fe80::2"), dst),
        Err(WireError::BadChecksum { .. })
    ));
    let v2 = VrrpRepr {
        version: Version::V2,
        ..r
    };
    assert!(matches!(
        v2.to_bytes(src, dst),
        Err(WireError::FamilyMismatch(_))
    ));
    let mut b2 = b.clone();
    b2[0] = 0x21;
    assert!(matches!(
        VrrpRepr::parse_bytes(&b2, src, dst),
        Err(WireError::FamilyMismatch(_))
    ));
}

#[test]
fn emit_refuses_what_cannot_be_sent() {
    let mut r = v3(100);
    r.addresses.push(ip("2001:db8::1"));
    assert!(matches!(
        r.to_bytes(ip(SRC), ip(DST)),
        Err(WireError::FamilyMismatch(_))
    ));
    let r = VrrpRepr {
        interval: AdvertInterval::from_centis(150).unwrap(),
        version: Version::V2,
        ..v3(100)
    };
    assert!(matches!(
        r.to_bytes(ip(SRC), ip(DST)),
        Err(WireError::InvalidInterval { .. })
    ));
    let r = VrrpRepr {
        interval: AdvertInterval::from_secs(100).unwrap(),
        ..v3(100)
    };
    assert!(matches!(
        r.to_bytes(ip(SRC), ip(DST)),
        Err(WireError::InvalidInterval { .. })
    ));
    let r = VrrpRepr {
        addresses: (0..256u32).map(|i| IpAddr::V4(i.into())).collect(),
        ..v3(100)
    };
    assert_eq!(
        r.to_bytes(ip(SRC), ip(DST)),
        Err(WireError::TooManyAddresses(256))
    );
    let mut small = [0u8; 10];
    assert!(matches!(
        v3(100).emit(&mut small, ip(SRC), ip(DST)),
        Err(WireError::Truncated { .. })
    ));
}

#[test]
fn intervals() {
    assert_eq!(AdvertInterval::from_centis(0), Err(WireError::ZeroInterval));
    assert!(AdvertInterval::from_centis(25_501).is_err());
    let d = AdvertInterval::from_duration(std::time::Duration::from_millis(10)).unwrap();
    assert_eq!(d.centis(), 1);
    assert!(AdvertInterval::from_duration(std::time::Duration::from_millis(15)).is_err());
    assert!(AdvertInterval::from_secs(1).unwrap().fits(Version::V2));
    assert!(!AdvertInterval::from_centis(5).unwrap().fits(Version::V2));
    assert!(!AdvertInterval::from_secs(41).unwrap().fits(Version::V3));
}

#[test]
fn ipv4_header_checks() {
    // Keepalived's frame 1 IP header + VRRP.
    let mut pkt = vec![
        0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xd0, 0x24, 10, 99, 0, 11, 224,
        0, 0, 18,
    ];
    pkt.extend_from_slice(&V2);
    let (h, body) = Ipv4Header::parse(&pkt).unwrap();
    assert_eq!((h.ttl, h.protocol, h.tos), (255, 112, 0xc0));
    assert_eq!(body, V2);
    assert!(Ipv4Header::checksum_ok(&pkt, h.header_len));
    // Ethernet padding after the total length is cut off.
    pkt.extend_from_slice(&[0; 6]);
    assert_eq!(Ipv4Header::parse(&pkt).unwrap().1, V2);
    let mut frag = pkt.clone();
    frag[6] = 0x20; // more fragments
    assert!(Ipv4Header::parse(&frag).is_err());
    let mut ihl = pkt.clone();
    ihl[0] = 0x44;
    assert!(Ipv4Header::parse(&ihl).is_err());
    let mut total = pkt.clone();
    total[3] = 0xff;
    assert!(Ipv4Header::parse(&total).is_err());
}

/// xorshift64*: deterministic noise without a dependency.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Arbitrary bytes (random, and valid packets with random fields and fixed
/// checksums) never panic any parser; whatever parses re-emits to bytes
/// that parse to the same meaning.
#[test]
fn arbitrary_inputs_never_panic() {
    let mut n = Noise(0x9e37_79b9_7f4a_7c15);
    let v6src = ip("fe80::1");
    let v6dst = IpAddr::V6(MULTICAST_V6);
    let mut parsed = 0;
    for round in 0..20_000u32 {
        let mut b = if round.is_multiple_of(2) {
            // Plausible: version 2/3, type 1, a length that fits the count.
            let v3 = n.next().is_multiple_of(2);
            let count = (n.next() % 4) as usize;
            let per = if v3 && n.next().is_multiple_of(2) {
                16
            } else {
                4
            };
            let len = 8 + count * per + if v3 { 0 } else { 8 };
            let mut b = n.bytes(len);
            b[0] = if v3 { 0x31 } else { 0x21 };
            b[3] = count as u8;
            if n.next().is_multiple_of(2) {
                b[4] &= 0x01; // v2: auth 0/1
            }
            b
        } else {
            let len = (n.next() % 64) as usize;
            n.bytes(len)
        };
        for (src, dst, fam) in [
            (ip(SRC), ip(DST), Family::Ipv4),
            (v6src, v6dst, Family::Ipv6),
        ] {
            if round.is_multiple_of(4) && VrrpPacket::new_checked(&b[..], fam).is_ok() {
                let _ = VrrpPacket::new_unchecked(&mut b[..], fam).fill_checksum(src, dst);
            }
            if let Ok(r) = VrrpRepr::parse_bytes(&b, src, dst) {
                parsed += 1;
                let again = r
                    .to_bytes(src, dst)
                    .expect("a parsed advert can be emitted");
                assert_eq!(VrrpRepr::parse_bytes(&again, src, dst).unwrap(), r);
            }
        }
        let _ = Ipv4Header::parse(&b);
        let _ = EthernetRepr::parse(&b);
        let _ = ArpRepr::parse(&b);
        let _ = NaRepr::parse(&b, "fe80::1".parse().unwrap(), ndisc::ALL_NODES);
        let _ = peek_vrid(&b);
    }
    assert!(
        parsed > 100,
        "the generator should reach the parser's happy path ({parsed})"
    );
}
