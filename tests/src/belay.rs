//! belay as a `VrrpDaemon` for the failover lab: a `RouterSpec` rendered as
//! belay's TOML, run through the lab's `Router` (status socket, Drop guard).
//!
//! Unlike `router::VrrpSpec`, the rendered instance keeps belay's default GARP
//! schedule, so it matches Keepalived's defaults in the benchmark.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::failover::{HEALTH_CHECK, RouterSpec, VrrpDaemon};
use crate::netns::Netns;
use crate::probe::mono_ns;
use crate::router::Router;

/// The instance name used in the generated config.
pub const INSTANCE: &str = "VI_1";

/// The `[vrrp_instance.VI_1]` table for `spec`, preceded by its `[check.web]`
/// table if it has a health check (the `Router` adds `[global]`).
pub fn render_instance(spec: &RouterSpec) -> String {
    let mut c = spec
        .health
        .as_ref()
        .map(|h| h.belay_check())
        .unwrap_or_default();
    c += &format!("[vrrp_instance.{INSTANCE}]\n");
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
    if let Some(h) = &spec.health {
        c += &format!(
            "track = [{{ check = \"{HEALTH_CHECK}\", weight = {} }}]\n",
            h.weight
        );
        if let Some(level) = h.resign_below {
            c += &format!("resign_below = {level}\n");
        }
    }
    c
}

/// A running `belay run` with one instance.
pub struct Belay {
    pub router: Router,
}

impl Belay {
    /// Starts belay in `ns`; returns once its status socket answers.
    pub fn start(ns: &Netns, spec: &RouterSpec) -> Belay {
        Belay {
            router: Router::start_raw(ns, &format!("belay-{}", spec.name), &render_instance(spec)),
        }
    }

    /// The instance's state (`MASTER`, `BACKUP`, ...), `None` if unreachable.
    pub fn state(&self) -> Option<String> {
        self.router.state(INSTANCE)
    }

    /// A counter of the instance (`adverts_received`, or a drop reason such
    /// as `auth_mismatch`).
    pub fn counter(&self, key: &str) -> u64 {
        self.router.counter(INSTANCE, key)
    }
}

impl VrrpDaemon for Belay {
    fn kill9(&mut self) {
        self.router.signal(Signal::SIGKILL);
        self.router.wait_exit(Duration::from_secs(5));
    }

    fn signal_term(&mut self) {
        self.router.signal(Signal::SIGTERM);
    }

    fn wait_exit(&mut self, timeout: Duration) {
        self.router.wait_exit(timeout);
    }

    fn wait_master(&self, _after: u64, timeout: Duration) -> u64 {
        self.router.wait_state(INSTANCE, "MASTER", timeout);
        mono_ns()
    }

    fn wait_backup(&self, timeout: Duration) {
        self.router.wait_state(INSTANCE, "BACKUP", timeout);
    }

    fn pids(&self) -> Vec<i32> {
        vec![self.router.proc.pid()]
    }

    fn log_text(&self) -> String {
        self.router.log()
    }

    fn as_belay(&self) -> Option<&Belay> {
        Some(self)
    }
}
