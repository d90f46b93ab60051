//! The lab itself: namespaces, bridge and cleanup work, so other tests can trust it.

use std::time::Duration;

use belay_tests::{Lan, Netns, Proc, require_root, wait_until};

#[test]
fn two_hosts_on_a_bridge_reach_each_other_and_clean_up() {
    if !require_root("two_hosts_on_a_bridge_reach_each_other_and_clean_up") {
        return;
    }
    let names;
    {
        let lan = Lan::with_hosts(2);
        lan.host(0).add_addr("eth0", "192.0.2.1/24");
        lan.host(1).add_addr("eth0", "192.0.2.2/24");
        lan.host(1).add_addr("eth0", "2001:db8::2/64");
        assert!(lan.host(1).has_addr("eth0", "192.0.2.2"));
        let out = lan.host(0).output("ping", &["-c1", "-W2", "192.0.2.2"]);
        assert!(
            out.status.success(),
            "ping failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        names = vec![lan.hub.name().to_owned(), lan.host(0).name().to_owned()];
    }
    let list = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for n in names {
        assert!(!list.contains(&n), "namespace {n} survived its guard");
    }
}

#[test]
fn processes_in_a_namespace_die_with_their_guard() {
    if !require_root("processes_in_a_namespace_die_with_their_guard") {
        return;
    }
    let ns = Netns::new("proc");
    let mut cmd = ns.command("sleep");
    cmd.arg("600");
    let mut p = Proc::spawn("sleeper", cmd);
    wait_until(Duration::from_secs(2), "sleeper in namespace", || {
        ns.pids().contains(&p.pid())
    });
    assert!(p.is_running());
    let pid = p.pid();
    drop(p);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            // a zombie reaped late is fine; a live process is not
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true)
        }
    );
}
