//! Interop with the real Keepalived (2.2.7) on one bridge: people migrate one
//! node at a time, so a belay router and a Keepalived router must elect, fail
//! over and hand back the VIP between them exactly as two of a kind would.
//!
//! Every scenario runs a responder on each router and a 1 ms UDP prober on a
//! client, so "the client reaches the VIP on router X" is observed, not assumed.

use std::net::SocketAddr;
use std::time::Duration;

use belay_tests::belay::Belay;
use belay_tests::failover::{RouterSpec, VrrpDaemon};
use belay_tests::keepalived::{Keepalived, VrrpState};
use belay_tests::probe::{DEFAULT_PORT, Prober, Responder, mono_ns};
use belay_tests::{Cable, Lan, Netns, require_root, wait_until};

/// One router of the pair: belay or Keepalived.
enum Peer {
    Belay(Belay),
    Keepalived(Keepalived),
}

impl Peer {
    fn start(kind: Kind, ns: &Netns, spec: &RouterSpec) -> Peer {
        match kind {
            Kind::Belay => Peer::Belay(Belay::start(ns, spec)),
            Kind::Keepalived => {
                Peer::Keepalived(Keepalived::start(ns, &spec.name, &spec.keepalived()))
            }
        }
    }

    fn d(&self) -> &dyn VrrpDaemon {
        match self {
            Peer::Belay(b) => b,
            Peer::Keepalived(k) => k,
        }
    }

    fn d_mut(&mut self) -> &mut dyn VrrpDaemon {
        match self {
            Peer::Belay(b) => b,
            Peer::Keepalived(k) => k,
        }
    }

    fn belay(&self) -> &Belay {
        match self {
            Peer::Belay(b) => b,
            Peer::Keepalived(_) => panic!("not a belay peer"),
        }
    }

    fn keepalived(&self) -> &Keepalived {
        match self {
            Peer::Keepalived(k) => k,
            Peer::Belay(_) => panic!("not a keepalived peer"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Belay,
    Keepalived,
}

/// IPv4 or IPv6 addressing for the lab.
#[derive(Clone, Copy)]
struct Family {
    router_ips: [&'static str; 2],
    client_ip: &'static str,
    vip: &'static str,
    prefix: u8,
}

const V4: Family = Family {
    router_ips: ["192.0.2.1", "192.0.2.2"],
    client_ip: "192.0.2.10",
    vip: "192.0.2.100",
    prefix: 24,
};

const V6: Family = Family {
    router_ips: ["2001:db8::1", "2001:db8::2"],
    client_ip: "2001:db8::10",
    vip: "2001:db8::100",
    prefix: 64,
};

/// Two routers (`h0`, `h1`) and a client on one bridge, each router with a
/// responder named after it.
struct Pair {
    lan: Lan,
    fam: Family,
    specs: [RouterSpec; 2],
    kinds: [Kind; 2],
    peers: [Option<Peer>; 2],
    _responders: [Responder; 2],
    prober: Option<Prober>,
}

const CLIENT: usize = 2;

impl Pair {
    /// `kinds[i]` runs on `h{i}` with `priorities[i]`.
    fn new(
        fam: Family,
        version: u8,
        advert: Duration,
        kinds: [Kind; 2],
        priorities: [u8; 2],
        vrid: u8,
    ) -> Pair {
        let mut lan = Lan::new();
        for (role, ip) in [
            ("h0", fam.router_ips[0]),
            ("h1", fam.router_ips[1]),
            ("client", fam.client_ip),
        ] {
            let i = lan.add_host(role);
            lan.host(i)
                .add_addr("eth0", &format!("{ip}/{}", fam.prefix));
        }
        if fam.vip.contains(':') {
            // VRRP over IPv6 speaks from the link-local address: wait for DAD.
            for i in 0..3 {
                let ns = lan.host(i);
                wait_until(Duration::from_secs(10), "IPv6 link-local ready", || {
                    ns.ip(&["-6", "addr", "show", "dev", "eth0", "tentative"])
                        .trim()
                        .is_empty()
                });
            }
        }
        let spec = |i: usize| RouterSpec {
            name: format!("h{i}"),
            interface: "eth0".into(),
            vrid,
            priority: priorities[i],
            version,
            advert,
            vips: vec![format!("{}/{}", fam.vip, fam.prefix)],
            preempt: true,
            auth_pass: None,
            unicast: None,
            health: None,
        };
        let responders = [
            Responder::start(lan.host(0), "h0", DEFAULT_PORT),
            Responder::start(lan.host(1), "h1", DEFAULT_PORT),
        ];
        Pair {
            lan,
            fam,
            specs: [spec(0), spec(1)],
            kinds,
            peers: [None, None],
            _responders: responders,
            prober: None,
        }
    }

    fn start(&mut self, i: usize) {
        self.peers[i] = Some(Peer::start(self.kinds[i], self.lan.host(i), &self.specs[i]));
    }

    fn peer(&self, i: usize) -> &Peer {
        self.peers[i].as_ref().expect("peer running")
    }

    fn patience(&self) -> Duration {
        self.specs[0].master_down().max(self.specs[1].master_down()) * 3 + Duration::from_secs(15)
    }

    fn prober(&mut self) -> &Prober {
        if self.prober.is_none() {
            let target = SocketAddr::new(self.fam.vip.parse().expect("vip"), DEFAULT_PORT);
            self.prober = Some(Prober::start(
                self.lan.host(CLIENT),
                target,
                Duration::from_millis(1),
                None,
            ));
        }
        self.prober.as_ref().expect("prober")
    }

    fn holds_vip(&self, i: usize) -> bool {
        self.lan.host(i).has_addr("eth0", self.fam.vip)
    }

    /// `i` is master, the other backup (or gone), only `i` holds the VIP (a
    /// crashed peer keeps its stale copy), and the client gets steady replies
    /// from `i`. Returns when all of that is true.
    #[track_caller]
    fn assert_serves(&mut self, i: usize, since: u64) {
        let o = 1 - i;
        let p = self.patience();
        self.peer(i).d().wait_master(since, p);
        if let Some(other) = &self.peers[o] {
            other.d().wait_backup(p);
        }
        let crashed = self.peers[o].is_none();
        wait_until(p, &format!("only h{i} holds the VIP"), || {
            self.holds_vip(i) && (crashed || !self.holds_vip(o))
        });
        let id = format!("h{i}");
        self.prober().wait_steady(&id, 100, since, p);
    }

    /// The belay peer heard the Keepalived peer's adverts and accepted them
    /// all: none dropped as malformed or mismatched.
    #[track_caller]
    fn assert_belay_accepts_keepalived(&self) {
        let b = (0..2)
            .find(|i| self.kinds[*i] == Kind::Belay)
            .expect("a belay peer");
        let belay = self.peer(b).belay();
        for reason in [
            "bad_checksum",
            "bad_version",
            "version_mismatch",
            "auth_mismatch",
            "interval_mismatch",
            "count_mismatch",
            "truncated",
            "ttl_not_255",
        ] {
            assert_eq!(
                belay.counter(reason),
                0,
                "belay dropped Keepalived adverts as {reason}; status: {:?}",
                belay.router.status()
            );
        }
    }
}

/// Election, kill -9 of the master (the backup takes over), the old master
/// back (it preempts; no outage), SIGTERM of the master (priority 0: the
/// backup takes over within skew time, not master-down time).
fn failover_both_ways(fam: Family, version: u8, advert: Duration, kinds: [Kind; 2], vrid: u8) {
    let mut pair = Pair::new(fam, version, advert, kinds, [200, 100], vrid);
    let t0 = mono_ns();
    pair.start(1);
    pair.start(0);
    pair.assert_serves(0, t0);
    // The backup must have heard the master, whichever kind each is.
    if kinds[1] == Kind::Belay {
        let b = pair.peer(1).belay();
        wait_until(
            pair.patience(),
            "belay backup receives Keepalived adverts",
            || b.counter("adverts_received") >= 2,
        );
        let st = b
            .router
            .instance(belay_tests::belay::INSTANCE)
            .expect("status");
        // VRRP over IPv6 speaks from the link-local address.
        let master_ip = if fam.vip.contains(':') {
            link_local(pair.lan.host(0))
        } else {
            fam.router_ips[0].to_owned()
        };
        assert_eq!(
            st["master_address"].as_str(),
            Some(master_ip.as_str()),
            "belay backup does not see the Keepalived master: {st}"
        );
    }

    // kill -9 of the master: the backup takes over.
    let t_kill = mono_ns();
    pair.peers[0].as_mut().expect("peer").d_mut().kill9();
    let killed = pair.peers[0].take();
    pair.assert_serves(1, t_kill);
    if kinds[1] == Kind::Belay {
        pair.assert_belay_accepts_keepalived();
    }
    drop(killed);

    // The old master comes back (as after a reboot: no stale VIP) and takes
    // the VIP back without an outage.
    let vip = format!("{}/{}", fam.vip, fam.prefix);
    if pair.holds_vip(0) {
        pair.lan.host(0).ip(&["addr", "del", &vip, "dev", "eth0"]);
    }
    let t_back = mono_ns();
    pair.start(0);
    pair.assert_serves(0, t_back);
    let lost = pair
        .prober()
        .with_log(|l| l.lost_between(t_back, mono_ns().saturating_sub(200_000_000)));
    // A handover through a gap would lose at least a master-down interval's
    // worth of probes; a clean preemption loses none (a few tolerated for a
    // loaded machine).
    assert!(lost <= 20, "preemption back lost {lost} probes");
    pair.assert_belay_accepts_keepalived();

    // SIGTERM: priority 0, the backup takes over after its skew time.
    let t_term = mono_ns();
    pair.peers[0].as_mut().expect("peer").d_mut().signal_term();
    let first = pair
        .prober()
        .wait_first_reply("h1", t_term, Duration::from_secs(10));
    let took = Duration::from_nanos(first.at - t_term);
    let master_down = pair.specs[1].master_down();
    assert!(
        took < master_down / 2,
        "SIGTERM handover took {took:?}: the backup waited for master-down ({master_down:?}) instead of acting on priority 0"
    );
    pair.peers[0]
        .as_mut()
        .expect("peer")
        .d_mut()
        .wait_exit(Duration::from_secs(10));
    assert!(!pair.holds_vip(0), "the stopped master kept the VIP");
    pair.peers[0] = None;
    pair.assert_serves(1, t_term);
}

/// Like `wait_until`, but returns false on timeout so the caller can say more.
fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

/// The link-local address of `eth0` in `ns`.
fn link_local(ns: &Netns) -> String {
    let out = ns.ip(&["-6", "-br", "addr", "show", "dev", "eth0", "scope", "link"]);
    out.split_whitespace()
        .find(|w| w.starts_with("fe80:"))
        .and_then(|w| w.split('/').next())
        .expect("a link-local address")
        .to_owned()
}

const ADV_V2: Duration = Duration::from_secs(1);
const ADV_V3: Duration = Duration::from_millis(100);

#[test]
fn belay_master_keepalived_backup_v2() {
    if !require_root("belay_master_keepalived_backup_v2") {
        return;
    }
    failover_both_ways(V4, 2, ADV_V2, [Kind::Belay, Kind::Keepalived], 71);
}

#[test]
fn keepalived_master_belay_backup_v2() {
    if !require_root("keepalived_master_belay_backup_v2") {
        return;
    }
    failover_both_ways(V4, 2, ADV_V2, [Kind::Keepalived, Kind::Belay], 72);
}

#[test]
fn belay_master_keepalived_backup_v3() {
    if !require_root("belay_master_keepalived_backup_v3") {
        return;
    }
    failover_both_ways(V4, 3, ADV_V3, [Kind::Belay, Kind::Keepalived], 73);
}

#[test]
fn keepalived_master_belay_backup_v3() {
    if !require_root("keepalived_master_belay_backup_v3") {
        return;
    }
    failover_both_ways(V4, 3, ADV_V3, [Kind::Keepalived, Kind::Belay], 74);
}

#[test]
fn ipv6_v3_belay_master_keepalived_backup() {
    if !require_root("ipv6_v3_belay_master_keepalived_backup") {
        return;
    }
    failover_both_ways(V6, 3, ADV_V3, [Kind::Belay, Kind::Keepalived], 75);
}

#[test]
fn ipv6_v3_keepalived_master_belay_backup() {
    if !require_root("ipv6_v3_keepalived_master_belay_backup") {
        return;
    }
    failover_both_ways(V6, 3, ADV_V3, [Kind::Keepalived, Kind::Belay], 76);
}

/// Equal priorities: when both are master (here: each started alone, cable
/// unplugged, then both plugged in), the higher primary address wins
/// (RFC 5798 §6.4.3), whichever implementation holds it. (A backup that hears
/// an equal-priority master simply follows it, so a sequential start would not
/// exercise the tie-break.)
fn tie(kinds: [Kind; 2], vrid: u8) {
    let mut pair = Pair::new(V4, 3, ADV_V3, kinds, [100, 100], vrid);
    pair.lan.unplug(0);
    pair.lan.unplug(1);
    let t0 = mono_ns();
    pair.start(0);
    pair.start(1);
    let p = pair.patience();
    pair.peer(0).d().wait_master(t0, p);
    pair.peer(1).d().wait_master(t0, p);
    assert!(pair.holds_vip(0) && pair.holds_vip(1));
    let t_plug = mono_ns();
    pair.lan.plug(0);
    pair.lan.plug(1);
    // h1 has 192.0.2.2 > 192.0.2.1.
    pair.assert_serves(1, t0);
    // And it stays so: ten adverts later nobody has flapped.
    let b = (0..2)
        .find(|i| kinds[*i] == Kind::Belay)
        .expect("a belay peer");
    let belay = pair.peer(b).belay();
    let key = if b == 1 {
        "adverts_sent"
    } else {
        "adverts_received"
    };
    let seen = belay.counter(key);
    wait_until(p, "ten more adverts", || belay.counter(key) >= seen + 10);
    assert!(pair.holds_vip(1) && !pair.holds_vip(0));
    match &pair.peers[0] {
        Some(Peer::Keepalived(k)) => {
            assert_eq!(k.state(), Some(VrrpState::Backup));
            assert!(
                k.events()
                    .iter()
                    .filter(|e| e.at > t_plug)
                    .all(|e| e.state == VrrpState::Backup),
                "keepalived flapped: {:?}",
                k.events()
            );
        }
        Some(Peer::Belay(b)) => assert_eq!(b.state().as_deref(), Some("BACKUP")),
        None => unreachable!(),
    }
    if let Some(Peer::Keepalived(k)) = &pair.peers[1] {
        let after: Vec<_> = k.events().into_iter().filter(|e| e.at > t_plug).collect();
        assert!(
            after.is_empty(),
            "keepalived (the winner) changed state: {after:?}"
        );
    }
    if let Some(Peer::Belay(b)) = &pair.peers[1] {
        assert_eq!(b.counter("became_master"), 1, "belay (the winner) flapped");
    }
    pair.assert_belay_accepts_keepalived();
}

#[test]
fn tie_on_priority_keepalived_with_higher_address_wins() {
    if !require_root("tie_on_priority_keepalived_with_higher_address_wins") {
        return;
    }
    tie([Kind::Belay, Kind::Keepalived], 77);
}

#[test]
fn tie_on_priority_belay_with_higher_address_wins() {
    if !require_root("tie_on_priority_belay_with_higher_address_wins") {
        return;
    }
    tie([Kind::Keepalived, Kind::Belay], 78);
}

/// A Keepalived peer that belay must not accept: belay counts every advert
/// under `reason`, ignores it (so it stays master), and keeps running.
fn rejected(mut tweak: impl FnMut(&mut RouterSpec, &mut RouterSpec), reason: &str, vrid: u8) {
    // belay on h0 with the lower priority: had it accepted the peer's adverts
    // it would be backup.
    let mut pair = Pair::new(
        V4,
        2,
        ADV_V2,
        [Kind::Belay, Kind::Keepalived],
        [100, 200],
        vrid,
    );
    let (a, b) = pair.specs.split_at_mut(1);
    tweak(&mut a[0], &mut b[0]);
    let t0 = mono_ns();
    pair.start(1);
    pair.start(0);
    let p = pair.patience();
    pair.peer(1)
        .keepalived()
        .wait_transition(VrrpState::Master, t0, p);
    let belay = pair.peer(0).belay();
    // One counted drop proves the rejection. Keepalived 2.2.7 as master
    // stops advertising while it receives (invalid) adverts every interval
    // — seen on the wire with tcpdump: one advert in 14 s — so belay hears
    // only what Keepalived sends before belay's own adverts begin.
    let counted = poll_until(p, || belay.counter(reason) >= 1);
    assert!(
        counted,
        "belay did not count {reason} drops; status: {:?}; keepalived log:\n{}",
        belay.router.status(),
        pair.peer(1).d().log_text()
    );
    belay
        .router
        .wait_state(belay_tests::belay::INSTANCE, "MASTER", p);
    assert_eq!(
        belay.counter("adverts_received"),
        0,
        "belay accepted a bad advert"
    );
    assert!(
        pair.holds_vip(0),
        "belay (ignoring the bad peer) must hold the VIP"
    );
    // Still alive and answering after the bad packets.
    let mut peer = pair.peers[0].take().expect("peer");
    if let Peer::Belay(b) = &mut peer {
        assert!(b.router.proc.is_running(), "belay died: {}", b.router.log());
        assert!(
            b.router.status().is_some(),
            "belay stopped answering status"
        );
    }
    let log = peer.d().log_text();
    assert!(!log.contains("panicked"), "belay panicked: {log}");
    // Keepalived, likewise, ignored belay's adverts and is master too.
    assert_eq!(pair.peer(1).keepalived().state(), Some(VrrpState::Master));
}

#[test]
fn wrong_auth_from_keepalived_is_rejected_and_counted() {
    if !require_root("wrong_auth_from_keepalived_is_rejected_and_counted") {
        return;
    }
    rejected(
        |belay, ka| {
            belay.auth_pass = Some("right".into());
            ka.auth_pass = Some("wrong".into());
        },
        "auth_mismatch",
        79,
    );
}

#[test]
fn wrong_version_from_keepalived_is_rejected_and_counted() {
    if !require_root("wrong_version_from_keepalived_is_rejected_and_counted") {
        return;
    }
    rejected(
        |belay, _ka| {
            belay.version = 3;
        },
        "version_mismatch",
        80,
    );
}
