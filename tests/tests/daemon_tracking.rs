//! Issue 4 without checks: tracked interfaces (weight 0 → FAULT, weights →
//! priority), health-driven resignation, sync groups, notify hooks — real
//! belay processes on a bridge, a client pinging the VIP.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use belay_tests::{Lan, Router, VrrpSpec, pings, require_root, wait_until};
use nix::sys::signal::Signal;

const VIP: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";
const T: Duration = Duration::from_secs(5);

/// h0, h1 routers (192.0.2.1, .2), h2 client (.50). h0 also gets an
/// `uplink` interface to track (a veth pair inside h0: this kernel has no
/// dummy driver).
fn lan() -> Lan {
    let mut lan = Lan::with_hosts(2);
    lan.add_host("client");
    lan.host(0).add_addr("eth0", "192.0.2.1/24");
    lan.host(1).add_addr("eth0", "192.0.2.2/24");
    lan.host(2).add_addr("eth0", "192.0.2.50/24");
    lan.host(0).ip(&[
        "link",
        "add",
        "uplink",
        "type",
        "veth",
        "peer",
        "name",
        "uplink-peer",
    ]);
    lan.host(0).link_set("uplink-peer", true);
    lan.host(0).link_set("uplink", true);
    lan
}

fn spec(vrid: u8, prio: u8, vip: &str, extra: &[&str]) -> VrrpSpec {
    let mut s = VrrpSpec::v3(vrid, prio, &format!("{vip}/24"));
    s.extra = extra.iter().map(|l| l.to_string()).collect();
    s
}

/// A temp directory removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("belay-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.0.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn tracked_interface_down_is_fault_and_the_vip_moves() {
    if !require_root("tracked_interface_down_is_fault_and_the_vip_moves") {
        return;
    }
    let lan = lan();
    let m = Router::start(
        lan.host(0),
        "m",
        &[spec(
            81,
            200,
            VIP,
            &["track = [{ interface = \"uplink\" }]"],
        )],
    );
    let b = Router::start(lan.host(1), "b", &[spec(81, 100, VIP, &[])]);
    m.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);

    lan.host(0).link_set("uplink", false);
    m.wait_state("VI_1", "FAULT", T);
    b.wait_state("VI_1", "MASTER", T);
    assert!(!lan.host(0).has_addr("eth0", VIP));
    wait_until(T, "client reaches the VIP on h1", || {
        pings(lan.host(2), VIP)
    });
    let tracking = &m.instance("VI_1").unwrap()["tracking"];
    assert_eq!(tracking["fault"], true, "{tracking}");
    assert!(
        tracking["explain"]
            .as_str()
            .unwrap()
            .contains("FAULT (interface uplink failing)"),
        "{tracking}"
    );
    assert!(
        m.log().contains("tracking: FAULT"),
        "log says why:\n{}",
        m.log()
    );

    lan.host(0).link_set("uplink", true);
    m.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
}

/// A weighted track drops the master below the backup: it resigns with a
/// priority-0 advert (the backup takes over after its skew, not after the
/// master-down interval), does not flap back while degraded, and preempts
/// again once healthy.
#[test]
fn a_weighted_track_failure_resigns_at_once_without_flapping_back() {
    if !require_root("a_weighted_track_failure_resigns_at_once_without_flapping_back") {
        return;
    }
    let lan = lan();
    let m = Router::start(
        lan.host(0),
        "m",
        &[spec(
            82,
            200,
            VIP,
            &[
                "track = [{ interface = \"uplink\", weight = -150 }]",
                "resign_below = 100",
            ],
        )],
    );
    let b = Router::start(lan.host(1), "b", &[spec(82, 100, VIP, &[])]);
    m.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);

    let cut = Instant::now();
    lan.host(0).link_set("uplink", false);
    b.wait_state("VI_1", "MASTER", T);
    let took = cut.elapsed();
    // Without resigning the backup would wait 3 × 100 ms + skew (> 360 ms).
    assert!(took < Duration::from_millis(300), "takeover took {took:?}");
    let mi = m.instance("VI_1").unwrap();
    assert_eq!(mi["state"], "BACKUP");
    assert_eq!(mi["priority"], 50);
    assert_eq!(mi["last_transition"]["reason"], "resigned");
    assert!(b.counter("VI_1", "priority_zero_received") >= 1);
    wait_until(T, "client reaches the VIP on h1", || {
        pings(lan.host(2), VIP)
    });

    // Degraded (50 < 100): it must not take the VIP back. 10 adverts' worth.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(
        m.state("VI_1").as_deref(),
        Some("BACKUP"),
        "flapped back:\n{}",
        m.log()
    );
    assert_eq!(b.state("VI_1").as_deref(), Some("MASTER"));

    lan.host(0).link_set("uplink", true);
    m.wait_state("VI_1", "MASTER", T);
    b.wait_state("VI_1", "BACKUP", T);
    assert_eq!(m.instance("VI_1").unwrap()["priority"], 200);
}

/// Two instances in a sync group: when one faults (its tracked link), the
/// other follows, and both VIPs move to the other node together.
#[test]
fn a_sync_group_moves_together() {
    if !require_root("a_sync_group_moves_together") {
        return;
    }
    let lan = lan();
    let group = "[sync_group.edge]\ninstances = [\"VI_1\", \"VI_2\"]\n";
    let mk = |prio: u8, track: bool| {
        let mut a = spec(83, prio, VIP, &[]);
        let mut b = spec(
            84,
            prio,
            VIP2,
            if track {
                &["track = [{ interface = \"uplink\" }]"]
            } else {
                &[]
            },
        );
        a.name = "VI_1".into();
        b.name = "VI_2".into();
        format!("{}\n{}\n{group}", a.toml(), b.toml())
    };
    let m = Router::start_raw(lan.host(0), "m", &mk(200, true));
    let b = Router::start_raw(lan.host(1), "b", &mk(100, false));
    for i in ["VI_1", "VI_2"] {
        m.wait_state(i, "MASTER", T);
        b.wait_state(i, "BACKUP", T);
    }
    lan.host(0).link_set("uplink", false);
    m.wait_state("VI_2", "FAULT", T);
    m.wait_state("VI_1", "FAULT", T);
    for i in ["VI_1", "VI_2"] {
        b.wait_state(i, "MASTER", T);
    }
    assert_eq!(
        m.instance("VI_1").unwrap()["last_transition"]["reason"],
        "fault_sync_group"
    );
    for vip in [VIP, VIP2] {
        assert!(!lan.host(0).has_addr("eth0", vip));
        wait_until(T, "client reaches the VIPs on h1", || {
            pings(lan.host(2), vip)
        });
    }
    lan.host(0).link_set("uplink", true);
    for i in ["VI_1", "VI_2"] {
        m.wait_state(i, "MASTER", T);
        b.wait_state(i, "BACKUP", T);
    }
}

/// Hooks run in order per instance, the state's own command first, then
/// the generic one with Keepalived's TYPE NAME STATE PRIORITY; STOP runs on
/// SIGTERM before the daemon exits.
#[test]
fn notify_hooks_run_in_order_with_keepalived_arguments() {
    if !require_root("notify_hooks_run_in_order_with_keepalived_arguments") {
        return;
    }
    let lan = lan();
    let dir = TempDir::new("notify");
    let log = dir.0.join("calls");
    let any = dir.script("any.sh", &format!("echo \"any $*\" >> {}", log.display()));
    let master = dir.script(
        "master.sh",
        &format!("sleep 0.2; echo \"master $*\" >> {}", log.display()),
    );
    let notify = format!(
        "[vrrp_instance.VI_1.notify]\nmaster = \"{} x\"\nany = \"{}\"\n",
        master.display(),
        any.display()
    );
    let body = format!("{}\n{notify}", spec(85, 150, VIP, &[]).toml());
    let mut m = Router::start_raw(lan.host(0), "m", &body);
    m.wait_state("VI_1", "MASTER", T);
    wait_until(T, "hooks for BACKUP and MASTER ran", || {
        lines(&log).len() >= 3
    });
    m.signal(Signal::SIGTERM);
    assert!(m.wait_exit(T).success());
    assert_eq!(
        lines(&log),
        vec![
            "any INSTANCE VI_1 BACKUP 150",
            "master x",
            "any INSTANCE VI_1 MASTER 150",
            "any INSTANCE VI_1 STOP 150",
        ]
    );
}

/// A hook that hangs is killed at its timeout and never delays adverts:
/// the advert spacing seen on the wire stays at the interval throughout.
#[test]
fn a_hanging_hook_is_killed_and_adverts_keep_their_spacing() {
    if !require_root("a_hanging_hook_is_killed_and_adverts_keep_their_spacing") {
        return;
    }
    let lan = lan();
    let dir = TempDir::new("hang");
    let hang = dir.script("hang.sh", "sleep 30");
    let notify = format!(
        "[vrrp_instance.VI_1.notify]\nmaster = \"{}\"\ntimeout = \"500ms\"\n",
        hang.display()
    );
    // Capture VRRP from h0 on the client while h0 becomes master.
    let mut cap = lan.host(2).command("tcpdump");
    cap.args([
        "-i",
        "eth0",
        "-n",
        "-tt",
        "-l",
        "-c",
        "30",
        "ip proto 112 and src 192.0.2.1",
    ]);
    let mut cap = belay_tests::Proc::spawn("tcpdump", cap);
    wait_until(T, "tcpdump listening", || {
        cap.log_text().contains("listening on")
    });
    let body = format!("{}\n{notify}", spec(86, 150, VIP, &[]).toml());
    let m = Router::start_raw(lan.host(0), "m", &body);
    m.wait_state("VI_1", "MASTER", T);
    cap.wait_exit(Duration::from_secs(10));
    let stamps: Vec<f64> = cap
        .log_text()
        .lines()
        .filter(|l| l.contains("VRRP"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        stamps.len() >= 25,
        "captured {} adverts:\n{}",
        stamps.len(),
        cap.log_text()
    );
    let worst = stamps.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    // 100 ms adverts; the hook hung for 500 ms right after the first one.
    assert!(worst < 0.15, "advert gap {worst:.3}s while the hook hung");
    wait_until(T, "the hook was killed at its timeout", || {
        m.log().contains("notify hook failed") && m.log().contains("timed out")
    });
}
