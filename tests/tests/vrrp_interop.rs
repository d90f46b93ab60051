//! Interop with the real Keepalived on one bridge.

use std::net::SocketAddr;
use std::time::Duration;

use belay_tests::keepalived::{Keepalived, KeepalivedSpec, VrrpState};
use belay_tests::probe::{DEFAULT_PORT, Prober, Responder, mono_ns};
use belay_tests::{Lan, require_root};

const VIP: &str = "192.0.2.100";

#[test]
fn keepalived_pair_fails_over_on_kill9() {
    if !require_root("keepalived_pair_fails_over_on_kill9") {
        return;
    }
    let mut lan = Lan::new();
    let r1 = lan.add_host("r1");
    let r2 = lan.add_host("r2");
    let c = lan.add_host("client");
    lan.host(r1).add_addr("eth0", "192.0.2.1/24");
    lan.host(r2).add_addr("eth0", "192.0.2.2/24");
    lan.host(c).add_addr("eth0", "192.0.2.10/24");
    let _resp1 = Responder::start(lan.host(r1), "r1", DEFAULT_PORT);
    let _resp2 = Responder::start(lan.host(r2), "r2", DEFAULT_PORT);
    let adv = Duration::from_millis(100);
    let vip = format!("{VIP}/24");
    let ka2 = Keepalived::start(
        lan.host(r2),
        "r2",
        &KeepalivedSpec::new(51, 100, &[&vip]).advert(adv),
    );
    let mut ka1 = Keepalived::start(
        lan.host(r1),
        "r1",
        &KeepalivedSpec::new(51, 200, &[&vip]).advert(adv),
    );
    ka1.wait_state(VrrpState::Master, Duration::from_secs(5));
    ka2.wait_state(VrrpState::Backup, Duration::from_secs(5));
    let target: SocketAddr = format!("{VIP}:{DEFAULT_PORT}").parse().unwrap();
    let prober = Prober::start(lan.host(c), target, Duration::from_millis(1), Some("eth0"));
    prober.wait_steady("r1", 50, 0, Duration::from_secs(5));
    let t = mono_ns();
    ka1.kill9();
    let first = prober.wait_first_reply("r2", t, Duration::from_secs(5));
    let takeover = (first.at - t) as f64 / 1e6;
    eprintln!(
        "takeover {takeover:.1} ms; adverts {}",
        prober.with_log(|l| l.adverts.len())
    );
    assert!(
        takeover > 200.0 && takeover < 1000.0,
        "takeover {takeover} ms"
    );
}
