//! Elections among belay routers on one bridge: who wins, and who holds the VIP.

use std::time::Duration;

use belay_tests::{Cable, Lan, Router, VrrpSpec, pings, require_root, wait_until};

const VIP: &str = "192.0.2.100";
const T: Duration = Duration::from_secs(5);

/// Three routers; h3 is the client.
fn lan3() -> Lan {
    let mut lan = Lan::with_hosts(3);
    lan.add_host("client");
    for i in 0..3 {
        lan.host(i)
            .add_addr("eth0", &format!("192.0.2.{}/24", i + 1));
    }
    lan.host(3).add_addr("eth0", "192.0.2.50/24");
    lan
}

#[test]
fn highest_priority_wins_and_holds_the_vip() {
    if !require_root("highest_priority_wins_and_holds_the_vip") {
        return;
    }
    let lan = lan3();
    let prios = [100, 200, 150];
    let routers: Vec<Router> = (0..3)
        .map(|i| {
            Router::start(
                lan.host(i),
                &format!("r{i}"),
                &[VrrpSpec::v3(51, prios[i], &format!("{VIP}/24"))],
            )
        })
        .collect();
    routers[1].wait_state("VI_1", "MASTER", T);
    for i in [0, 2] {
        routers[i].wait_state("VI_1", "BACKUP", T);
    }
    wait_until(T, "client reaches the VIP", || pings(lan.host(3), VIP));
    assert!(lan.host(1).has_addr("eth0", VIP));
    assert!(!lan.host(0).has_addr("eth0", VIP));
    assert!(!lan.host(2).has_addr("eth0", VIP));
    // The backups know who the master is, and adverts flow.
    let b = routers[0].instance("VI_1").unwrap();
    assert_eq!(b["master_address"], "192.0.2.2");
    assert!(routers[0].counter("VI_1", "adverts_received") > 0);
    assert!(routers[1].counter("VI_1", "adverts_sent") > 0);
    assert_eq!(routers[1].counter("VI_1", "drops_total"), 0);
}

#[test]
fn equal_priority_is_won_by_the_higher_address() {
    if !require_root("equal_priority_is_won_by_the_higher_address") {
        return;
    }
    let lan = lan3();
    // Each router alone on its cable becomes master; joined, three masters of
    // equal priority meet and only the highest primary address (192.0.2.3)
    // may stay master (RFC 5798 §6.4.3). (A backup does not preempt an
    // equal-priority master, so starting them together would test the race.)
    for i in 0..3 {
        lan.unplug(i);
    }
    let routers: Vec<Router> = (0..3)
        .map(|i| {
            Router::start(
                lan.host(i),
                &format!("r{i}"),
                &[VrrpSpec::v3(52, 100, &format!("{VIP}/24"))],
            )
        })
        .collect();
    for r in &routers {
        r.wait_state("VI_1", "MASTER", T);
    }
    for i in 0..3 {
        lan.plug(i);
    }
    routers[2].wait_state("VI_1", "MASTER", T);
    wait_until(T, "exactly one holder", || {
        (0..3)
            .filter(|i| lan.host(*i).has_addr("eth0", VIP))
            .count()
            == 1
    });
    for i in [0, 1] {
        routers[i].wait_state("VI_1", "BACKUP", T);
    }
    assert!(lan.host(2).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP", || pings(lan.host(3), VIP));
}
