//! The real daemon on a real NAT data path, driven by real checks, inside
//! UML (this machine's kernel has no IPVS): `belay run -c FILE` in the
//! director namespace programs the kernel's IPVS from a TOML config whose
//! real servers each have a stock `tcp` or `http` check (wasm, in the
//! daemon's wasmtime runtime). A client namespace opens connections to the
//! VIP; real-server namespaces answer with their names. Backends are really
//! stopped (connections refused) or made sick (HTTP 503); every assertion is
//! about the daemon's status document, `belay status`, `ipvsadm -Ln` and
//! where new connections land.
//!
//! Inside UML the daemon runs with `max_concurrent_checks = 4`: its default
//! (1000 pool slots, about 8 GiB of address space each) cannot be reserved
//! in the guest, and the daemon would exit with "failed to create memory
//! pool mapping". Compiling the stock plugins inside UML takes 3-20 s (page
//! faults are slow there), so the outer test compiles them into a plugin
//! cache on the host first and shares that directory with the guest.

use std::collections::BTreeMap;
use std::time::Duration;

use belay_tests::ipvs_lab::{Backend, Lab, VIP, dest_line, rs_addr, sorry_addr};
use belay_tests::uml;
use belay_tests::{Router, TempDir, belay_bin, require_root, wait_until};
use nix::sys::signal::Signal;
use serde_json::Value;

const INNER: &[&str] = &[
    "kernel_daemon_tcp_check_failure_removes_backend_and_recovery_restores_it",
    "kernel_daemon_http_check_failure_with_inhibit_sets_weight_zero",
    "kernel_daemon_quorum_loss_by_check_failure_switches_to_sorry_server",
];

#[test]
fn ipvs_daemon_with_checks_in_uml() {
    if uml::in_uml() || !require_root("ipvs_daemon_with_checks_in_uml") {
        return;
    }
    let cache = TempDir::new("uml-plugin-cache");
    uml::warm_plugin_cache(cache.path());
    let dir = cache.path().to_str().expect("UTF-8 temp dir");
    let run = uml::run_inner_tests_with(
        "ipvs-daemon",
        INNER,
        &[(CACHE_ENV, dir)],
        Some(cache.path()),
    );
    run.assert_tests_passed(INNER.len());
    eprintln!("UML boot with {} daemon tests: {:?}", INNER.len(), run.wall);
}

const T: Duration = Duration::from_secs(10);

/// The plugin cache the outer test warmed on the host (shared with the
/// guest); without it, the guest's tmpfs (the first daemon compiles).
const CACHE_ENV: &str = "BELAY_UML_PLUGIN_CACHE";

/// `[global]` lines for `belay run` to fit in the guest (see the module doc).
fn uml_global() -> String {
    let cache = std::env::var(CACHE_ENV).unwrap_or_else(|_| "/run/tmp/belay-cache".into());
    format!("max_concurrent_checks = 4\ncache_dir = {cache:?}")
}

/// How each real server is checked.
#[derive(Clone, Copy)]
enum Check {
    Tcp,
    Http,
}

/// `[check.rsN]` for both real servers and `[virtual_server.www]` with
/// weights 1 and 2; `vs_extra` adds lines to the virtual server.
fn config(check: Check, vs_extra: &str) -> String {
    let mut c = String::new();
    for i in 0..2 {
        c += &format!(
            "[check.rs{i}]\ntarget = \"{}\"\ninterval = \"200ms\"\ntimeout = \"200ms\"\n\
             rise = 1\nfall = 1\nwarmup = \"0s\"\n",
            rs_addr(i)
        );
        c += match check {
            Check::Tcp => "plugin = \"tcp\"\n\n",
            Check::Http => "plugin = \"http\"\nparams = { path = \"/\", status = \"200\" }\n\n",
        };
    }
    c += &format!(
        "[virtual_server.www]\naddress = \"{VIP}\"\nscheduler = \"rr\"\nforwarding = \"nat\"\n{vs_extra}\n"
    );
    for i in 0..2 {
        c += &format!(
            "\n[[virtual_server.www.real_server]]\naddress = \"{}\"\nweight = {}\nchecks = [\"rs{i}\"]\n",
            rs_addr(i),
            1 + i
        );
    }
    c
}

/// `belay run` in the director namespace.
struct Daemon {
    router: Router,
}

impl Daemon {
    /// Starts the daemon and waits until both real servers' checks passed
    /// and the kernel table has them.
    fn start(lab: &Lab, config: &str) -> Daemon {
        let router = Router::start_with_global(&lab.lb, "lb", &uml_global(), config);
        let d = Daemon { router };
        d.wait_rs(0, "up", Some(1));
        d.wait_rs(1, "up", Some(2));
        d
    }

    /// The virtual server's status object.
    fn vs(&self) -> Value {
        self.router
            .status()
            .map(|doc| doc["virtual_servers"][0].clone())
            .unwrap_or(Value::Null)
    }

    /// Waits until real server `i` has `health` and is in the table with
    /// `table_weight` (`None`: not in the table). The engine publishes a
    /// status only once the kernel was reconciled for it.
    #[track_caller]
    fn wait_rs(&self, i: usize, health: &str, table_weight: Option<u32>) {
        let want_tw = table_weight.map_or(Value::Null, Value::from);
        let what = format!("real server {i} {health}, table weight {table_weight:?}");
        wait_until(T, &what, || {
            let rs = &self.vs()["real_servers"][i];
            rs["health"] == health && rs["table_weight"] == want_tw
        });
    }

    /// The check's state in the status document.
    fn check_state(&self, name: &str) -> Value {
        self.router
            .status()
            .and_then(|doc| {
                doc["checks"]
                    .as_array()?
                    .iter()
                    .find(|c| c["name"] == name)
                    .map(|c| c["state"].clone())
            })
            .unwrap_or(Value::Null)
    }

    /// `belay status` (text) with runs of spaces squeezed, one line each.
    fn status_text(&self) -> Vec<String> {
        let out = std::process::Command::new(belay_bin())
            .arg("status")
            .arg("--socket")
            .arg(&self.router.socket)
            .output()
            .expect("run belay status");
        assert!(out.status.success(), "belay status: {out:?}");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[track_caller]
    fn assert_status_shows(&self, lines: &[String]) {
        let text = self.status_text();
        for want in lines {
            assert!(
                text.iter().any(|l| l == want),
                "`belay status` lacks `{want}`:\n{}",
                text.join("\n")
            );
        }
    }

    /// SIGTERM: the daemon exits 0 and its service leaves the table.
    fn stop(mut self, lab: &Lab) {
        self.router.signal(Signal::SIGTERM);
        let st = self.router.wait_exit(T);
        assert!(
            st.success(),
            "belay exited with {st}:\n{}",
            self.router.log()
        );
        let t = lab.table();
        assert!(!t.contains(VIP), "service left behind after stop:\n{t}");
    }
}

fn rs_line(i: usize, health: &str, weight: u32, table: &str) -> String {
    format!("-> {} {health} weight {weight}{table}", rs_addr(i))
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_daemon_with_checks_in_uml"]
fn kernel_daemon_tcp_check_failure_removes_backend_and_recovery_restores_it() {
    let lab = Lab::new();
    let _b0 = Backend::start(&lab.rs[0], "rs0", rs_addr(0));
    let b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    let d = Daemon::start(&lab, &config(Check::Tcp, ""));
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(0)).as_deref(), Some("Masq 1"), "{t}");
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 2"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("rs0"), Some(&3), "rr over both: {seen:?}");
    assert_eq!(seen.get("rs1"), Some(&3), "rr over both: {seen:?}");
    d.assert_status_shows(&[
        format!("virtual server www {VIP}/tcp weight 3/1"),
        rs_line(0, "up", 1, ""),
        rs_line(1, "up", 2, ""),
    ]);

    // rs1 dies: its tcp check is refused, the check goes down, rs1 leaves
    // the table and every new connection reaches rs0.
    drop(b1);
    d.wait_rs(1, "down", None);
    assert_eq!(d.check_state("rs1"), "down");
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)), None, "{t}");
    assert_eq!(dest_line(&t, rs_addr(0)).as_deref(), Some("Masq 1"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(
        seen,
        BTreeMap::from([("rs0".to_owned(), 6)]),
        "all new connections to the healthy one"
    );
    d.assert_status_shows(&[
        format!("virtual server www {VIP}/tcp weight 1/1"),
        rs_line(1, "down", 2, " (not in table)"),
    ]);

    // rs1 comes back: its check passes and it returns with its weight.
    let _b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    d.wait_rs(1, "up", Some(2));
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 2"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("rs0"), Some(&3), "{seen:?}");
    assert_eq!(seen.get("rs1"), Some(&3), "{seen:?}");
    d.assert_status_shows(&[rs_line(1, "up", 2, "")]);
    let log = d.router.log();
    assert!(
        log.contains("check is down") && log.contains("rs1"),
        "{log}"
    );
    d.stop(&lab);
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_daemon_with_checks_in_uml"]
fn kernel_daemon_http_check_failure_with_inhibit_sets_weight_zero() {
    let lab = Lab::new();
    let _b0 = Backend::start(&lab.rs[0], "rs0", rs_addr(0));
    let b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    let d = Daemon::start(&lab, &config(Check::Http, "inhibit_on_failure = true"));

    // rs1 still accepts connections but answers 503: only the http check
    // can tell. It stays in the table with weight 0, so the kernel sends it
    // no new connections although it would answer them.
    b1.set_healthy(false);
    d.wait_rs(1, "down", Some(0));
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 0"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(
        seen,
        BTreeMap::from([("rs0".to_owned(), 6)]),
        "weight 0 gets no new connections"
    );
    d.assert_status_shows(&[rs_line(1, "down", 2, " (table 0)")]);

    b1.set_healthy(true);
    d.wait_rs(1, "up", Some(2));
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(1)).as_deref(), Some("Masq 2"), "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("rs1"), Some(&3), "{seen:?}");
    d.stop(&lab);
}

#[test]
#[ignore = "needs kernel IPVS: runs inside UML via ipvs_daemon_with_checks_in_uml"]
fn kernel_daemon_quorum_loss_by_check_failure_switches_to_sorry_server() {
    let lab = Lab::new();
    let _b0 = Backend::start(&lab.rs[0], "rs0", rs_addr(0));
    let b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    let _s = Backend::start(&lab.sorry, "sorry", sorry_addr());
    // Weights 1 + 2; quorum 2: losing rs1 (weight 2) leaves 1 < 2.
    let d = Daemon::start(
        &lab,
        &config(
            Check::Tcp,
            &format!(
                "quorum = 2\nsorry_server = {{ address = \"{}\" }}",
                sorry_addr()
            ),
        ),
    );
    let t = lab.table();
    assert_eq!(
        dest_line(&t, sorry_addr()),
        None,
        "unused with quorum:\n{t}"
    );

    drop(b1);
    wait_until(T, "quorum lost and the sorry server in use", || {
        let vs = d.vs();
        vs["quorum_up"] == false && vs["sorry_server_active"] == true
    });
    let t = lab.table();
    assert_eq!(dest_line(&t, rs_addr(0)), None, "live servers leave:\n{t}");
    assert_eq!(dest_line(&t, rs_addr(1)), None, "{t}");
    assert!(dest_line(&t, sorry_addr()).is_some(), "{t}");
    let seen = lab.fetch(4);
    assert_eq!(seen, BTreeMap::from([("sorry".to_owned(), 4)]));
    d.assert_status_shows(&[
        format!("virtual server www {VIP}/tcp weight 1/2, sorry server"),
        rs_line(0, "up", 1, " (not in table)"),
        rs_line(1, "down", 2, " (not in table)"),
    ]);

    let _b1 = Backend::start(&lab.rs[1], "rs1", rs_addr(1));
    d.wait_rs(1, "up", Some(2));
    d.wait_rs(0, "up", Some(1));
    let t = lab.table();
    assert_eq!(dest_line(&t, sorry_addr()), None, "{t}");
    let seen = lab.fetch(6);
    assert_eq!(seen.get("sorry"), None, "{seen:?}");
    assert_eq!(seen.values().sum::<usize>(), 6, "{seen:?}");
    assert_eq!(d.vs()["sorry_server_active"], false);
    d.stop(&lab);
}
