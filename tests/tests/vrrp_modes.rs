//! The protocol variants end to end: VRRPv2 (with authentication), VRRPv3
//! over IPv6, and unicast adverts on a LAN that drops VRRP multicast.

use std::time::Duration;

use belay_tests::{Lan, Router, VrrpSpec, pings, require_root, wait_until};
use nix::sys::signal::Signal;

const T: Duration = Duration::from_secs(5);

fn lan(v6: bool) -> Lan {
    let mut lan = Lan::with_hosts(2);
    lan.add_host("client");
    for (i, h) in [1, 2, 50].iter().enumerate() {
        let addr = if v6 {
            format!("2001:db8::{h}/64")
        } else {
            format!("192.0.2.{h}/24")
        };
        lan.host(i).add_addr("eth0", &addr);
    }
    lan
}

/// Master h0 (200) and backup h1 (100) elect, the client reaches the VIP,
/// then kill -9 of the master moves it.
fn elect_and_fail_over(lan: &Lan, vip: &str, specs: [VrrpSpec; 2], timeout: Duration) {
    let mut m = Router::start(lan.host(0), "m", &[specs[0].clone()]);
    let b = Router::start(lan.host(1), "b", &[specs[1].clone()]);
    m.wait_state("VI_1", "MASTER", timeout);
    b.wait_state("VI_1", "BACKUP", timeout);
    wait_until(timeout, "client reaches the VIP on h0", || {
        pings(lan.host(2), vip)
    });
    assert!(lan.host(0).has_addr("eth0", vip));
    assert!(!lan.host(1).has_addr("eth0", vip));
    assert!(b.counter("VI_1", "adverts_received") > 0);
    assert_eq!(b.counter("VI_1", "drops_total"), 0, "{}", b.log());
    m.signal(Signal::SIGKILL);
    m.wait_exit(T);
    b.wait_state("VI_1", "MASTER", timeout);
    assert!(lan.host(1).has_addr("eth0", vip));
    wait_until(timeout, "client reaches the VIP on h1", || {
        pings(lan.host(2), vip)
    });
}

#[test]
fn ipv4_vrrpv2_with_authentication() {
    if !require_root("ipv4_vrrpv2_with_authentication") {
        return;
    }
    let lan = lan(false);
    let spec = |prio| {
        let mut s = VrrpSpec::v3(81, prio, "192.0.2.100/24");
        s.version = 2;
        s.advert_interval = "1s".into();
        s.extra = vec![
            "auth_type = \"pass\"".into(),
            "auth_pass = \"s3cret\"".into(),
        ];
        s
    };
    // v2 adverts are whole seconds: Master_Down_Interval is ~3.6 s.
    elect_and_fail_over(
        &lan,
        "192.0.2.100",
        [spec(200), spec(100)],
        Duration::from_secs(10),
    );
}

#[test]
fn ipv4_vrrpv3() {
    if !require_root("ipv4_vrrpv3") {
        return;
    }
    let lan = lan(false);
    let spec = |prio| VrrpSpec::v3(82, prio, "192.0.2.100/24");
    elect_and_fail_over(&lan, "192.0.2.100", [spec(200), spec(100)], T);
}

#[test]
fn ipv6_vrrpv3() {
    if !require_root("ipv6_vrrpv3") {
        return;
    }
    let lan = lan(true);
    let spec = |prio| VrrpSpec::v3(83, prio, "2001:db8::100/64");
    // Adverts leave from the link-local address, usable once its DAD is done.
    elect_and_fail_over(
        &lan,
        "2001:db8::100",
        [spec(200), spec(100)],
        Duration::from_secs(8),
    );
}

#[test]
fn unicast_peers_without_multicast() {
    if !require_root("unicast_peers_without_multicast") {
        return;
    }
    let lan = lan(false);
    // The switch drops everything sent to the VRRP group's MAC.
    let rules = "table bridge nomcast {\n chain drop_vrrp_group {\n  type filter hook forward priority 0;\n  ether daddr 01:00:5e:00:00:12 counter drop\n }\n}\n";
    let path = std::env::temp_dir().join(format!("belay-test-{}-nomcast.nft", std::process::id()));
    std::fs::write(&path, rules).unwrap();
    lan.hub.exec("nft", &["-f", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let spec = |prio, me: &str, peer: &str| {
        let mut s = VrrpSpec::v3(84, prio, "192.0.2.100/24");
        s.unicast_src = Some(me.into());
        s.unicast_peers = vec![peer.into()];
        s
    };
    elect_and_fail_over(
        &lan,
        "192.0.2.100",
        [
            spec(200, "192.0.2.1", "192.0.2.2"),
            spec(100, "192.0.2.2", "192.0.2.1"),
        ],
        T,
    );
}
