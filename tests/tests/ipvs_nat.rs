//! The IPVS engine on a real NAT data path inside UML: a client namespace
//! reaches a VIP on the director namespace, which balances to real-server
//! namespaces running real TCP servers.
//!
//! These tests drive the engine's *health view* directly (real checks in the
//! real daemon drive it in `ipvs_daemon.rs`): `health_view_driven` in their
//! names says so. The
//! backends are really stopped and started, and every assertion is about
//! where real connections land and what the kernel table says.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use belay::ipvs::desired::VirtualServerStatus;
use belay::ipvs::engine::{self, Engine, Inputs, Options};
use belay::ipvs::health::RsState;
use belay::ipvs::{
    Dest, Forward, HealthView, Protocol, RealServerSpec, RsHealth, RsId, Scheduler, Service,
    ServiceKey, SorryServerSpec, VirtualServerSpec,
};
use belay_tests::ipvs_lab::{Backend, Lab, VIP, dest_line, rs_addr, sorry_addr};
use belay_tests::uml::{self, EnterNetns};
use belay_tests::{require_root, wait_until};
use tokio::sync::watch;

const INNER: &[&str] = &[
    "kernel_nat_health_view_driven_failed_backend_is_removed_and_restored",
    "kernel_nat_health_view_driven_inhibit_on_failure_sets_weight_zero",
    "kernel_nat_health_view_driven_quorum_loss_switches_to_sorry_server",
    "kernel_engine_programs_only_while_master_and_cleans_up_on_stop",
];

#[test]
fn ipvs_nat_data_path_in_uml() {
    if uml::in_uml() || !require_root("ipvs_nat_data_path_in_uml") {
        return;
    }
    uml::run_inner_tests("ipvs-nat", INNER, &[]).assert_tests_passed(INNER.len());
}

fn spec(quorum: u64, inhibit: bool, sorry: bool) -> VirtualServerSpec {
    VirtualServerSpec {
        name: "www".into(),
        service: Service::new(
            ServiceKey::Inet {
                protocol: Protocol::Tcp,
                addr: VIP.parse().unwrap(),
            },
            Scheduler::Rr,
        ),
        real_servers: (0..2)
            .map(|i| RealServerSpec {
                dest: Dest::new(rs_addr(i), Forward::Masq, 1 + i as u32),
                inhibit_on_failure: inhibit,
                checks: vec![format!("rs{i}")],
            })
            .collect(),
        sorry_server: sorry.then(|| SorryServerSpec {
            dest: Dest::new(sorry_addr(), Forward::Masq, 1),
            inhibit: false,
        }),
        quorum,
        hysteresis: 0,
        alpha: false,
        omega: true,
        only_when_master: None,
    }
}

/// The engine running in the director's namespace, fed by channels the
/// test holds.
struct Running {
    rt: tokio::runtime::Runtime,
    engine: Option<Engine>,
    health: watch::Sender<HealthView>,
    master: watch::Sender<bool>,
    _specs: watch::Sender<Arc<Vec<VirtualServerSpec>>>,
}

impl Running {
    fn start(lab: &Lab, spec: VirtualServerSpec) -> Running {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let client = {
            let _in = EnterNetns::new(&lab.lb);
            engine::connect().expect("IPVS in the director namespace")
        };
        let (specs_tx, specs) = watch::channel(Arc::new(vec![spec]));
        let mut h = HealthView::new();
        for i in 0..2 {
            h.set(RsId::new("www", rs_addr(i)), RsHealth::UP);
        }
        let (health, health_rx) = watch::channel(h);
        let (master, master_rx) = watch::channel(false);
        let inputs = Inputs {
            specs,
            health: health_rx,
            masters: [("VI_1".to_owned(), master_rx)].into(),
        };
        let opts = Options {
            resync: Duration::from_secs(3600),
            retry: Duration::from_millis(100),
        };
        let engine = {
            let _g = rt.enter();
            Engine::spawn(client, inputs, opts)
        };
        let r = Running {
            rt,
            engine: Some(engine),
            health,
            master,
            _specs: specs_tx,
        };
        r.wait_status("first reconcile", |st| {
            st.len() == 1 && st[0].real_servers.iter().all(|rs| rs.health == RsState::Up)
        });
        r
    }

    /// Waits until the engine publishes a status (published only after
    /// the kernel was reconciled for it) that satisfies `pred`.
    fn wait_status(&self, what: &str, pred: impl FnMut(&Vec<VirtualServerStatus>) -> bool) {
        let mut rx = self.engine.as_ref().unwrap().status();
        self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), rx.wait_for(pred))
                .await
                .unwrap_or_else(|_| panic!("engine did not reach `{what}` within 10s"))
                .expect("engine alive");
        });
    }

    fn set_health(&self, i: usize, h: RsHealth) {
        self.health
            .send_modify(|v| v.set(RsId::new("www", rs_addr(i)), h));
        self.wait_status("health applied", |st| {
            let rs = &st[0].real_servers[i];
            rs.health == h.state && h.weight.is_none_or(|w| i64::from(rs.weight) == w)
        });
    }

    fn set_master(&self, m: bool) {
        self.master.send_replace(m);
        self.wait_status("mastership applied", |st| st[0].active == m);
    }

    fn stop(mut self) {
        let e = self.engine.take().unwrap();
        self.rt.block_on(e.stop()).expect("clean stop");
    }
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_nat_data_path_in_uml"]
fn kernel_nat_health_view_driven_failed_backend_is_removed_and_restored() {
    let lab = Lab::new();
    let _b0 = Backend::start(&lab.rs[0], "rs0", rs_addr(0));
    let b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    let run = Running::start(&lab, spec(1, false, false));
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(0)).as_deref(), Some("Masq 1"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("rs0"), Some(&3), "rr over both: {seen:?}");
    assert_eq!(seen.get("rs1"), Some(&3), "rr over both: {seen:?}");

    // rs1 dies; its health goes down; it leaves the table.
    drop(b1);
    run.set_health(1, RsHealth::DOWN);
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)), None, "{t}");
    let seen = lab.fetch(6);
    assert_eq!(
        seen,
        BTreeMap::from([("rs0".to_owned(), 6)]),
        "all new connections to the healthy one"
    );

    // rs1 comes back with its configured weight.
    let _b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    run.set_health(1, RsHealth::UP);
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 2"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("rs1"), Some(&3), "{seen:?}");

    // A plugin's dynamic weight becomes the kernel weight.
    run.set_health(1, RsHealth::up_with_weight(7));
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 7"), "{t}");
    run.stop();
    assert!(
        !lab.table().contains("192.0.2.1:80"),
        "service left behind after stop"
    );
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_nat_data_path_in_uml"]
fn kernel_nat_health_view_driven_inhibit_on_failure_sets_weight_zero() {
    let lab = Lab::new();
    let _b0 = Backend::start(&lab.rs[0], "rs0", rs_addr(0));
    let b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    let run = Running::start(&lab, spec(1, true, false));
    drop(b1);
    run.set_health(1, RsHealth::DOWN);
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 0"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(
        seen,
        BTreeMap::from([("rs0".to_owned(), 6)]),
        "weight 0 gets no new connections"
    );
    let _b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    run.set_health(1, RsHealth::UP);
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 2"), "{t}");
    run.stop();
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_nat_data_path_in_uml"]
fn kernel_nat_health_view_driven_quorum_loss_switches_to_sorry_server() {
    let lab = Lab::new();
    let _b0 = Backend::start(&lab.rs[0], "rs0", rs_addr(0));
    let b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    let _s = Backend::start(&lab.sorry, "sorry", sorry_addr());
    // Weights 1 + 2; quorum 2: losing rs1 (weight 2) leaves 1 < 2.
    let run = Running::start(&lab, spec(2, false, true));
    let t = lab.table();
    assert_eq!(
        dest_line(&t, sorry_addr()),
        None,
        "sorry server unused with quorum:\n{t}"
    );

    drop(b1);
    run.set_health(1, RsHealth::DOWN);
    let t = lab.table();
    assert_eq!(
        dest_line(&t, rs_addr(0)),
        None,
        "live servers leave when quorum is lost:\n{t}"
    );
    assert!(dest_line(&t, sorry_addr()).is_some(), "{t}");
    let seen = lab.fetch(4);
    assert_eq!(seen, BTreeMap::from([("sorry".to_owned(), 4)]));
    let status = run.engine.as_ref().unwrap().status().borrow().clone();
    assert!(
        !status[0].quorum_up && status[0].sorry_server_active,
        "{status:?}"
    );

    let _b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    run.set_health(1, RsHealth::UP);
    let t = lab.table();
    assert_eq!(dest_line(&t, sorry_addr()), None, "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("sorry"), None, "{seen:?}");
    assert_eq!(seen.values().sum::<usize>(), 6, "{seen:?}");
    run.stop();
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_nat_data_path_in_uml"]
fn kernel_engine_programs_only_while_master_and_cleans_up_on_stop() {
    let lab = Lab::new();
    // A foreign service in the director's table must survive everything.
    lab.lb
        .exec("ipvsadm", &["-A", "-u", "192.0.2.1:53", "-s", "rr"]);
    let mut s = spec(1, false, false);
    s.only_when_master = Some("VI_1".into());
    let run = Running::start(&lab, s);
    let t = lab.table();
    assert!(!t.contains("192.0.2.1:80"), "programmed while backup:\n{t}");
    run.set_master(true);
    let t = lab.table();
    assert!(
        t.contains("TCP  192.0.2.1:80 rr"),
        "not programmed as master:\n{t}"
    );
    run.set_master(false);
    let t = lab.table();
    assert!(
        !t.contains("192.0.2.1:80"),
        "still programmed after losing master:\n{t}"
    );
    run.set_master(true);
    run.stop();
    wait_until(Duration::from_secs(2), "table cleaned", || {
        !lab.table().contains("192.0.2.1:80")
    });
    assert!(
        lab.table().contains("UDP  192.0.2.1:53 rr"),
        "foreign service removed"
    );
}
