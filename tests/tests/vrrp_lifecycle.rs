//! Start and stop: leftovers of a crashed run, the virtual MAC, the status CLI.

use std::time::Duration;

use belay_tests::{Lan, Router, VrrpSpec, belay_bin, pings, require_root, wait_until};
use nix::sys::signal::Signal;
use serde_json::Value;

const VIP: &str = "192.0.2.100";
const T: Duration = Duration::from_secs(5);

#[test]
fn vips_left_by_a_crashed_run_are_cleaned_at_start() {
    if !require_root("vips_left_by_a_crashed_run_are_cleaned_at_start") {
        return;
    }
    let mut lan = Lan::with_hosts(2);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.2/24");
    lan.host(2).add_addr("eth0", "192.0.2.50/24");
    let m = Router::start(
        lan.host(0),
        "m",
        &[VrrpSpec::v3(101, 200, &format!("{VIP}/24"))],
    );
    m.wait_state("VI_1", "MASTER", T);

    // h1 ran as master, was killed -9 and left the VIP behind; a foreign
    // address it also has must survive the cleanup.
    let b0 = Router::start(
        lan.host(1),
        "b0",
        &[VrrpSpec::v3(102, 200, "192.0.2.120/24")],
    );
    b0.wait_state("VI_1", "MASTER", T);
    let mut b0 = b0;
    b0.signal(Signal::SIGKILL);
    b0.wait_exit(T);
    assert!(
        lan.host(1).has_addr("eth0", "192.0.2.120"),
        "kill -9 should leave the VIP"
    );
    lan.host(1).add_addr("eth0", "198.51.100.7/24");

    let b = Router::start(
        lan.host(1),
        "b",
        &[VrrpSpec::v3(102, 100, "192.0.2.120/24")],
    );
    // It starts as backup with nobody else on VRID 102, so it becomes master
    // again — but only after it removed the leftover at start.
    assert!(
        b.log()
            .contains("removed VIPs left on the interface by a previous run"),
        "{}",
        b.log()
    );
    b.wait_state("VI_1", "MASTER", T);
    assert!(
        lan.host(1).has_addr("eth0", "198.51.100.7"),
        "foreign address removed"
    );
    drop(b);

    // The same with the VIP of a live master elsewhere: the restarted backup
    // must not keep a copy of it.
    lan.host(1).add_addr("eth0", &format!("{VIP}/24"));
    let b = Router::start(
        lan.host(1),
        "b2",
        &[VrrpSpec::v3(101, 100, &format!("{VIP}/24"))],
    );
    b.wait_state("VI_1", "BACKUP", T);
    assert!(
        !lan.host(1).has_addr("eth0", VIP),
        "stale VIP still on the backup"
    );
    assert!(lan.host(0).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP on the master", || {
        pings(lan.host(2), VIP)
    });
}

#[test]
fn virtual_mac_carries_the_vip_and_goes_away_on_stop() {
    if !require_root("virtual_mac_carries_the_vip_and_goes_away_on_stop") {
        return;
    }
    let mut lan = Lan::with_hosts(1);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.50/24");
    let mut spec = VrrpSpec::v3(103, 200, &format!("{VIP}/24"));
    spec.extra = vec!["use_vmac = true".into()];
    let mut m = Router::start(lan.host(0), "m", &[spec]);
    m.wait_state("VI_1", "MASTER", T);
    let link: Value =
        serde_json::from_str(&lan.host(0).ip(&["-j", "-d", "link", "show", "vrrp.103"])).unwrap();
    assert_eq!(link[0]["address"], "00:00:5e:00:01:67");
    assert_eq!(link[0]["linkinfo"]["info_kind"], "macvlan");
    assert!(lan.host(0).has_addr("vrrp.103", VIP));
    assert!(!lan.host(0).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP", || pings(lan.host(1), VIP));
    // The client resolved the VIP to the virtual MAC.
    let neigh = lan.host(1).ip(&["neigh", "show", VIP]);
    assert!(
        neigh.contains("00:00:5e:00:01:67"),
        "client ARP entry: {neigh}"
    );

    m.signal(Signal::SIGTERM);
    assert!(m.wait_exit(T).success());
    let links = lan.host(0).ip(&["link", "show"]);
    assert!(!links.contains("vrrp.103"), "macvlan left behind:\n{links}");
}

#[test]
fn status_cli_prints_the_document() {
    if !require_root("status_cli_prints_the_document") {
        return;
    }
    let lan = Lan::with_hosts(1);
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    let m = Router::start(
        lan.host(0),
        "m",
        &[VrrpSpec::v3(104, 200, &format!("{VIP}/24"))],
    );
    m.wait_state("VI_1", "MASTER", T);
    let out = std::process::Command::new(belay_bin())
        .args(["status", "--json", "--socket"])
        .arg(&m.socket)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["router_id"], "m");
    assert_eq!(doc["instances"][0]["state"], "MASTER");
    assert_eq!(doc["instances"][0]["vips"][0], "192.0.2.100/24");
    let table = std::process::Command::new(belay_bin())
        .args(["status", "--socket"])
        .arg(&m.socket)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("VI_1") && text.contains("MASTER"), "{text}");
    // A daemon that is not there is a clear error, not a hang.
    let gone = std::process::Command::new(belay_bin())
        .args(["status", "--socket", "/nonexistent/belay.sock"])
        .output()
        .unwrap();
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("cannot reach the daemon"));
}

#[test]
fn a_missing_interface_fails_the_start_clearly() {
    if !require_root("a_missing_interface_fails_the_start_clearly") {
        return;
    }
    let ns = belay_tests::Netns::new("noif");
    let dir = std::env::temp_dir();
    let base = dir.join(format!("belay-test-{}-noif", std::process::id()));
    let config = base.with_extension("toml");
    let mut spec = VrrpSpec::v3(105, 100, &format!("{VIP}/24"));
    spec.interface = "nope0".into();
    std::fs::write(
        &config,
        format!(
            "[global]\nstatus_socket = \"{}\"\n{}",
            base.with_extension("sock").display(),
            spec.toml()
        ),
    )
    .unwrap();
    let out = ns
        .command(belay_bin())
        .arg("run")
        .arg("-c")
        .arg(&config)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("interface `nope0` does not exist"),
        "{stderr}"
    );
}

#[test]
fn a_link_down_at_start_is_fault_until_it_comes_up() {
    if !require_root("a_link_down_at_start_is_fault_until_it_comes_up") {
        return;
    }
    let mut lan = Lan::with_hosts(1);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.50/24");
    lan.host(0).link_set("eth0", false);
    let m = Router::start(
        lan.host(0),
        "m",
        &[VrrpSpec::v3(106, 200, &format!("{VIP}/24"))],
    );
    m.wait_state("VI_1", "FAULT", T);
    assert!(!lan.host(0).has_addr("eth0", VIP));
    assert_eq!(
        m.counter("VI_1", "adverts_sent"),
        0,
        "a faulted instance advertised"
    );
    lan.host(0).link_set("eth0", true);
    m.wait_state("VI_1", "MASTER", T);
    wait_until(T, "client reaches the VIP", || pings(lan.host(1), VIP));
}

#[test]
fn ipv6_virtual_mac_is_00_00_5e_00_02_vrid() {
    if !require_root("ipv6_virtual_mac_is_00_00_5e_00_02_vrid") {
        return;
    }
    let mut lan = Lan::with_hosts(1);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "2001:db8::1/64");
    lan.host(1).add_addr("eth0", "2001:db8::50/64");
    let mut spec = VrrpSpec::v3(107, 200, "2001:db8::100/64");
    spec.extra = vec!["use_vmac = true".into()];
    let mut m = Router::start(lan.host(0), "m", &[spec]);
    m.wait_state("VI_1", "MASTER", Duration::from_secs(8));
    let link: Value =
        serde_json::from_str(&lan.host(0).ip(&["-j", "-d", "link", "show", "vrrp6.107"])).unwrap();
    assert_eq!(link[0]["address"], "00:00:5e:00:02:6b");
    assert!(lan.host(0).has_addr("vrrp6.107", "2001:db8::100"));
    wait_until(T, "client reaches the VIP", || {
        pings(lan.host(1), "2001:db8::100")
    });
    let neigh = lan.host(1).ip(&["-6", "neigh", "show", "2001:db8::100"]);
    assert!(
        neigh.contains("00:00:5e:00:02:6b"),
        "client neighbour entry: {neigh}"
    );
    m.signal(Signal::SIGTERM);
    assert!(m.wait_exit(T).success());
    assert!(!lan.host(0).ip(&["link", "show"]).contains("vrrp6.107"));
}
