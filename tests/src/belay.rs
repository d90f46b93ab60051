//! belay itself as a VRRP router in a test namespace: a generated TOML config
//! and status socket in a private temp dir, `belay run -c FILE`, killed by PID.

use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::bins::belay_bin;
use crate::failover::{RouterSpec, VrrpDaemon};
use crate::netns::Netns;
use crate::probe::mono_ns;
use crate::process::Proc;

/// A running `belay run` in a namespace.
pub struct Belay {
    proc: Proc,
    dir: tempfile::TempDir,
    ns: String,
    interface: String,
    vips: Vec<String>,
}

/// The `[global]` and `[vrrp_instance.NAME]` tables for `spec`.
pub fn render_config(spec: &RouterSpec, dir: &std::path::Path) -> String {
    let mut c = String::new();
    c += "[global]\n";
    c += &format!("router_id = {:?}\n", spec.name);
    c += &format!(
        "status_socket = {:?}\n",
        dir.join("belay.sock").display().to_string()
    );
    c += &format!(
        "cache_dir = {:?}\n",
        dir.join("cache").display().to_string()
    );
    c += &format!("\n[vrrp_instance.{}]\n", spec.name);
    c += &format!("interface = {:?}\n", spec.interface);
    c += &format!("vrid = {}\n", spec.vrid);
    c += &format!("priority = {}\n", spec.priority);
    c += &format!("version = {}\n", spec.version);
    c += &format!("advert_interval = \"{}ms\"\n", spec.advert.as_millis());
    c += &format!("virtual_ipaddress = {:?}\n", spec.vips);
    c += &format!("preempt = {}\n", spec.preempt);
    if let Some(p) = &spec.auth_pass {
        c += &format!("auth_type = \"pass\"\nauth_pass = {p:?}\n");
    }
    if let Some((src, peers)) = &spec.unicast {
        c += &format!("unicast_src = {src:?}\nunicast_peers = {peers:?}\n");
    }
    c
}

impl Belay {
    /// Writes the config and starts `belay run` in `ns`; returns once the
    /// process is running (state waits are separate).
    pub fn start(ns: &Netns, spec: &RouterSpec) -> Belay {
        let dir = tempfile::Builder::new()
            .prefix(&format!("belay-run-{}-", spec.name))
            .tempdir()
            .expect("belay temp dir");
        let conf = dir.path().join("belay.toml");
        std::fs::write(&conf, render_config(spec, dir.path())).expect("write belay.toml");
        let mut cmd = ns.command(belay_bin());
        cmd.arg("run").arg("-c").arg(&conf);
        let proc = Proc::spawn(&format!("belay-{}", spec.name), cmd);
        Belay {
            proc,
            dir,
            ns: ns.name().to_owned(),
            interface: spec.interface.clone(),
            vips: spec
                .vips
                .iter()
                .map(|v| v.split('/').next().unwrap_or(v).to_owned())
                .collect(),
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("belay.toml")
    }

    fn holds_vips(&self) -> bool {
        let ns = NsRef(&self.ns);
        self.vips.iter().all(|v| ns.has_addr(&self.interface, v))
    }
}

/// Reads addresses of a namespace we do not own (no Drop).
struct NsRef<'a>(&'a str);

impl NsRef<'_> {
    fn has_addr(&self, dev: &str, addr: &str) -> bool {
        let out = std::process::Command::new("ip")
            .args(["-n", self.0, "-j", "addr", "show", "dev", dev])
            .output();
        let Ok(out) = out else { return false };
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .any(|a| a["local"].as_str() == Some(addr))
    }
}

impl VrrpDaemon for Belay {
    fn kill9(&mut self) {
        self.proc.signal(Signal::SIGKILL);
        self.proc.wait_exit(Duration::from_secs(5));
    }

    fn signal_term(&mut self) {
        self.proc.signal(Signal::SIGTERM);
    }

    fn wait_exit(&mut self, timeout: Duration) {
        self.proc.wait_exit(timeout);
    }

    fn wait_master(&self, after: u64, timeout: Duration) -> u64 {
        let _ = after;
        crate::wait_until(timeout, "belay holds its VIPs (master)", || {
            self.holds_vips()
        });
        mono_ns()
    }

    fn wait_backup(&self, timeout: Duration) {
        crate::wait_until(timeout, "belay released its VIPs (backup)", || {
            !self.holds_vips()
        });
    }

    fn pids(&self) -> Vec<i32> {
        vec![self.proc.pid()]
    }

    fn log_text(&self) -> String {
        self.proc.log_text()
    }
}
