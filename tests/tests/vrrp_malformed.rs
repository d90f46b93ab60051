//! Malformed and hostile packets from another host on the LAN, crafted with
//! belay's own codec and then corrupted: each is dropped and counted under
//! its reason, the daemon keeps running, and the master keeps its VIPs.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use belay::vrrp::wire::checksum;
use belay::vrrp::{AdvertInterval, Auth, Version, VrrpRepr};
use belay_tests::inject::send_ipv4;
use belay_tests::{Lan, Router, VrrpSpec, require_root, wait_until};

const T: Duration = Duration::from_secs(5);
const VICTIM: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const ATTACKER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

fn advert(
    version: Version,
    vrid: u8,
    priority: u8,
    interval: AdvertInterval,
    auth: Auth,
) -> VrrpRepr {
    VrrpRepr {
        version,
        vrid,
        priority,
        interval,
        auth,
        addresses: vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))],
    }
}

fn emit(r: &VrrpRepr, dst: Ipv4Addr) -> Vec<u8> {
    r.to_bytes(IpAddr::V4(ATTACKER), IpAddr::V4(dst))
        .expect("emit")
}

/// Recomputes the v3 checksum after a corruption, so only the corruption
/// we mean is seen.
fn fix_v3_checksum(p: &mut [u8], dst: Ipv4Addr) {
    p[6] = 0;
    p[7] = 0;
    let acc =
        checksum::pseudo_header_sum(IpAddr::V4(ATTACKER), IpAddr::V4(dst), 112, p.len()).unwrap();
    let c = checksum::finish(checksum::sum(acc, p));
    p[6..8].copy_from_slice(&c.to_be_bytes());
}

/// A deterministic byte stream (no RNG dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u8
    }
}

#[test]
fn malformed_packets_are_dropped_counted_and_survived() {
    if !require_root("malformed_packets_are_dropped_counted_and_survived") {
        return;
    }
    let lan = Lan::with_hosts(2);
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.66/24");

    // One daemon, three instances on one interface: v3, v2 with auth, unicast.
    let v3 = VrrpSpec {
        name: "V3".into(),
        ..VrrpSpec::v3(91, 150, "192.0.2.100/24")
    };
    let mut v2 = VrrpSpec {
        name: "V2".into(),
        ..VrrpSpec::v3(93, 150, "192.0.2.101/24")
    };
    v2.version = 2;
    v2.advert_interval = "1s".into();
    v2.extra = vec![
        "auth_type = \"pass\"".into(),
        "auth_pass = \"s3cret\"".into(),
    ];
    let mut uni = VrrpSpec {
        name: "UNI".into(),
        ..VrrpSpec::v3(94, 150, "192.0.2.102/24")
    };
    uni.unicast_src = Some("192.0.2.1".into());
    uni.unicast_peers = vec!["192.0.2.2".into()];
    let mut victim = Router::start(lan.host(0), "victim", &[v3, v2, uni]);
    for name in ["V3", "V2", "UNI"] {
        victim.wait_state(name, "MASTER", T);
    }

    let i1s = AdvertInterval::from_centis(100).unwrap();
    let strong = advert(Version::V3, 91, 254, i1s, Auth::None);
    let mut multicast = Vec::new();

    // A valid, stronger advert — but from beyond a router (TTL 64).
    send_ipv4(
        lan.host(1),
        "eth0",
        ATTACKER,
        GROUP,
        64,
        112,
        vec![emit(&strong, GROUP)],
    );

    // Bad checksum.
    let mut p = emit(&strong, GROUP);
    p[7] ^= 0xff;
    multicast.push(p);
    // Version nibble 5.
    let mut p = emit(&strong, GROUP);
    p[0] = 0x51;
    fix_v3_checksum(&mut p, GROUP);
    multicast.push(p);
    // A well-formed VRRPv2 advert to the v3 instance.
    multicast.push(emit(&advert(Version::V2, 91, 254, i1s, Auth::None), GROUP));
    // Unknown VRID (the v2 instance hears it too).
    multicast.push(emit(&advert(Version::V3, 92, 254, i1s, Auth::None), GROUP));
    // Lying address count: says 5, carries 1.
    let mut p = emit(&strong, GROUP);
    p[3] = 5;
    fix_v3_checksum(&mut p, GROUP);
    multicast.push(p);
    // Truncated inside the header.
    multicast.push(emit(&strong, GROUP)[..6].to_vec());
    // Packet type 2 (undefined).
    let mut p = emit(&strong, GROUP);
    p[0] = 0x32;
    fix_v3_checksum(&mut p, GROUP);
    multicast.push(p);
    // To the v2 instance: wrong password, then the right one with the wrong interval.
    let wrong = Auth::simple("wrong").unwrap();
    multicast.push(emit(&advert(Version::V2, 93, 254, i1s, wrong), GROUP));
    let i2s = AdvertInterval::from_centis(200).unwrap();
    let right = Auth::simple("s3cret").unwrap();
    multicast.push(emit(&advert(Version::V2, 93, 254, i2s, right), GROUP));
    send_ipv4(lan.host(1), "eth0", ATTACKER, GROUP, 255, 112, multicast);

    // The unicast instance only listens to its peers.
    let to_uni = emit(&advert(Version::V3, 94, 254, i1s, Auth::None), VICTIM);
    send_ipv4(
        lan.host(1),
        "eth0",
        ATTACKER,
        VICTIM,
        255,
        112,
        vec![to_uni],
    );

    let expect = [
        ("V3", "ttl_not_255", 1),
        ("V3", "bad_checksum", 1),
        ("V3", "bad_version", 1),
        ("V3", "version_mismatch", 1),
        ("V3", "vrid_mismatch", 1),
        ("V3", "count_mismatch", 1),
        ("V3", "truncated", 1),
        ("V3", "bad_type", 1),
        // The v2 instance sees the unknown-VRID v3 packet as the wrong version first.
        ("V2", "version_mismatch", 1),
        ("V2", "auth_mismatch", 1),
        ("V2", "interval_mismatch", 1),
        ("UNI", "unknown_peer", 1),
    ];
    // Bounded wait without panicking, so a miss reports every counter below.
    let deadline = std::time::Instant::now() + T;
    while std::time::Instant::now() < deadline
        && !expect.iter().all(|(i, k, n)| victim.counter(i, k) >= *n)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = victim.status().unwrap();
    for (inst, key, n) in expect {
        assert_eq!(victim.counter(inst, key), n, "{inst}.{key} in {status:#}");
    }
    // Each instance dropped exactly what was aimed at it: siblings' adverts
    // (V2 and V3 hear each other) are not drops.
    assert_eq!(victim.counter("V3", "drops_total"), 8, "{status:#}");
    assert_eq!(victim.counter("V2", "drops_total"), 3, "{status:#}");
    assert_eq!(victim.counter("UNI", "drops_total"), 1, "{status:#}");
    for name in ["V3", "V2", "UNI"] {
        assert_eq!(victim.state(name).as_deref(), Some("MASTER"), "{name}");
        assert_eq!(victim.counter(name, "adverts_received"), 0, "{name}");
    }

    // Then a flood of garbage: nothing received may crash the daemon, and
    // what the kernel had to drop for a full queue is counted too
    // (`socket_overflow`).
    let mut rng = Lcg(0x5eed);
    let garbage: Vec<Vec<u8>> = (0..500)
        .map(|_| {
            let len = usize::from(rng.next() % 120);
            let mut p: Vec<u8> = (0..len).map(|_| rng.next()).collect();
            if let Some(b) = p.first_mut() {
                *b &= 0xef; // never a plausible v3 advert (0x31)
            }
            p
        })
        .collect();
    let before = victim.counter("V3", "drops_total");
    send_ipv4(lan.host(1), "eth0", ATTACKER, GROUP, 255, 112, garbage);
    wait_until(T, "garbage counted", || {
        victim.counter("V3", "drops_total") >= before + 450
    });
    assert!(victim.proc.is_running(), "belay died: {}", victim.log());
    for name in ["V3", "V2", "UNI"] {
        assert_eq!(victim.state(name).as_deref(), Some("MASTER"), "{name}");
    }
    for vip in ["192.0.2.100", "192.0.2.101", "192.0.2.102"] {
        assert!(lan.host(0).has_addr("eth0", vip), "{vip} lost");
    }
}
