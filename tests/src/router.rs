//! A `belay run` process inside a namespace, with its own config file and
//! status socket, and helpers to read its status document.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::{Netns, Proc, belay_bin, wait_until};

/// One `[vrrp_instance.NAME]` table, written as TOML by [`VrrpSpec::toml`].
#[derive(Debug, Clone)]
pub struct VrrpSpec {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    pub version: u8,
    pub advert_interval: String,
    pub vips: Vec<String>,
    pub preempt: bool,
    pub preempt_delay: Option<String>,
    pub unicast_src: Option<String>,
    pub unicast_peers: Vec<String>,
    /// Extra `key = value` lines for the instance table.
    pub extra: Vec<String>,
}

impl VrrpSpec {
    /// VRRPv3 on eth0, 100 ms adverts, GARP second burst off (tests are short).
    pub fn v3(vrid: u8, priority: u8, vip: &str) -> VrrpSpec {
        VrrpSpec {
            name: "VI_1".into(),
            interface: "eth0".into(),
            vrid,
            priority,
            version: 3,
            advert_interval: "100ms".into(),
            vips: vec![vip.into()],
            preempt: true,
            preempt_delay: None,
            unicast_src: None,
            unicast_peers: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn toml(&self) -> String {
        let q = |s: &str| format!("\"{s}\"");
        let list = |v: &[String]| v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ");
        let mut t = format!(
            "[vrrp_instance.{}]\ninterface = {}\nvrid = {}\npriority = {}\nversion = {}\n\
             advert_interval = {}\nvirtual_ipaddress = [{}]\npreempt = {}\n",
            self.name,
            q(&self.interface),
            self.vrid,
            self.priority,
            self.version,
            q(&self.advert_interval),
            list(&self.vips),
            self.preempt,
        );
        if let Some(d) = &self.preempt_delay {
            t += &format!("preempt_delay = {}\n", q(d));
        }
        if let Some(s) = &self.unicast_src {
            t += &format!("unicast_src = {}\n", q(s));
        }
        if !self.unicast_peers.is_empty() {
            t += &format!("unicast_peers = [{}]\n", list(&self.unicast_peers));
        }
        for l in &self.extra {
            t += l;
            t.push('\n');
        }
        t += &format!("[vrrp_instance.{}.garp]\ndelay = \"0s\"\n", self.name);
        t
    }
}

/// A running `belay run`.
pub struct Router {
    pub proc: Proc,
    pub socket: PathBuf,
    pub config: PathBuf,
    pub label: String,
}

fn unique() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Router {
    /// Writes a config with `instances` and starts `belay run` in `ns`.
    pub fn start(ns: &Netns, label: &str, instances: &[VrrpSpec]) -> Router {
        let body: String = instances
            .iter()
            .map(VrrpSpec::toml)
            .collect::<Vec<_>>()
            .join("\n");
        Router::start_raw(ns, label, &body)
    }

    /// Starts `belay run` with `[global]` filled in and `body` appended.
    pub fn start_raw(ns: &Netns, label: &str, body: &str) -> Router {
        Router::start_with_global(ns, label, "", body)
    }

    /// As [`Router::start_raw`], with `global` (`key = value` lines) added
    /// to the `[global]` table.
    pub fn start_with_global(ns: &Netns, label: &str, global: &str, body: &str) -> Router {
        let base = std::env::temp_dir().join(format!(
            "belay-test-{}-{}-{label}",
            std::process::id(),
            unique()
        ));
        let socket = base.with_extension("sock");
        let config = base.with_extension("toml");
        let text = format!(
            "[global]\nrouter_id = \"{label}\"\nstatus_socket = \"{}\"\n{global}\n\n{body}",
            socket.display()
        );
        std::fs::write(&config, text).expect("write config");
        let mut cmd = ns.command(belay_bin());
        cmd.arg("run").arg("-c").arg(&config);
        cmd.env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
        let proc = Proc::spawn(label, cmd);
        let r = Router {
            proc,
            socket,
            config,
            label: label.to_owned(),
        };
        // The status socket opens once the stock plugins are loaded: with a
        // cold plugin cache on a loaded machine, that takes seconds.
        let what = format!("{label}: status socket answers");
        wait_until(Duration::from_secs(30), &what, || r.status().is_some());
        r
    }

    /// The status document, or `None` if the daemon does not answer.
    pub fn status(&self) -> Option<Value> {
        let mut s = UnixStream::connect(&self.socket).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /status HTTP/1.0\r\nHost: t\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (_, body) = text.split_once("\r\n\r\n")?;
        serde_json::from_str(body).ok()
    }

    /// One instance's status object.
    pub fn instance(&self, name: &str) -> Option<Value> {
        let doc = self.status()?;
        doc["instances"]
            .as_array()?
            .iter()
            .find(|i| i["name"] == name)
            .cloned()
    }

    /// `MASTER`, `BACKUP`, `FAULT`, `INIT`; `None` if unreachable.
    pub fn state(&self, name: &str) -> Option<String> {
        Some(self.instance(name)?["state"].as_str()?.to_owned())
    }

    /// A counter under `counters` (e.g. `adverts_sent`) or `counters.drops` (e.g. `ttl_not_255`).
    pub fn counter(&self, name: &str, key: &str) -> u64 {
        let Some(i) = self.instance(name) else {
            return 0;
        };
        let c = &i["counters"];
        c[key]
            .as_u64()
            .or_else(|| c["drops"][key].as_u64())
            .unwrap_or(0)
    }

    /// Waits until the instance reports `state`; returns how long it took.
    #[track_caller]
    pub fn wait_state(&self, name: &str, state: &str, timeout: Duration) -> Duration {
        let what = format!("{} {name} to be {state}", self.label);
        wait_until(timeout, &what, || {
            self.state(name).as_deref() == Some(state)
        })
    }

    pub fn signal(&self, sig: Signal) {
        self.proc.signal(sig);
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        self.proc.wait_exit(timeout)
    }

    pub fn log(&self) -> String {
        self.proc.log_text()
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Whether `from` gets an answer to one ping of `addr` (1 s timeout).
pub fn pings(from: &Netns, addr: &str) -> bool {
    from.output("ping", &["-c1", "-W1", "-n", "-q", addr])
        .status
        .success()
}
