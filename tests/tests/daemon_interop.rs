//! Health-driven handover between belay and the real Keepalived (2.2.7):
//! a belay master whose HTTP service dies hands the VIP to a Keepalived
//! backup on the same bridge, and takes it back when the service returns.
//!
//! Each router runs one service process (`belay-probe respond --http-port`):
//! clients reach it on the VIP over UDP, and the router's health check GETs it
//! on 127.0.0.1 (belay: the stock `http` check every 100 ms, fall 1, weight
//! −60 from priority 150, `resign_below = 100`; Keepalived: a `vrrp_script`
//! running curl). Killing it kills both at once, as a real crash would.

use std::time::{Duration, Instant};

use belay_tests::belay::INSTANCE;
use belay_tests::failover::{
    self, FailoverLab, HEALTH_MASTER_PRIORITY, HEALTH_WEIGHT, HealthSpec, Impl, Mode, R1, R2, VIP,
};
use belay_tests::probe::{DEFAULT_PORT, Responder, mono_ns};
use belay_tests::{pings, require_root, wait_until};

fn belay_master_hands_over_to_keepalived(mode: Mode) {
    // belay's default resign_below ("auto"): it has never heard Keepalived
    // (a backup is silent), so the drop itself resigns.
    let health = HealthSpec::bench();
    assert_eq!(health.resign_below, None);
    let mut lab = FailoverLab::with_health([Impl::Belay, Impl::Keepalived], &mode, health.clone());
    lab.elect();
    assert!(lab.lan.host(R1).has_addr("eth0", VIP));
    let p = lab.patience();

    // The service dies; belay's check fails and it resigns; Keepalived takes
    // over and the client gets steady replies from it (`service_death`
    // returns only then, with r1 back to BACKUP).
    let s = failover::service_death(&mut lab);
    eprintln!("{}: {s:?}", mode.name);

    wait_until(p, "only the Keepalived router holds the VIP", || {
        lab.lan.host(R2).has_addr("eth0", VIP) && !lab.lan.host(R1).has_addr("eth0", VIP)
    });
    assert!(
        pings(lab.lan.host(failover::CLIENT), VIP),
        "the client cannot ping the VIP on the Keepalived router"
    );
    // belay resigned: a priority-0 advert on the wire, not just a lower one.
    assert_eq!(
        s.lowered_advert_priority,
        Some(0),
        "belay did not send a priority-0 advert: {s:?}"
    );
    // ... and Keepalived acted on it within its skew time, not after its
    // master-down interval (RFC 5798 §6.4.2): the resignation is what moved
    // the VIP.
    let master_down = lab.specs[R2].master_down().as_secs_f64() * 1e3;
    let handover = s.takeover_ms - s.lowered_advert_ms.expect("a lowered advert");
    assert!(
        handover < master_down,
        "Keepalived took {handover:.1} ms after belay's priority-0 advert (master-down {master_down:.1} ms): {s:?}\n{}",
        lab.daemon(R2).log_text()
    );

    // belay says why, in its log and its status.
    let belay = lab.daemon(R1).as_belay().expect("belay on r1");
    let low = i32::from(HEALTH_MASTER_PRIORITY) + HEALTH_WEIGHT;
    let says_why = |log: &str| {
        log.lines().any(|l| {
            l.contains("tracking: priority changed")
                && l.contains("check web failing")
                && l.contains(&format!("to={low}"))
        }) && log.contains("handing over")
    };
    // The log reaches its file a little after the state change.
    let told = eventually(p, || says_why(&belay.router.log()));
    assert!(
        told,
        "belay's log does not say why it handed over:\n{}",
        belay.router.log()
    );
    let st = belay.router.instance(INSTANCE).expect("belay status");
    assert_eq!(st["state"], "BACKUP", "{st}");
    assert_eq!(st["last_transition"]["reason"], "resigned", "{st}");
    assert!(
        st["tracking"]["explain"]
            .as_str()
            .is_some_and(|e| e.contains("check web failing")),
        "{st}"
    );
    let checks = &belay.router.status().expect("status")["checks"];
    assert_eq!(checks[0]["state"], "down", "{checks}");

    // The service comes back: belay's check passes, its priority returns to
    // 150 and it preempts the Keepalived master.
    let t_back = mono_ns();
    lab.responders[R1] = Some(Responder::start_with(
        lab.lan.host(R1),
        "r1",
        DEFAULT_PORT,
        Some(health.http_port),
    ));
    lab.daemon(R1).wait_master(t_back, p);
    lab.daemon(R2).wait_backup(p);
    lab.prober().wait_steady("r1", 100, t_back, p);
    wait_until(p, "only belay holds the VIP again", || {
        lab.lan.host(R1).has_addr("eth0", VIP) && !lab.lan.host(R2).has_addr("eth0", VIP)
    });
}

/// Polls `cond` until true or `timeout`; returns the last answer.
fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// Looks up a benchmark mode by name.
fn mode(name: &str) -> Mode {
    *failover::MODES
        .iter()
        .find(|m| m.name == name)
        .expect("known mode")
}

#[test]
fn belay_master_with_failing_check_hands_over_to_keepalived_v3() {
    if !require_root("belay_master_with_failing_check_hands_over_to_keepalived_v3") {
        return;
    }
    belay_master_hands_over_to_keepalived(mode("v3-100ms"));
}

#[test]
fn belay_master_with_failing_check_hands_over_to_keepalived_v2() {
    if !require_root("belay_master_with_failing_check_hands_over_to_keepalived_v2") {
        return;
    }
    belay_master_hands_over_to_keepalived(mode("v2-1s"));
}
