//! Failover between belay routers: crash, graceful stop, link loss.

use std::time::Duration;

use belay_tests::{Cable, Lan, Router, VrrpSpec, pings, require_root, wait_until};
use nix::sys::signal::Signal;

const VIP: &str = "192.0.2.100";
const T: Duration = Duration::from_secs(5);

/// h0 (priority 200) master, h1 (100) backup, h2 client. Returns them settled.
fn pair(vrid: u8) -> (Lan, Router, Router) {
    let mut lan = Lan::with_hosts(2);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.2/24");
    lan.host(2).add_addr("eth0", "192.0.2.50/24");
    let m = Router::start(
        lan.host(0),
        "m",
        &[VrrpSpec::v3(vrid, 200, &format!("{VIP}/24"))],
    );
    let b = Router::start(
        lan.host(1),
        "b",
        &[VrrpSpec::v3(vrid, 100, &format!("{VIP}/24"))],
    );
    m.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
    wait_until(T, "client reaches the VIP on the master", || {
        pings(lan.host(2), VIP)
    });
    assert!(lan.host(0).has_addr("eth0", VIP));
    (lan, m, b)
}

#[test]
fn kill_9_of_the_master_moves_the_vip() {
    if !require_root("kill_9_of_the_master_moves_the_vip") {
        return;
    }
    let (lan, mut m, b) = pair(61);
    m.signal(Signal::SIGKILL);
    m.wait_exit(T);
    let took = b.wait_state("VI_1", "MASTER", T);
    assert!(lan.host(1).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP on the backup", || {
        pings(lan.host(2), VIP)
    });
    // 3 × 100 ms + skew, plus polling slack.
    assert!(took < Duration::from_secs(2), "takeover took {took:?}");
    assert_eq!(
        b.instance("VI_1").unwrap()["last_transition"]["reason"],
        "master_down"
    );
}

#[test]
fn sigterm_hands_over_at_once_and_releases_the_vip() {
    if !require_root("sigterm_hands_over_at_once_and_releases_the_vip") {
        return;
    }
    let (lan, mut m, b) = pair(62);
    // SIGHUP (reload, later) must not kill it with the VIP still assigned.
    m.signal(Signal::SIGHUP);
    wait_until(T, "SIGHUP logged", || m.log().contains("SIGHUP"));
    assert!(m.proc.is_running());
    assert_eq!(m.state("VI_1").as_deref(), Some("MASTER"));
    m.signal(Signal::SIGTERM);
    let status = m.wait_exit(T);
    assert!(status.success(), "belay exited with {status}: {}", m.log());
    assert!(
        !lan.host(0).has_addr("eth0", VIP),
        "stopped master kept the VIP"
    );
    // Priority 0 means the backup takes over after Skew_Time, not after
    // Master_Down_Interval: well under 3 adverts.
    let took = b.wait_state("VI_1", "MASTER", T);
    assert!(took < Duration::from_millis(300), "handover took {took:?}");
    assert!(b.counter("VI_1", "priority_zero_received") >= 1);
    assert!(lan.host(1).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP on the backup", || {
        pings(lan.host(2), VIP)
    });
}

#[test]
fn own_link_down_is_fault_and_the_backup_takes_over() {
    if !require_root("own_link_down_is_fault_and_the_backup_takes_over") {
        return;
    }
    let (lan, m, b) = pair(63);
    lan.host(0).link_set("eth0", false);
    m.wait_state("VI_1", "FAULT", T);
    b.wait_state("VI_1", "MASTER", T);
    assert!(
        !lan.host(0).has_addr("eth0", VIP),
        "faulted master kept the VIP"
    );
    assert!(lan.host(1).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP on the backup", || {
        pings(lan.host(2), VIP)
    });
    // Link back: the higher priority preempts again.
    lan.host(0).link_set("eth0", true);
    m.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
    wait_until(T, "VIP back on h0 only", || {
        lan.host(0).has_addr("eth0", VIP) && !lan.host(1).has_addr("eth0", VIP)
    });
    wait_until(T, "client reaches the VIP again", || {
        pings(lan.host(2), VIP)
    });
}

#[test]
fn cut_bridge_port_moves_the_vip_and_rejoining_settles_on_one_master() {
    if !require_root("cut_bridge_port_moves_the_vip_and_rejoining_settles_on_one_master") {
        return;
    }
    let (lan, m, b) = pair(64);
    lan.unplug(0);
    b.wait_state("VI_1", "MASTER", T);
    wait_until(T, "client reaches the VIP on the backup", || {
        pings(lan.host(2), VIP)
    });
    // The cut master still sees its link up: it is not in FAULT, it just
    // hears nobody (split brain until the cable returns).
    assert_eq!(m.state("VI_1").as_deref(), Some("MASTER"));
    lan.plug(0);
    b.wait_state("VI_1", "BACKUP", T);
    wait_until(T, "only h0 holds the VIP", || {
        lan.host(0).has_addr("eth0", VIP) && !lan.host(1).has_addr("eth0", VIP)
    });
    wait_until(T, "client reaches the VIP", || pings(lan.host(2), VIP));
}
