//! belay's IPVS client and reconciler against a real kernel IPVS (UML).
//!
//! `ipvs_client_and_reconciler_in_uml` boots UML once and runs the
//! `kernel_*` tests below inside it; on the host those are ignored.

use std::net::SocketAddr;

use belay::ipvs::{
    Client, Dest, Family, Forward, IpvsError, Protocol, Reconciler, Scheduler, Service,
    ServiceFlags, ServiceKey, Table, Tunnel, TunnelKind, VirtualService,
};
use belay_tests::uml::{self, EnterNetns};
use belay_tests::{Netns, require_root};

const INNER: &[&str] = &[
    "kernel_programs_every_kind_and_reads_it_back",
    "kernel_errors_are_typed",
    "kernel_reconcile_is_idempotent_and_leaves_foreign_services",
    "kernel_large_tables_go_in_batches_and_dump_multipart",
];

#[test]
fn ipvs_client_and_reconciler_in_uml() {
    if uml::in_uml() || !require_root("ipvs_client_and_reconciler_in_uml") {
        return;
    }
    let run = uml::run_inner_tests("ipvs-client", INNER, &[]);
    run.assert_tests_passed(INNER.len());
}

fn inet(proto: Protocol, addr: &str) -> ServiceKey {
    ServiceKey::Inet {
        protocol: proto,
        addr: addr.parse().unwrap(),
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A namespace with its own IPVS table, entered by the current thread.
fn ipvs_ns(role: &str) -> (Netns, EnterNetns, Client) {
    let ns = Netns::new(role);
    let enter = EnterNetns::new(&ns);
    let client = Client::connect().expect("connect to IPVS");
    (ns, enter, client)
}

fn ipvsadm(ns: &Netns) -> String {
    ns.exec("ipvsadm", &["-Ln"])
}

/// Whitespace-insensitive "contains a line like".
fn has_line(out: &str, want: &str) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let want = norm(want);
    out.lines().any(|l| norm(l).starts_with(&want))
}

fn every_kind() -> Table {
    let mut t = Table::new();
    let mut svc = |s: Service, dests: Vec<Dest>| {
        let mut vs = VirtualService::new(s);
        for d in dests {
            vs = vs.with_dest(d);
        }
        t.insert(vs);
    };

    // TCP/IPv4, NAT and DR destinations, thresholds.
    let mut dr = Dest::new(sa("198.51.100.3:8080"), Forward::Route, 2);
    dr.upper_threshold = 100;
    dr.lower_threshold = 10;
    svc(
        Service::new(inet(Protocol::Tcp, "192.0.2.1:80"), Scheduler::Wrr),
        vec![Dest::new(sa("198.51.100.2:8080"), Forward::Masq, 3), dr],
    );
    // UDP with one-packet scheduling.
    let mut udp = Service::new(inet(Protocol::Udp, "192.0.2.1:53"), Scheduler::Rr);
    udp.flags = ServiceFlags(ServiceFlags::ONE_PACKET);
    svc(
        udp,
        vec![Dest::new(sa("198.51.100.2:53"), Forward::Masq, 1)],
    );
    // SCTP.
    svc(
        Service::new(inet(Protocol::Sctp, "192.0.2.1:3868"), Scheduler::Lc),
        vec![Dest::new(sa("198.51.100.4:3868"), Forward::Route, 1)],
    );
    // IPv6 with sh flags and persistence /64.
    let mut v6 = Service::new(inet(Protocol::Tcp, "[2001:db8::1]:443"), Scheduler::Sh);
    v6.flags =
        ServiceFlags(ServiceFlags::SH_FALLBACK | ServiceFlags::SH_PORT | ServiceFlags::PERSISTENT);
    v6.timeout = 300;
    v6.netmask = 64;
    svc(
        v6,
        vec![
            Dest::new(sa("[2001:db8:1::2]:443"), Forward::Masq, 1),
            Dest::new(sa("[2001:db8:1::3]:443"), Forward::Tunnel(Tunnel::IPIP), 1),
        ],
    );
    // Persistence /24 on IPv4 with dh.
    let mut p4 = Service::new(inet(Protocol::Tcp, "192.0.2.1:8443"), Scheduler::Dh);
    p4.flags = ServiceFlags(ServiceFlags::PERSISTENT);
    p4.timeout = 120;
    p4.netmask = 0xffff_ff00;
    svc(
        p4,
        vec![Dest::new(sa("198.51.100.5:8443"), Forward::Masq, 1)],
    );
    // Firewall marks, both families; mh flags; tunnels of every kind.
    let mut fw4 = Service::new(
        ServiceKey::Fwmark {
            family: Family::Ipv4,
            mark: 7,
        },
        Scheduler::Mh,
    );
    fw4.flags = ServiceFlags(ServiceFlags::MH_FALLBACK | ServiceFlags::MH_PORT);
    svc(
        fw4,
        vec![
            Dest::new(sa("198.51.100.6:0"), Forward::Tunnel(Tunnel::IPIP), 1),
            Dest::new(
                sa("198.51.100.7:0"),
                Forward::Tunnel(Tunnel {
                    kind: TunnelKind::Gue,
                    port: 6080,
                    flags: Tunnel::FLAG_CSUM,
                }),
                2,
            ),
            Dest::new(
                sa("198.51.100.8:0"),
                Forward::Tunnel(Tunnel {
                    kind: TunnelKind::Gre,
                    port: 0,
                    flags: Tunnel::FLAG_REMCSUM,
                }),
                3,
            ),
            // A tunnel may cross families.
            Dest::new(sa("[2001:db8:2::9]:0"), Forward::Tunnel(Tunnel::IPIP), 4),
        ],
    );
    let mut fw6 = Service::new(
        ServiceKey::Fwmark {
            family: Family::Ipv6,
            mark: 8,
        },
        Scheduler::Wlc,
    );
    fw6.flags = ServiceFlags(ServiceFlags::PERSISTENT);
    fw6.timeout = 60;
    fw6.netmask = 128;
    svc(
        fw6,
        vec![Dest::new(sa("[2001:db8:1::2]:0"), Forward::Route, 5)],
    );
    // The remaining schedulers, one service each.
    for (i, s) in [
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Fo,
        Scheduler::Ovf,
    ]
    .into_iter()
    .enumerate()
    {
        let port = 9000 + i as u16;
        svc(
            Service::new(inet(Protocol::Tcp, &format!("192.0.2.2:{port}")), s),
            vec![Dest::new(sa("198.51.100.2:80"), Forward::Masq, 1)],
        );
    }
    t
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_client_and_reconciler_in_uml"]
fn kernel_programs_every_kind_and_reads_it_back() {
    let (ns, _enter, client) = ipvs_ns("kinds");
    let mut rec = Reconciler::new(client);
    let want = every_kind();
    let out = rec.apply(&want).expect("apply");
    assert!(out.is_clean(), "errors: {:?}", out.errors);

    // Our own dump.
    let got = rec.client().read_table(|_| true).expect("dump");
    assert!(
        got.same_as(&want),
        "read back differs\nwant: {want:#?}\ngot: {got:#?}"
    );

    // ipvsadm's view of the same table.
    let l = ipvsadm(&ns);
    println!("{l}");
    for line in [
        "TCP 192.0.2.1:80 wrr",
        "-> 198.51.100.2:8080 Masq 3",
        "-> 198.51.100.3:8080 Route 2",
        "UDP 192.0.2.1:53 rr ops",
        "SCTP 192.0.2.1:3868 lc",
        "TCP [2001:db8::1]:443 sh (sh-fallback,sh-port) persistent 300 mask 64",
        "-> [2001:db8:1::3]:443 Tunnel 1",
        "TCP 192.0.2.1:8443 dh persistent 120 mask 255.255.255.0",
        "FWM 7 mh (mh-fallback,mh-port)",
        "-> 198.51.100.7:0 Tunnel 2",
        "-> [2001:db8:2::9]:0 Tunnel 4",
        "FWM 8 IPv6 wlc persistent 60",
        "-> [2001:db8:1::2]:0 Route 5",
        "TCP 192.0.2.2:9000 lblc",
        "TCP 192.0.2.2:9001 lblcr",
        "TCP 192.0.2.2:9002 sed",
        "TCP 192.0.2.2:9003 nq",
        "TCP 192.0.2.2:9004 fo",
        "TCP 192.0.2.2:9005 ovf",
    ] {
        assert!(has_line(&l, line), "ipvsadm -Ln lacks `{line}`:\n{l}");
    }
    // Thresholds and tunnel details (ipvsadm shows them with --thresholds / --tun-info).
    let th = ns.exec("ipvsadm", &["-Ln", "--thresholds"]);
    assert!(
        has_line(&th, "-> 198.51.100.3:8080 100 10"),
        "thresholds missing:\n{th}"
    );
    let tun = ns.exec("ipvsadm", &["-Ln", "--tun-info"]);
    println!("{tun}");
    assert!(
        has_line(&tun, "-> 198.51.100.7:0 Tunnel gue:6080:+c 2"),
        "gue:\n{tun}"
    );
    assert!(
        has_line(&tun, "-> 198.51.100.8:0 Tunnel gre:r+c 3"),
        "gre:\n{tun}"
    );
    assert!(
        has_line(&tun, "-> [2001:db8:2::9]:0 Tunnel ipip 4"),
        "ipip:\n{tun}"
    );

    // Nothing left to do.
    let again = rec.apply(&want).expect("apply again");
    assert_eq!(again.counters.writes, 0, "ops: {:?}", again.ops);
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_client_and_reconciler_in_uml"]
fn kernel_errors_are_typed() {
    let (_ns, _enter, mut c) = ipvs_ns("errors");
    let key = inet(Protocol::Tcp, "192.0.2.1:80");
    let svc = Service::new(key, Scheduler::Rr);
    c.add_service(&svc).unwrap();
    let e = c.add_service(&svc).unwrap_err();
    assert!(
        matches!(e, IpvsError::ServiceExists(k) if k == key),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "virtual server 192.0.2.1:80/tcp already exists"
    );

    let other = inet(Protocol::Tcp, "192.0.2.9:80");
    let d = Dest::new(sa("198.51.100.2:80"), Forward::Masq, 1);
    let e = c.add_dest(&other, &d).unwrap_err();
    assert_eq!(
        e.to_string(),
        "virtual server 192.0.2.9:80/tcp does not exist"
    );

    c.add_dest(&key, &d).unwrap();
    let e = c.add_dest(&key, &d).unwrap_err();
    assert_eq!(
        e.to_string(),
        "real server 198.51.100.2:80 already exists in virtual server 192.0.2.1:80/tcp"
    );
    let e = c.del_dest(&key, &sa("198.51.100.3:80")).unwrap_err();
    assert!(matches!(e, IpvsError::NoSuchDest { .. }), "{e:?}");

    let mut bad = Dest::new(sa("198.51.100.4:80"), Forward::Masq, 1);
    bad.lower_threshold = 10;
    bad.upper_threshold = 5;
    let e = c.add_dest(&key, &bad).unwrap_err();
    assert!(matches!(e, IpvsError::DestOutOfRange { .. }), "{e:?}");

    let e = c
        .add_service(&Service::new(
            inet(Protocol::Tcp, "192.0.2.1:81"),
            Scheduler::Other("nosuch".into()),
        ))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("scheduler `nosuch` is not available"),
        "{e}"
    );

    // A failed op in the middle of a batch does not stop the others.
    let ops = vec![
        belay::ipvs::Op::AddService(Service::new(
            inet(Protocol::Tcp, "192.0.2.1:82"),
            Scheduler::Rr,
        )),
        belay::ipvs::Op::AddService(svc.clone()),
        belay::ipvs::Op::AddService(Service::new(
            inet(Protocol::Tcp, "192.0.2.1:83"),
            Scheduler::Rr,
        )),
    ];
    let errs = c.apply(&ops).unwrap();
    assert_eq!(errs.0.len(), 1);
    assert_eq!(errs.0[0].0, 1);
    let keys: Vec<ServiceKey> = c.services().unwrap().into_iter().map(|s| s.key).collect();
    assert!(keys.contains(&inet(Protocol::Tcp, "192.0.2.1:82")));
    assert!(keys.contains(&inet(Protocol::Tcp, "192.0.2.1:83")));
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_client_and_reconciler_in_uml"]
fn kernel_reconcile_is_idempotent_and_leaves_foreign_services() {
    let (ns, _enter, client) = ipvs_ns("idem");
    // Somebody else's service, with a destination.
    ns.exec("ipvsadm", &["-A", "-t", "192.0.2.50:80", "-s", "rr"]);
    ns.exec(
        "ipvsadm",
        &[
            "-a",
            "-t",
            "192.0.2.50:80",
            "-r",
            "198.51.100.50:80",
            "-m",
            "-w",
            "7",
        ],
    );
    let foreign_before = ipvsadm(&ns);

    let mut rec = Reconciler::new(client);
    let mut want = Table::new();
    for port in [80u16, 81] {
        want.insert(
            VirtualService::new(Service::new(
                inet(Protocol::Tcp, &format!("192.0.2.1:{port}")),
                Scheduler::Wrr,
            ))
            .with_dest(Dest::new(sa("198.51.100.2:8080"), Forward::Masq, 1))
            .with_dest(Dest::new(sa("198.51.100.3:8080"), Forward::Masq, 2)),
        );
    }
    let first = rec.apply(&want).unwrap();
    assert!(first.is_clean(), "{:?}", first.errors);
    assert_eq!(first.counters.writes, 6);

    let second = rec.apply(&want).unwrap();
    assert_eq!(
        second.counters.writes, 0,
        "second apply wrote: {:?}",
        second.ops
    );
    assert!(second.ops.is_empty());

    // One weight changes: one write.
    let k80 = inet(Protocol::Tcp, "192.0.2.1:80");
    want.services.get_mut(&k80).unwrap().dests[0].weight = 5;
    let third = rec.apply(&want).unwrap();
    assert_eq!(third.counters.writes, 1, "{:?}", third.ops);

    // Drift made behind our back is repaired with exactly the needed write:
    // a service attribute on every apply (the service list is always read),
    // a destination on the periodic full resync.
    ns.exec("ipvsadm", &["-E", "-t", "192.0.2.1:81", "-s", "rr"]);
    let repair = rec.apply(&want).unwrap();
    assert_eq!(repair.counters.writes, 1, "{:?}", repair.ops);
    ns.exec(
        "ipvsadm",
        &[
            "-e",
            "-t",
            "192.0.2.1:81",
            "-r",
            "198.51.100.3:8080",
            "-m",
            "-w",
            "9",
        ],
    );
    let repair = rec.resync(&want).unwrap();
    assert_eq!(repair.counters.writes, 1, "{:?}", repair.ops);
    let l = ipvsadm(&ns);
    assert!(has_line(&l, "TCP 192.0.2.1:81 wrr"), "{l}");
    assert!(!l.contains("Masq    9"), "{l}");
    let quiet = rec.resync(&want).unwrap();
    assert_eq!(quiet.counters.writes, 0, "{:?}", quiet.ops);

    // A service leaves the desired table: deleted; the foreign one stays.
    want.services.shift_remove(&k80);
    let shrink = rec.apply(&want).unwrap();
    assert_eq!(shrink.ops, vec![belay::ipvs::Op::DelService(k80)]);
    let l = ipvsadm(&ns);
    assert!(!l.contains("192.0.2.1:80 "), "{l}");
    assert!(
        has_line(&l, "TCP 192.0.2.50:80 rr"),
        "foreign service gone:\n{l}"
    );
    assert!(
        has_line(&l, "-> 198.51.100.50:80 Masq 7"),
        "foreign dest changed:\n{l}"
    );

    // Withdraw removes ours, only ours.
    let w = rec.withdraw().unwrap();
    assert!(w.is_clean());
    let l = ipvsadm(&ns);
    assert!(!l.contains("192.0.2.1:"), "{l}");
    let foreign_lines = |s: &str| -> Vec<String> {
        s.lines()
            .skip_while(|l| !l.contains("192.0.2.50:80"))
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(foreign_lines(&l), foreign_lines(&foreign_before));
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_client_and_reconciler_in_uml"]
fn kernel_large_tables_go_in_batches_and_dump_multipart() {
    let (_ns, _enter, client) = ipvs_ns("batch");
    let mut rec = Reconciler::new(client);
    let mut want = Table::new();
    // 200 services x 3 destinations, plus one service with 400 destinations
    // (its dump spans several datagrams).
    for s in 0..200u16 {
        let mut vs = VirtualService::new(Service::new(
            inet(
                Protocol::Tcp,
                &format!("192.0.2.{}:{}", 1 + s / 100, 1000 + s),
            ),
            Scheduler::Rr,
        ));
        for d in 0..3u8 {
            vs = vs.with_dest(Dest::new(
                sa(&format!("198.51.100.{}:80", 2 + d)),
                Forward::Route,
                1,
            ));
        }
        want.insert(vs);
    }
    let mut big = VirtualService::new(Service::new(
        inet(Protocol::Udp, "192.0.2.9:53"),
        Scheduler::Rr,
    ));
    for d in 0..400u16 {
        big = big.with_dest(Dest::new(
            sa(&format!("203.0.113.{}:{}", 1 + d % 250, 1000 + d)),
            Forward::Masq,
            1,
        ));
    }
    want.insert(big);
    // Services without destinations answer a dump with one datagram, not two.
    for s in 0..20u16 {
        want.insert(VirtualService::new(Service::new(
            inet(Protocol::Sctp, &format!("192.0.2.8:{}", 2000 + s)),
            Scheduler::Wrr,
        )));
    }
    let out = rec.apply(&want).unwrap();
    assert!(
        out.is_clean(),
        "{:?}",
        &out.errors[..out.errors.len().min(3)]
    );
    let writes = 200 + 600 + 1 + 400 + 20;
    assert_eq!(out.counters.writes, writes);
    let batches = writes.div_ceil(belay::ipvs::client::DEFAULT_BATCH as u64);
    // One dump of services + one per owned service read, plus the batches.
    assert!(
        out.counters.sends <= batches + 1,
        "{writes} writes took {} sendmsg calls (expected {batches} batches + 1 read)",
        out.counters.sends
    );
    // Batched (io_uring) and one-by-one reads see the same table.
    assert!(rec.client().uses_uring(), "io_uring should work in UML");
    let before = rec.client().counters();
    let got = rec.client().read_table(|_| true).unwrap();
    let batched = rec.client().counters().since(&before);
    assert!(got.same_as(&want), "batched read differs");
    rec.client().set_uring(false);
    let before = rec.client().counters();
    let plain = rec.client().read_table(|_| true).unwrap();
    let one_by_one = rec.client().counters().since(&before);
    assert!(plain.same_as(&want), "plain read differs");
    println!("read 221 services: batched {batched:?}, one by one {one_by_one:?}");
    assert!(
        batched.sends + batched.recvs + batched.uring_enters
            < (one_by_one.sends + one_by_one.recvs) / 10,
        "batched read should take far fewer system calls"
    );
    rec.client().set_uring(true);
    let again = rec.apply(&want).unwrap();
    assert_eq!(again.counters.writes, 0);
}
