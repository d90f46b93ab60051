//! What belay puts on the wire, judged by an independent decoder: tshark
//! checks every advert's checksum and fields and recognises the gratuitous
//! ARPs / unsolicited NAs of a takeover.

use std::time::Duration;

use belay_tests::{Lan, Proc, Router, VrrpSpec, require_root, wait_until};

const T: Duration = Duration::from_secs(8);

/// Captures on the client while h0 becomes master; returns tshark's field dump.
fn capture_takeover(v6: bool, fields: &[&str], filter: &str) -> Vec<Vec<String>> {
    let mut lan = Lan::with_hosts(1);
    lan.add_host("client");
    let (a, c, vip) = if v6 {
        ("2001:db8::1/64", "2001:db8::50/64", "2001:db8::100/64")
    } else {
        ("192.0.2.1/24", "192.0.2.50/24", "192.0.2.100/24")
    };
    lan.host(0).add_addr("eth0", a);
    lan.host(1).add_addr("eth0", c);
    let pcap = std::env::temp_dir().join(format!(
        "belay-test-{}-{}.pcap",
        std::process::id(),
        if v6 { "v6" } else { "v4" }
    ));
    let mut cmd = lan.host(1).command("tcpdump");
    cmd.args(["-i", "eth0", "--immediate-mode", "-U", "-n", "-w"])
        .arg(&pcap);
    let dump = Proc::spawn("tcpdump", cmd);
    wait_until(T, "tcpdump listening", || {
        dump.log_text().contains("listening on")
    });
    let m = Router::start(lan.host(0), "m", &[VrrpSpec::v3(111, 200, vip)]);
    m.wait_state("VI_1", "MASTER", T);
    wait_until(T, "ten adverts sent", || {
        m.counter("VI_1", "adverts_sent") >= 10
    });
    drop(m); // SIGTERM: the priority-0 advert is captured too
    let tshark = |filter: &str, fields: &[&str]| {
        std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&pcap)
            .args(["-Y", filter, "-T", "fields", "-E", "separator=|"])
            .args(fields.iter().flat_map(|f| ["-e", f]))
            .output()
            .expect("run tshark")
    };
    // tcpdump writes each packet as it sees it: stop it once the last one is in.
    wait_until(T, "the priority-0 advert in the capture", || {
        !tshark("vrrp.prio == 0", &["frame.number"])
            .stdout
            .is_empty()
    });
    drop(dump);
    let out = tshark(filter, fields);
    let _ = std::fs::remove_file(&pcap);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

#[test]
fn ipv4_adverts_and_gratuitous_arps_decode_cleanly() {
    if !require_root("ipv4_adverts_and_gratuitous_arps_decode_cleanly") {
        return;
    }
    let rows = capture_takeover(
        false,
        &[
            "frame.protocols",
            "ip.ttl",
            "ip.dsfield",
            "vrrp.version",
            "vrrp.virt_rtr_id",
            "vrrp.prio",
            "vrrp.checksum.status",
            "vrrp.ip_addr",
            "arp.isgratuitous",
            "arp.src.proto_ipv4",
        ],
        "vrrp || arp",
    );
    let adverts: Vec<_> = rows.iter().filter(|r| r[0].ends_with(":vrrp")).collect();
    assert!(adverts.len() >= 10, "{rows:?}");
    for r in &adverts {
        assert_eq!(r[1], "255", "TTL: {r:?}");
        assert_eq!(r[2], "0xc0", "DSCP CS6: {r:?}");
        assert_eq!(r[3], "3");
        assert_eq!(r[4], "111");
        assert_eq!(r[6], "1", "tshark's checksum status (1 = good): {r:?}");
        assert_eq!(r[7], "192.0.2.100");
    }
    assert_eq!(
        adverts.iter().filter(|r| r[5] == "200").count(),
        adverts.len() - 1
    );
    assert_eq!(
        adverts.last().unwrap()[5],
        "0",
        "the last advert is the priority-0 one"
    );
    let garps = rows
        .iter()
        .filter(|r| r[0].ends_with(":arp") && r[8] == "1" && r[9] == "192.0.2.100")
        .count();
    assert_eq!(garps, 5, "one burst of 5 gratuitous ARPs: {rows:?}");
}

#[test]
fn ipv6_adverts_and_unsolicited_nas_decode_cleanly() {
    if !require_root("ipv6_adverts_and_unsolicited_nas_decode_cleanly") {
        return;
    }
    let rows = capture_takeover(
        true,
        &[
            "frame.protocols",
            "ipv6.hlim",
            "ipv6.src",
            "ipv6.dst",
            "vrrp.checksum.status",
            "vrrp.ipv6_addr",
            "icmpv6.type",
            "icmpv6.checksum.status",
            "icmpv6.nd.na.target_address",
            "icmpv6.nd.na.flag.o",
        ],
        "vrrp || icmpv6.type == 136",
    );
    let adverts: Vec<_> = rows.iter().filter(|r| r[0].ends_with(":vrrp")).collect();
    assert!(adverts.len() >= 10, "{rows:?}");
    for r in &adverts {
        assert_eq!(r[1], "255", "hop limit: {r:?}");
        assert!(
            r[2].starts_with("fe80::"),
            "adverts come from the link-local address: {r:?}"
        );
        assert_eq!(r[3], "ff02::12");
        assert_eq!(r[4], "1", "checksum (1 = good): {r:?}");
        assert_eq!(r[5], "2001:db8::100");
    }
    let nas: Vec<_> = rows
        .iter()
        .filter(|r| r[6] == "136" && r[8] == "2001:db8::100")
        .collect();
    assert_eq!(nas.len(), 5, "one burst of 5 unsolicited NAs: {rows:?}");
    for r in nas {
        assert_eq!(r[7], "1", "ICMPv6 checksum (1 = good): {r:?}");
        assert_eq!(r[9], "1", "override flag: {r:?}");
        assert_eq!(r[3], "ff02::1");
        assert!(
            r[2].starts_with("fe80::"),
            "NA from the link-local address: {r:?}"
        );
    }
}
