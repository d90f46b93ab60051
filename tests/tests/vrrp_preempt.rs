//! Preemption: a higher-priority router that comes back takes the VIP back
//! (at once, after its preempt delay, or never with preempt = false).

use std::time::{Duration, Instant};

use belay_tests::{Lan, Router, VrrpSpec, pings, require_root, wait_until};
use nix::sys::signal::Signal;

const VIP: &str = "192.0.2.100";
const T: Duration = Duration::from_secs(5);

/// h0 (200, `hi`) and h1 (100) with h1 as the running master and h0 not yet
/// started; h2 is the client.
fn backup_is_master(vrid: u8) -> (Lan, Router) {
    let mut lan = Lan::with_hosts(2);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.2/24");
    lan.host(2).add_addr("eth0", "192.0.2.50/24");
    let b = Router::start(
        lan.host(1),
        "b",
        &[VrrpSpec::v3(vrid, 100, &format!("{VIP}/24"))],
    );
    b.wait_state("VI_1", "MASTER", T);
    wait_until(T, "client reaches the VIP on h1", || {
        pings(lan.host(2), VIP)
    });
    (lan, b)
}

#[test]
fn higher_priority_preempts_back() {
    if !require_root("higher_priority_preempts_back") {
        return;
    }
    let (lan, b) = backup_is_master(71);
    let hi = Router::start(
        lan.host(0),
        "hi",
        &[VrrpSpec::v3(71, 200, &format!("{VIP}/24"))],
    );
    hi.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
    assert_eq!(
        hi.instance("VI_1").unwrap()["last_transition"]["reason"],
        "preempt"
    );
    wait_until(T, "VIP only on h0", || {
        lan.host(0).has_addr("eth0", VIP) && !lan.host(1).has_addr("eth0", VIP)
    });
    wait_until(T, "client reaches the VIP on h0", || {
        pings(lan.host(2), VIP)
    });
}

#[test]
fn nopreempt_leaves_the_running_master_alone() {
    if !require_root("nopreempt_leaves_the_running_master_alone") {
        return;
    }
    let (lan, b) = backup_is_master(72);
    let mut spec = VrrpSpec::v3(72, 200, &format!("{VIP}/24"));
    spec.preempt = false;
    let hi = Router::start(lan.host(0), "hi", &[spec]);
    hi.wait_state("VI_1", "BACKUP", T);
    // Well past Master_Down_Interval (~0.35 s) and several adverts: still backup.
    let adverts = hi.counter("VI_1", "adverts_received");
    wait_until(T, "hi hears 10 more adverts", || {
        hi.counter("VI_1", "adverts_received") >= adverts + 10
    });
    assert_eq!(hi.state("VI_1").as_deref(), Some("BACKUP"));
    assert_eq!(b.state("VI_1").as_deref(), Some("MASTER"));
    assert!(lan.host(1).has_addr("eth0", VIP));
    assert!(!lan.host(0).has_addr("eth0", VIP));
    // But it does take over when the master goes away.
    b.signal(Signal::SIGTERM);
    hi.wait_state("VI_1", "MASTER", T);
    wait_until(T, "client reaches the VIP on h0", || {
        pings(lan.host(2), VIP)
    });
}

#[test]
fn preempt_delay_postpones_the_takeover() {
    if !require_root("preempt_delay_postpones_the_takeover") {
        return;
    }
    let (lan, b) = backup_is_master(73);
    let mut spec = VrrpSpec::v3(73, 200, &format!("{VIP}/24"));
    spec.preempt_delay = Some("1500ms".into());
    let started = Instant::now();
    let hi = Router::start(lan.host(0), "hi", &[spec]);
    hi.wait_state("VI_1", "BACKUP", T);
    hi.wait_state("VI_1", "MASTER", T);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500),
        "preempted after {took:?}, before its 1.5 s delay"
    );
    b.wait_state("VI_1", "BACKUP", T);
    wait_until(T, "VIP only on h0", || {
        lan.host(0).has_addr("eth0", VIP) && !lan.host(1).has_addr("eth0", VIP)
    });
}
