use super::*;
use crate::ipvs::{
    Dest, Forward, Protocol, RealServerSpec, RsHealth, Scheduler, Service, ServiceKey,
    SorryServerSpec,
};

fn key() -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "192.0.2.1:80".parse().unwrap(),
    }
}

fn addr(last: u8) -> SocketAddr {
    format!("198.51.100.{last}:8080").parse().unwrap()
}

fn rs(last: u8, weight: u32, inhibit: bool) -> RealServerSpec {
    RealServerSpec {
        dest: Dest::new(addr(last), Forward::Masq, weight),
        inhibit_on_failure: inhibit,
        checks: vec![format!("c{last}")],
    }
}

fn spec(real_servers: Vec<RealServerSpec>) -> VirtualServerSpec {
    VirtualServerSpec {
        name: "www".into(),
        service: Service::new(key(), Scheduler::Wrr),
        real_servers,
        sorry_server: None,
        quorum: 1,
        hysteresis: 0,
        alpha: false,
        omega: false,
        only_when_master: None,
    }
}

fn sorry(inhibit: bool) -> SorryServerSpec {
    SorryServerSpec {
        dest: Dest::new("203.0.113.9:80".parse().unwrap(), Forward::Masq, 1),
        inhibit,
    }
}

fn health(states: &[(u8, RsHealth)]) -> HealthView {
    let mut h = HealthView::new();
    for (last, s) in states {
        h.set(RsId::new("www", addr(*last)), *s);
    }
    h
}

fn weights(e: &Evaluation) -> Vec<(SocketAddr, u32)> {
    e.table
        .get(&key())
        .map(|vs| vs.dests.values().map(|d| (d.addr, d.weight)).collect())
        .unwrap_or_default()
}

fn always(_: &str) -> bool {
    true
}

const UP: RsHealth = RsHealth::UP;
const DOWN: RsHealth = RsHealth::DOWN;

#[test]
fn failing_real_server_is_removed_and_restored_with_its_weight() {
    let mut d = Desired::new(vec![spec(vec![rs(2, 3, false), rs(3, 1, false)])]);
    let e = d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 3), (addr(3), 1)]);

    let e = d.evaluate(&health(&[(2, DOWN), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(3), 1)]);
    assert_eq!(
        e.events,
        vec![Event::RealServerDown {
            vs: "www".into(),
            rs: addr(2)
        }]
    );

    let e = d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 3), (addr(3), 1)]);
    assert_eq!(
        e.events,
        vec![Event::RealServerUp {
            vs: "www".into(),
            rs: addr(2)
        }]
    );
}

#[test]
fn inhibit_on_failure_keeps_weight_zero() {
    let mut d = Desired::new(vec![spec(vec![rs(2, 3, true), rs(3, 1, false)])]);
    let e = d.evaluate(&health(&[(2, DOWN), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 0), (addr(3), 1)]);
    let e = d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 3), (addr(3), 1)]);
}

#[test]
fn dynamic_weight_replaces_configured_weight() {
    let mut d = Desired::new(vec![spec(vec![rs(2, 3, false)])]);
    d.evaluate(&health(&[(2, UP)]), always);
    let e = d.evaluate(&health(&[(2, RsHealth::up_with_weight(7))]), always);
    assert_eq!(weights(&e), vec![(addr(2), 7)]);
    assert_eq!(
        e.events,
        vec![Event::WeightChanged {
            vs: "www".into(),
            rs: addr(2),
            from: 3,
            to: 7
        }]
    );
    // Negative and huge weights are clamped to what the kernel takes.
    let e = d.evaluate(&health(&[(2, RsHealth::up_with_weight(-5))]), always);
    assert_eq!(weights(&e), vec![(addr(2), 0)]);
    let e = d.evaluate(&health(&[(2, RsHealth::up_with_weight(1 << 40))]), always);
    assert_eq!(weights(&e), vec![(addr(2), i32::MAX as u32)]);
}

#[test]
fn pending_is_up_unless_alpha() {
    let mut d = Desired::new(vec![spec(vec![rs(2, 1, false)])]);
    let e = d.evaluate(&HealthView::new(), always);
    assert_eq!(weights(&e), vec![(addr(2), 1)]);

    let mut s = spec(vec![rs(2, 1, false), rs(3, 1, true)]);
    s.alpha = true;
    let mut d = Desired::new(vec![s]);
    let e = d.evaluate(&HealthView::new(), always);
    assert_eq!(
        weights(&e),
        vec![(addr(3), 0)],
        "alpha: down until first success"
    );
    assert!(
        e.events.is_empty(),
        "pending is not a failure: {:?}",
        e.events
    );
    let e = d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 1), (addr(3), 1)]);
}

#[test]
fn real_servers_without_checks_are_always_alive() {
    let mut r = rs(2, 4, false);
    r.checks.clear();
    let mut d = Desired::new(vec![spec(vec![r])]);
    let e = d.evaluate(&health(&[(2, DOWN)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 4)]);
}

#[test]
fn quorum_loss_brings_in_sorry_server_and_gain_takes_it_out() {
    let mut s = spec(vec![rs(2, 1, false), rs(3, 1, true)]);
    s.quorum = 2;
    s.sorry_server = Some(sorry(false));
    let mut d = Desired::new(vec![s]);
    let sorry_addr: SocketAddr = "203.0.113.9:80".parse().unwrap();

    let e = d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 1), (addr(3), 1)]);
    assert!(e.status[0].quorum_up);

    // 1 < 2: quorum lost; live servers leave (the inhibited one stays at 0).
    let e = d.evaluate(&health(&[(2, UP), (3, DOWN)]), always);
    assert_eq!(weights(&e), vec![(addr(3), 0), (sorry_addr, 1)]);
    assert!(e.events.contains(&Event::QuorumLost {
        vs: "www".into(),
        weight_sum: 1,
        threshold: 2
    }));
    assert!(e.status[0].sorry_server_active);

    let e = d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 1), (addr(3), 1)]);
    assert!(e.events.contains(&Event::QuorumGained {
        vs: "www".into(),
        weight_sum: 2,
        threshold: 2
    }));
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let mut s = spec(vec![rs(2, 1, false)]);
    s.sorry_server = Some(sorry(true));
    let mut d = Desired::new(vec![s]);
    let sorry_addr: SocketAddr = "203.0.113.9:80".parse().unwrap();
    let e = d.evaluate(&health(&[(2, UP)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 1), (sorry_addr, 0)]);
    let e = d.evaluate(&health(&[(2, DOWN)]), always);
    assert_eq!(weights(&e), vec![(sorry_addr, 1)]);
}

#[test]
fn hysteresis_widens_the_band() {
    // quorum 3, hysteresis 1: gain at >= 4, lose below 2.
    let mut s = spec(vec![
        rs(2, 1, false),
        rs(3, 1, false),
        rs(4, 1, false),
        rs(5, 1, false),
    ]);
    s.quorum = 3;
    s.hysteresis = 1;
    s.sorry_server = Some(sorry(false));
    let mut d = Desired::new(vec![s]);
    let all = |n: u8| {
        let v: Vec<(u8, RsHealth)> = (2..6)
            .map(|i| (i, if i < 2 + n { UP } else { DOWN }))
            .collect();
        health(&v)
    };
    assert!(d.evaluate(&all(4), always).status[0].quorum_up);
    assert!(d.evaluate(&all(3), always).status[0].quorum_up);
    assert!(
        d.evaluate(&all(2), always).status[0].quorum_up,
        "2 is not below 2"
    );
    assert!(!d.evaluate(&all(1), always).status[0].quorum_up);
    assert!(!d.evaluate(&all(2), always).status[0].quorum_up);
    assert!(
        !d.evaluate(&all(3), always).status[0].quorum_up,
        "3 < 4: still down"
    );
    assert!(d.evaluate(&all(4), always).status[0].quorum_up);
}

#[test]
fn starting_below_quorum_starts_with_the_sorry_server() {
    let mut s = spec(vec![rs(2, 1, false)]);
    s.quorum = 5;
    s.sorry_server = Some(sorry(false));
    let mut d = Desired::new(vec![s]);
    let e = d.evaluate(&health(&[(2, UP)]), always);
    assert_eq!(weights(&e), vec![("203.0.113.9:80".parse().unwrap(), 1)]);
}

#[test]
fn without_sorry_server_losing_quorum_changes_nothing_in_the_table() {
    let mut s = spec(vec![rs(2, 1, false), rs(3, 1, false)]);
    s.quorum = 2;
    let mut d = Desired::new(vec![s]);
    d.evaluate(&health(&[(2, UP), (3, UP)]), always);
    let e = d.evaluate(&health(&[(2, UP), (3, DOWN)]), always);
    assert_eq!(weights(&e), vec![(addr(2), 1)]);
    assert!(!e.status[0].quorum_up);
}

#[test]
fn only_when_master_withdraws_and_restores() {
    let mut s = spec(vec![rs(2, 1, false)]);
    s.only_when_master = Some("VI_1".into());
    let mut d = Desired::new(vec![s]);
    let e = d.evaluate(&health(&[(2, UP)]), |_| false);
    assert!(e.table.is_empty());
    assert!(!e.status[0].active);
    let e = d.evaluate(&health(&[(2, UP)]), |vi| vi == "VI_1");
    assert_eq!(weights(&e), vec![(addr(2), 1)]);
    assert_eq!(e.events, vec![Event::Activated { vs: "www".into() }]);
    let e = d.evaluate(&health(&[(2, UP)]), |_| false);
    assert!(e.table.is_empty());
    assert_eq!(e.events, vec![Event::Withdrawn { vs: "www".into() }]);
}

#[test]
fn omega_reports_everything_down_on_stop() {
    let mut s = spec(vec![rs(2, 1, false), rs(3, 1, false)]);
    s.omega = true;
    let mut plain = s.clone();
    plain.name = "plain".into();
    plain.omega = false;
    plain.service.key = ServiceKey::Fwmark {
        family: crate::ipvs::Family::Ipv4,
        mark: 1,
    };
    let mut d = Desired::new(vec![s, plain]);
    d.evaluate(&health(&[(2, UP), (3, DOWN)]), always);
    let events = d.stop();
    assert_eq!(
        events,
        vec![
            Event::RealServerDown {
                vs: "www".into(),
                rs: addr(2)
            },
            Event::QuorumLost {
                vs: "www".into(),
                weight_sum: 0,
                threshold: 1
            },
        ]
    );
}

#[test]
fn reload_keeps_state_of_unchanged_servers() {
    let mut s = spec(vec![rs(2, 1, false), rs(3, 1, false)]);
    s.quorum = 2;
    s.hysteresis = 0;
    s.sorry_server = Some(sorry(false));
    let mut d = Desired::new(vec![s.clone()]);
    d.evaluate(&health(&[(2, UP), (3, DOWN)]), always);
    // Reload adding a server: no spurious events for the known ones.
    s.real_servers.push(rs(4, 1, false));
    d.reconfigure(vec![s]);
    let e = d.evaluate(&health(&[(2, UP), (3, DOWN), (4, UP)]), always);
    assert!(e.status[0].quorum_up);
    assert_eq!(
        e.events,
        vec![Event::QuorumGained {
            vs: "www".into(),
            weight_sum: 2,
            threshold: 2
        }]
    );
}
