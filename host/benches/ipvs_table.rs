//! IPVS table programming: belay's reconciler against `ipvsadm -R`, same
//! table, same kernel, same run. Run with `bash scripts/bench-ipvs.sh`,
//! which boots UML (this machine's kernel has no IPVS) and runs this
//! binary inside it.
//!
//! It flushes the whole IPVS table, so it refuses to run unless
//! `BELAY_IN_UML=1` says the kernel is a throwaway guest.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use belay::ipvs::{
    Client, Dest, Forward, Protocol, Reconciler, Scheduler, Service, ServiceKey, Table,
    VirtualService,
};

fn table(services: usize, dests: usize) -> Table {
    let mut t = Table::new();
    for s in 0..services {
        let vip = format!("10.{}.{}.1:80", s / 250, s % 250);
        let mut vs = VirtualService::new(Service::new(
            ServiceKey::Inet {
                protocol: Protocol::Tcp,
                addr: vip.parse().expect("vip"),
            },
            Scheduler::Wrr,
        ));
        for d in 0..dests {
            let rs = format!("10.200.{}.{}:8080", s % 250, d + 2);
            vs = vs.with_dest(Dest::new(rs.parse().expect("rs"), Forward::Masq, 1));
        }
        t.insert(vs);
    }
    t
}

/// The same table as `ipvsadm -R` input.
fn restore_script(t: &Table) -> String {
    let mut out = String::new();
    for vs in t.services.values() {
        let ServiceKey::Inet { addr, .. } = vs.service.key else {
            continue;
        };
        out.push_str(&format!("-A -t {addr} -s {}\n", vs.service.scheduler));
        for d in vs.dests.values() {
            out.push_str(&format!("-a -t {addr} -r {} -m -w {}\n", d.addr, d.weight));
        }
    }
    out
}

fn ipvsadm_restore(script: &str) -> Duration {
    let start = Instant::now();
    let mut child = Command::new("ipvsadm")
        .arg("-R")
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn ipvsadm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("feed ipvsadm");
    let status = child.wait().expect("wait ipvsadm");
    assert!(status.success(), "ipvsadm -R failed");
    start.elapsed()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    if std::env::var("BELAY_IN_UML").as_deref() != Ok("1") {
        eprintln!(
            "ipvs_table: skipped (it flushes IPVS; run it with `bash scripts/bench-ipvs.sh`)"
        );
        return;
    }
    let services: usize = std::env::var("SERVICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let dests: usize = std::env::var("DESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let want = table(services, dests);
    let script = restore_script(&want);
    let rules = script.lines().count();

    let mut client = Client::connect().expect("IPVS");
    let info = client.info().expect("info");
    println!(
        "ipvs_table: {services} services x {dests} destinations = {rules} rules; IPVS version {:#x}, {rounds} rounds",
        info.version
    );

    let (mut t_adm, mut t_belay, mut t_again, mut t_full, mut t_plain) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut belay_counters, mut again_counters, mut full_counters, mut plain_counters) =
        (None, None, None, None);
    for round in 0..rounds {
        // Baseline: ipvsadm restoring the same table from scratch.
        client.flush().expect("flush");
        t_adm.push(ipvsadm_restore(&script));
        let by_adm = client.read_table(|_| true).expect("dump");
        assert!(by_adm.same_as(&want), "ipvsadm built a different table");

        // belay: a fresh reconciler (nothing owned yet) on an empty table.
        client.flush().expect("flush");
        let mut rec = Reconciler::new(Client::connect().expect("IPVS"));
        let out = rec.apply(&want).expect("apply");
        assert!(
            out.is_clean(),
            "errors: {:?}",
            &out.errors[..out.errors.len().min(3)]
        );
        t_belay.push(out.elapsed);
        belay_counters = Some(out.counters);

        // Unchanged table again: must write nothing.
        let again = rec.apply(&want).expect("re-apply");
        assert_eq!(again.counters.writes, 0, "re-apply wrote");
        t_again.push(again.elapsed);
        again_counters = Some(again.counters);
        assert!(rec.client().uses_uring(), "io_uring unavailable");

        // A full resync reads every destination back: over io_uring, then
        // one dump after the other.
        let full = rec.resync(&want).expect("resync");
        assert_eq!(full.counters.writes, 0, "resync wrote");
        t_full.push(full.elapsed);
        full_counters = Some(full.counters);
        rec.client().set_uring(false);
        let plain = rec.resync(&want).expect("resync");
        assert_eq!(plain.counters.writes, 0, "resync wrote");
        t_plain.push(plain.elapsed);
        plain_counters = Some(plain.counters);
        let by_belay = client.read_table(|_| true).expect("dump");
        assert!(by_belay.same_as(&want), "belay built a different table");
        println!(
            "round {round}: ipvsadm -R {}, belay apply {}, re-apply {}, full resync {} (without io_uring {})",
            ms(t_adm[round]),
            ms(t_belay[round]),
            ms(t_again[round]),
            ms(t_full[round]),
            ms(t_plain[round])
        );
    }
    // Where a re-apply spends its time (on the last round's table).
    let mut rec = Reconciler::new(Client::connect().expect("IPVS"));
    rec.apply(&want).expect("adopt");
    let c = rec.client();
    let t = Instant::now();
    let n = c.services().expect("services").len();
    let t_services = t.elapsed();
    let t = Instant::now();
    let actual = c.read_table(|_| true).expect("read");
    let t_read = t.elapsed();
    let t = Instant::now();
    let ops = belay::ipvs::plan(&want, &actual, |_| true);
    let t_plan = t.elapsed();
    assert!(ops.is_empty());
    println!(
        "RESULT re-apply parts: dump {n} services {}, read whole table {}, plan {}",
        ms(t_services),
        ms(t_read),
        ms(t_plan)
    );
    drop(rec);

    client.flush().expect("flush");
    let (adm, bel, again, full, plain) = (
        median(&mut t_adm),
        median(&mut t_belay),
        median(&mut t_again),
        median(&mut t_full),
        median(&mut t_plain),
    );
    let fc = full_counters.expect("rounds > 0");
    let bc = belay_counters.expect("rounds > 0");
    let ac = again_counters.expect("rounds > 0");
    let pc = plain_counters.expect("rounds > 0");
    println!(
        "RESULT ipvsadm -R         median {} ({rules} requests, one sendmsg + ACK read each)",
        ms(adm)
    );
    println!(
        "RESULT belay apply        median {} ({} requests, {} writes, {} sendmsg, {} recvmsg)",
        ms(bel),
        bc.requests,
        bc.writes,
        bc.sends,
        bc.recvs
    );
    println!(
        "RESULT belay re-apply     median {} ({} requests, {} writes, {} sendmsg, {} recvmsg, {} io_uring_enter)",
        ms(again),
        ac.requests,
        ac.writes,
        ac.sends,
        ac.recvs,
        ac.uring_enters
    );
    println!(
        "RESULT belay full resync  median {} ({} requests, {} writes, {} sendmsg, {} recvmsg, {} io_uring_enter)",
        ms(full),
        fc.requests,
        fc.writes,
        fc.sends,
        fc.recvs,
        fc.uring_enters
    );
    println!(
        "RESULT  without io_uring  median {} ({} requests, {} writes, {} sendmsg, {} recvmsg)",
        ms(plain),
        pc.requests,
        pc.writes,
        pc.sends,
        pc.recvs
    );
    println!(
        "RESULT ratio belay/ipvsadm {:.3}",
        bel.as_secs_f64() / adm.as_secs_f64()
    );
}
