//! Checks drive failover: two belay nodes, each checking a real HTTP
//! service in its own namespace with the stock `http` plugin. Stopping the
//! master's service moves the VIP within fall × interval + skew + one advert
//! interval, and the log says why; restoring it brings the VIP back
//! (preempt) or leaves it (nopreempt). A weight-0 check faults the instance.

use std::time::{Duration, Instant};

use belay_tests::{Lan, Netns, Proc, Router, belay_bin, pings, require_root, wait_until};

const VIP: &str = "192.0.2.100";
const T: Duration = Duration::from_secs(10);

/// A real HTTP server on 127.0.0.1:8080 inside a namespace (belay's demo
/// target: `/` answers 200).
fn web(ns: &Netns) -> Proc {
    let mut cmd = ns.command(belay_bin());
    cmd.args(["demo-target", "--http-port", "8080"]);
    let p = Proc::spawn("web", cmd);
    wait_until(T, "web server listening", || {
        ns.output("bash", &["-c", "exec 3<>/dev/tcp/127.0.0.1/8080"])
            .status
            .success()
    });
    p
}

/// Node config: the check every 100 ms, fall 1, VRRPv3 100 ms adverts.
fn node(prio: u8, weight: i32, extra: &str) -> String {
    format!(
        "[check.web]\nplugin = \"http\"\ntarget = \"127.0.0.1:8080\"\ninterval = \"100ms\"\ntimeout = \"100ms\"\n\
         fall = 1\nrise = 1\nwarmup = \"0s\"\nparams = {{ path = \"/\" }}\n\n\
         [vrrp_instance.VI_1]\ninterface = \"eth0\"\nvrid = 91\npriority = {prio}\nadvert_interval = \"100ms\"\n\
         virtual_ipaddress = [\"{VIP}/24\"]\ntrack = [{{ check = \"web\", weight = {weight} }}]\n{extra}\n\
         [vrrp_instance.VI_1.garp]\ndelay = \"0s\"\n"
    )
}

fn lan() -> Lan {
    let mut lan = Lan::with_hosts(2);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.2/24");
    lan.host(2).add_addr("eth0", "192.0.2.50/24");
    lan
}

fn service_death_moves_the_vip(preempt: bool) {
    let lan = lan();
    let web_a = web(lan.host(0));
    let _web_b = web(lan.host(1));
    let extra = format!("resign_below = 100\npreempt = {preempt}");
    let a = Router::start_raw(lan.host(0), "a", &node(200, -150, &extra));
    let b = Router::start_raw(
        lan.host(1),
        "b",
        &node(100, -50, &format!("preempt = {preempt}")),
    );
    a.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
    wait_until(T, "client reaches the VIP on a", || pings(lan.host(2), VIP));

    let died = Instant::now();
    web_a.signal(nix::sys::signal::Signal::SIGKILL);
    b.wait_state("VI_1", "MASTER", T);
    let took = died.elapsed();
    // fall × interval (100 ms) + skew (~61 ms at priority 100) + one advert
    // interval (100 ms) = 261 ms; polling the status socket adds a little.
    assert!(
        took < Duration::from_millis(400),
        "VIP moved after {took:?}\n{}",
        a.log()
    );
    wait_until(T, "VIP left a", || !lan.host(0).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP on b", || pings(lan.host(2), VIP));
    let ai = a.instance("VI_1").unwrap();
    assert_eq!(ai["last_transition"]["reason"], "resigned");
    assert!(
        ai["tracking"]["explain"]
            .as_str()
            .unwrap()
            .contains("check web failing"),
        "{ai}"
    );
    let log = a.log();
    assert!(
        log.contains("tracking: priority changed") && log.contains("check web"),
        "the log says why:\n{log}"
    );
    let checks = &a.status().unwrap()["checks"];
    assert_eq!(checks[0]["state"], "down", "{checks}");

    let _web_a = web(lan.host(0));
    if preempt {
        a.wait_state("VI_1", "MASTER", T);
        b.wait_state("VI_1", "BACKUP", T);
        wait_until(T, "VIP back on a", || lan.host(0).has_addr("eth0", VIP));
    } else {
        wait_until(T, "a sees its check up again", || {
            a.instance("VI_1").is_some_and(|i| i["priority"] == 200)
        });
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            a.state("VI_1").as_deref(),
            Some("BACKUP"),
            "nopreempt: the VIP stays on b"
        );
        assert_eq!(b.state("VI_1").as_deref(), Some("MASTER"));
    }
    wait_until(T, "client reaches the VIP", || pings(lan.host(2), VIP));
}

#[test]
fn service_death_moves_the_vip_and_preemption_brings_it_back() {
    if !require_root("service_death_moves_the_vip_and_preemption_brings_it_back") {
        return;
    }
    service_death_moves_the_vip(true);
}

#[test]
fn service_death_moves_the_vip_and_nopreempt_keeps_it_there() {
    if !require_root("service_death_moves_the_vip_and_nopreempt_keeps_it_there") {
        return;
    }
    service_death_moves_the_vip(false);
}

#[test]
fn a_weight_0_check_faults_the_instance_and_releases_the_vip() {
    if !require_root("a_weight_0_check_faults_the_instance_and_releases_the_vip") {
        return;
    }
    let lan = lan();
    let web_a = web(lan.host(0));
    let _web_b = web(lan.host(1));
    let a = Router::start_raw(lan.host(0), "a", &node(200, 0, ""));
    let b = Router::start_raw(lan.host(1), "b", &node(100, 0, ""));
    a.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
    web_a.signal(nix::sys::signal::Signal::SIGKILL);
    a.wait_state("VI_1", "FAULT", T);
    b.wait_state("VI_1", "MASTER", T);
    assert!(!lan.host(0).has_addr("eth0", VIP));
    assert_eq!(
        a.instance("VI_1").unwrap()["last_transition"]["reason"],
        "fault_tracking"
    );
    wait_until(T, "client reaches the VIP on b", || pings(lan.host(2), VIP));
}
