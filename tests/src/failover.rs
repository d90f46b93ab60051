//! The failover lab and its measurements, shared by the interop tests and the
//! failover benchmark: two routers and a client on one bridge, a responder on
//! each router, a prober on the client, and a VRRP daemon (Keepalived or
//! belay) per router behind one trait so the same scenario drives both.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::keepalived::{Keepalived, KeepalivedSpec, VrrpState};
use crate::lan::Lan;
use crate::netns::Netns;
use crate::probe::{DEFAULT_PORT, HTTP_PORT, Prober, Responder, Urgent, mono_ns};
use crate::process::Proc;

/// What every implementation needs to run one VRRP instance.
#[derive(Clone, Debug)]
pub struct RouterSpec {
    /// Short router name (`r1`); also the responder's id.
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// 2 or 3.
    pub version: u8,
    pub advert: Duration,
    /// VIPs with prefix (`192.0.2.100/24`).
    pub vips: Vec<String>,
    pub preempt: bool,
    /// VRRPv2 simple-text password.
    pub auth_pass: Option<String>,
    /// Unicast mode: our source address and the peers.
    pub unicast: Option<(String, Vec<String>)>,
    /// A health check of the router's own HTTP service, tracked by the
    /// instance (belay: stock `http` check; Keepalived: `vrrp_script`).
    pub health: Option<HealthSpec>,
}

/// A health check of `127.0.0.1:http_port` on the router, tracked with
/// `weight`, as each implementation's users would write it.
#[derive(Clone, Debug)]
pub struct HealthSpec {
    pub http_port: u16,
    /// belay's check interval; Keepalived's `vrrp_script` takes whole
    /// seconds only (2.2.7 rejects `0.1`), so it gets this rounded up to 1 s
    /// or more.
    pub interval: Duration,
    /// Failures in a row before the check counts as down.
    pub fall: u32,
    /// Priority change while failing (negative).
    pub weight: i32,
    /// belay's `resign_below` (`None`: its default, `"auto"`: the highest
    /// priority heard from a peer). Keepalived has no equivalent.
    pub resign_below: Option<u8>,
}

/// The check's name in both implementations' configs.
pub const HEALTH_CHECK: &str = "web";

impl HealthSpec {
    /// The benchmark's check: every 100 ms, fall 1, weight −60, and
    /// belay's default `resign_below` (`"auto"`): the master has heard no
    /// backup (backups are silent), so auto resigns on the drop.
    pub fn bench() -> HealthSpec {
        HealthSpec {
            http_port: HTTP_PORT,
            interval: Duration::from_millis(100),
            fall: 1,
            weight: HEALTH_WEIGHT,
            resign_below: None,
        }
    }

    /// Keepalived's `vrrp_script` interval: whole seconds, at least 1.
    pub fn keepalived_interval_s(&self) -> u64 {
        self.interval.as_secs_f64().ceil().max(1.0) as u64
    }

    /// The longest interval between two runs of the check in either
    /// implementation.
    pub fn slowest_interval(&self) -> Duration {
        self.interval
            .max(Duration::from_secs(self.keepalived_interval_s()))
    }

    /// belay's `[check.web]` table (the stock `http` plugin).
    pub fn belay_check(&self) -> String {
        let timeout = self.interval.min(Duration::from_secs(1));
        format!(
            "[check.{HEALTH_CHECK}]\nplugin = \"http\"\ntarget = \"127.0.0.1:{}\"\n\
             interval = \"{}ms\"\ntimeout = \"{}ms\"\nfall = {}\nrise = 1\n\
             params = {{ path = \"/\" }}\n\n",
            self.http_port,
            self.interval.as_millis(),
            timeout.as_millis(),
            self.fall
        )
    }

    /// Keepalived's `vrrp_script` block: curl probing the service.
    pub fn keepalived_script(&self) -> String {
        let iv = self.keepalived_interval_s();
        format!(
            "vrrp_script chk_{HEALTH_CHECK} {{\n    \
             script \"/usr/bin/curl -sf -o /dev/null --max-time 0.9 http://127.0.0.1:{}/\"\n    \
             interval {iv}\n    timeout {iv}\n    weight {}\n    fall {}\n    rise 1\n}}",
            self.http_port, self.weight, self.fall
        )
    }
}

impl RouterSpec {
    pub fn keepalived(&self) -> KeepalivedSpec {
        let mut k = KeepalivedSpec::new(
            self.vrid,
            self.priority,
            &self.vips.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .version(self.version)
        .advert(self.advert);
        k.interface = self.interface.clone();
        k.preempt = self.preempt;
        k.auth_pass = self.auth_pass.clone();
        k.unicast = self.unicast.clone();
        if let Some(h) = &self.health {
            k.top.push(h.keepalived_script());
            k.extra.push(format!(
                "track_script {{\n        chk_{HEALTH_CHECK}\n    }}"
            ));
        }
        k
    }

    /// RFC master-down interval for this router's priority.
    pub fn master_down(&self) -> Duration {
        self.advert * 3 + self.advert * (256 - u32::from(self.priority)) / 256
    }
}

/// A running VRRP daemon on one router, whatever its implementation.
pub trait VrrpDaemon {
    /// A crash: SIGKILL, nothing released. Returns once it is gone.
    fn kill9(&mut self);
    /// Sends SIGTERM (graceful stop: priority 0, VIPs released) without waiting.
    fn signal_term(&mut self);
    fn wait_exit(&mut self, timeout: Duration);
    /// Waits until the daemon reports MASTER at or after `after` (mono ns).
    fn wait_master(&self, after: u64, timeout: Duration) -> u64;
    /// Waits until the daemon reports BACKUP (or is already backup).
    fn wait_backup(&self, timeout: Duration);
    /// PIDs whose CPU time is the daemon's.
    fn pids(&self) -> Vec<i32>;
    fn log_text(&self) -> String;
    /// The belay daemon behind this, if it is one (for its status document).
    fn as_belay(&self) -> Option<&crate::belay::Belay> {
        None
    }
}

impl VrrpDaemon for Keepalived {
    fn kill9(&mut self) {
        Keepalived::kill9(self)
    }
    fn signal_term(&mut self) {
        Keepalived::signal_term(self)
    }
    fn wait_exit(&mut self, timeout: Duration) {
        Keepalived::wait_exit(self, timeout)
    }
    fn wait_master(&self, after: u64, timeout: Duration) -> u64 {
        self.wait_transition(VrrpState::Master, after, timeout).at
    }
    fn wait_backup(&self, timeout: Duration) {
        self.wait_state(VrrpState::Backup, timeout);
    }
    fn pids(&self) -> Vec<i32> {
        Keepalived::pids(self)
    }
    fn log_text(&self) -> String {
        Keepalived::log_text(self)
    }
}

/// Which VRRP implementation runs on a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    Keepalived,
    Belay,
}

impl Impl {
    pub fn name(self) -> &'static str {
        match self {
            Impl::Keepalived => "keepalived",
            Impl::Belay => "belay",
        }
    }

    /// Starts this implementation in `ns` and waits until it is running.
    pub fn start(self, ns: &Netns, spec: &RouterSpec) -> Box<dyn VrrpDaemon> {
        match self {
            Impl::Keepalived => Box::new(Keepalived::start(ns, &spec.name, &spec.keepalived())),
            Impl::Belay => Box::new(crate::belay::Belay::start(ns, spec)),
        }
    }
}

/// A benchmark mode: protocol version and advert interval.
#[derive(Clone, Copy, Debug)]
pub struct Mode {
    pub name: &'static str,
    pub version: u8,
    pub advert: Duration,
}

/// The modes of the benchmark (the failover scenario runs the first three by
/// default; the service-death scenario v3-1s and v3-10ms).
pub const MODES: [Mode; 4] = [
    Mode {
        name: "v2-1s",
        version: 2,
        advert: Duration::from_secs(1),
    },
    Mode {
        name: "v3-100ms",
        version: 3,
        advert: Duration::from_millis(100),
    },
    Mode {
        name: "v3-10ms",
        version: 3,
        advert: Duration::from_millis(10),
    },
    Mode {
        name: "v3-1s",
        version: 3,
        advert: Duration::from_secs(1),
    },
];

/// Addresses of the lab (documentation range).
pub const R1_IP: &str = "192.0.2.1";
pub const R2_IP: &str = "192.0.2.2";
pub const CLIENT_IP: &str = "192.0.2.10";
pub const VIP: &str = "192.0.2.100";
pub const PREFIX: u8 = 24;
/// Priorities: the backup's is 100, as in the reference measurements.
pub const MASTER_PRIORITY: u8 = 200;
pub const BACKUP_PRIORITY: u8 = 100;
/// The master's priority with a health check (as in examples/web-vip-a.toml):
/// a failing check (`HEALTH_WEIGHT`) takes it to 90, below the backup.
pub const HEALTH_MASTER_PRIORITY: u8 = 150;
pub const HEALTH_WEIGHT: i32 = -60;
const VRID: u8 = 51;
/// Probes in a row that count as "this router serves the VIP now".
const STEADY: usize = 200;

/// Two routers (`r1` the preferred master, `r2` the backup) and a client.
/// Fields drop in order: daemons stop gracefully before their namespaces go.
pub struct FailoverLab {
    /// The implementation on r1 and on r2.
    pub imps: [Impl; 2],
    pub specs: [RouterSpec; 2],
    pub daemons: [Option<Box<dyn VrrpDaemon>>; 2],
    pub prober: Option<Prober>,
    pub responders: [Option<Responder>; 2],
    /// `tcpdump` on the bridge when `BELAY_BENCH_PCAP_DIR` is set (evidence
    /// for slow runs: adverts, GARPs and probes with kernel timestamps).
    pub capture: Option<Proc>,
    pub lan: Lan,
}

/// Where `FailoverLab` writes a capture of each lab's bridge, if anywhere.
pub const PCAP_DIR_ENV: &str = "BELAY_BENCH_PCAP_DIR";

fn label_of(imps: [Impl; 2]) -> String {
    if imps[0] == imps[1] {
        imps[0].name().to_owned()
    } else {
        format!("{}+{}", imps[0].name(), imps[1].name())
    }
}

/// Host indices in `lan`.
pub const R1: usize = 0;
pub const R2: usize = 1;
pub const CLIENT: usize = 2;

impl FailoverLab {
    /// Builds the namespaces, addresses and responders; no daemons yet.
    pub fn new(imp: Impl, mode: &Mode) -> FailoverLab {
        FailoverLab::build([imp, imp], mode, None)
    }

    /// A lab where each router's responder is also an HTTP service that
    /// `health` checks, r1 at `HEALTH_MASTER_PRIORITY`; `imps[i]` runs on
    /// router `i`.
    pub fn with_health(imps: [Impl; 2], mode: &Mode, health: HealthSpec) -> FailoverLab {
        let mut lab = FailoverLab::build(imps, mode, Some(health));
        lab.specs[R1].priority = HEALTH_MASTER_PRIORITY;
        lab
    }

    /// `belay`, or `belay+keepalived` when the routers run different ones.
    pub fn label(&self) -> String {
        label_of(self.imps)
    }

    fn build(imps: [Impl; 2], mode: &Mode, health: Option<HealthSpec>) -> FailoverLab {
        let mut lan = Lan::new();
        for (role, ip) in [("r1", R1_IP), ("r2", R2_IP), ("client", CLIENT_IP)] {
            let i = lan.add_host(role);
            lan.host(i).add_addr("eth0", &format!("{ip}/{PREFIX}"));
        }
        let spec = |name: &str, priority| RouterSpec {
            name: name.into(),
            interface: "eth0".into(),
            vrid: VRID,
            priority,
            version: mode.version,
            advert: mode.advert,
            vips: vec![format!("{VIP}/{PREFIX}")],
            preempt: true,
            auth_pass: None,
            unicast: None,
            health: health.clone(),
        };
        let http = health.as_ref().map(|h| h.http_port);
        let responders = [
            Some(Responder::start_with(
                lan.host(R1),
                "r1",
                DEFAULT_PORT,
                http,
            )),
            Some(Responder::start_with(
                lan.host(R2),
                "r2",
                DEFAULT_PORT,
                http,
            )),
        ];
        let label = label_of(imps);
        let capture = std::env::var_os(PCAP_DIR_ENV).map(|dir| {
            let file = std::path::Path::new(&dir).join(format!(
                "{label}-{}{}-{}.pcap",
                if health.is_some() { "health-" } else { "" },
                mode.name,
                mono_ns()
            ));
            let mut cmd = lan.hub.command("tcpdump");
            cmd.args([
                "-i",
                "br0",
                "-n",
                "-U",
                "--immediate-mode",
                "-s",
                "128",
                "-w",
            ])
            .arg(&file);
            let p = Proc::spawn("tcpdump", cmd);
            crate::wait_until(Duration::from_secs(10), "tcpdump listening", || {
                p.log_text().contains("listening on")
            });
            p
        });
        FailoverLab {
            imps,
            specs: [spec("r1", MASTER_PRIORITY), spec("r2", BACKUP_PRIORITY)],
            daemons: [None, None],
            prober: None,
            responders,
            capture,
            lan,
        }
    }

    pub fn start_daemon(&mut self, r: usize) {
        self.daemons[r] = Some(self.imps[r].start(self.lan.host(r), &self.specs[r]));
    }

    pub fn daemon(&self, r: usize) -> &dyn VrrpDaemon {
        self.daemons[r].as_deref().expect("daemon running")
    }

    pub fn daemon_mut(&mut self, r: usize) -> &mut Box<dyn VrrpDaemon> {
        self.daemons[r].as_mut().expect("daemon running")
    }

    pub fn start_prober(&mut self) {
        let target: SocketAddr = format!("{VIP}:{DEFAULT_PORT}").parse().expect("addr");
        self.prober = Some(Prober::start(
            self.lan.host(CLIENT),
            target,
            Duration::from_millis(1),
            Some("eth0"),
        ));
    }

    pub fn prober(&self) -> &Prober {
        self.prober.as_ref().expect("prober started")
    }

    /// Generous bound for anything that takes a few master-down intervals.
    pub fn patience(&self) -> Duration {
        self.specs[R2].master_down() * 4 + Duration::from_secs(5)
    }

    /// r2 then r1 start as backups; r1 wins by priority and serves the VIP.
    pub fn elect(&mut self) {
        let t0 = mono_ns();
        self.start_daemon(R2);
        self.start_daemon(R1);
        let p = self.patience();
        self.daemon(R1).wait_master(t0, p);
        self.daemon(R2).wait_backup(p);
        if self.prober.is_none() {
            self.start_prober();
        }
        self.prober().wait_steady("r1", STEADY, t0, p);
    }
}

/// One repetition's measurements (milliseconds, probe counts).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Sample {
    /// kill -9 of the master → first reply from the backup.
    pub kill9_takeover_ms: f64,
    /// The killed master's last advert → first reply from the backup
    /// (independent of where in the advert interval the kill landed).
    pub kill9_after_last_advert_ms: Option<f64>,
    pub kill9_lost: u64,
    /// Start of the preferred master → first reply from it.
    pub preempt_switch_ms: f64,
    pub preempt_lost: u64,
    /// SIGTERM of the master → first reply from the backup.
    pub term_handover_ms: f64,
    pub term_lost: u64,
    /// The longest gap between two probes in the measured windows: the
    /// instrument's own health (1 ms when the prober was never held up).
    pub max_probe_gap_ms: f64,
}

/// A pseudo-random duration in `[0, d)` (clock nanoseconds are random enough
/// to spread kills over the advert interval).
fn random_below(d: Duration) -> Duration {
    let x = mono_ns().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
    d.mul_f64(x as f64 / (1u64 << 53) as f64)
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// The full scenario on a fresh lab: election, kill -9 of the master,
/// restart of the old master (preemption back), SIGTERM handover.
pub fn run_failover(imp: Impl, mode: &Mode) -> Sample {
    let mut lab = FailoverLab::new(imp, mode);
    lab.elect();
    let p = lab.patience();
    let mut s = Sample::default();
    let r1_ip: IpAddr = R1_IP.parse().expect("ip");

    // kill -9 at a uniformly random point of the advert interval (as a real
    // crash would land), after an advert of r1 has been seen so the
    // phase-free metric has its reference.
    lab.prober().expect(p, "an advert from r1", |l| {
        l.adverts.iter().any(|a| a.src == r1_ip).then_some(())
    });
    std::thread::sleep(random_below(lab.specs[R1].advert));
    // The router's daemon and its service die together.
    let t_kill = {
        let _rt = Urgent::enter();
        let t = mono_ns();
        lab.responders[R1]
            .as_ref()
            .expect("responder")
            .signal_kill();
        lab.daemon_mut(R1).kill9();
        t
    };
    lab.responders[R1].as_mut().expect("responder").kill();
    let first = lab.prober().wait_first_reply("r2", t_kill, p);
    let steady = lab.prober().wait_steady("r2", STEADY, first.sent, p);
    s.kill9_takeover_ms = ms(first.at - t_kill);
    lab.prober().with_log(|l| {
        s.kill9_lost = l.lost_between(t_kill, steady);
        s.max_probe_gap_ms = s.max_probe_gap_ms.max(ms(l.max_send_gap(t_kill, steady)));
        s.kill9_after_last_advert_ms = l
            .last_advert_from(r1_ip, t_kill)
            .map(|a| ms(first.at - a.at));
    });
    lab.daemons[R1] = None;

    // Preemption back: the old master "reboots" (no stale VIP, service up)
    // and takes the VIP back from r2.
    let vip = format!("{VIP}/{PREFIX}");
    if lab.lan.host(R1).has_addr("eth0", VIP) {
        lab.lan.host(R1).ip(&["addr", "del", &vip, "dev", "eth0"]);
    }
    lab.responders[R1] = Some(Responder::start(lab.lan.host(R1), "r1", DEFAULT_PORT));
    let t_start = mono_ns();
    lab.start_daemon(R1);
    let t_master = lab.daemon(R1).wait_master(t_start, p);
    let first = lab.prober().wait_first_reply("r1", t_start, p);
    let steady = lab.prober().wait_steady("r1", STEADY, t_master, p);
    lab.daemon(R2).wait_backup(p);
    s.preempt_switch_ms = ms(first.at - t_start);
    let end = steady + STEADY as u64 * 1_000_000;
    lab.prober().with_log(|l| {
        s.preempt_lost = l.lost_between(t_start, end);
        s.max_probe_gap_ms = s.max_probe_gap_ms.max(ms(l.max_send_gap(t_start, end)));
    });

    // SIGTERM: r1 hands over (priority 0), r2 takes over after skew time.
    let t_term = {
        let _rt = Urgent::enter();
        let t = mono_ns();
        lab.daemon_mut(R1).signal_term();
        t
    };
    let first = lab.prober().wait_first_reply("r2", t_term, p);
    let steady = lab.prober().wait_steady("r2", STEADY, first.sent, p);
    s.term_handover_ms = ms(first.at - t_term);
    lab.prober().with_log(|l| {
        s.term_lost = l.lost_between(t_term, steady);
        s.max_probe_gap_ms = s.max_probe_gap_ms.max(ms(l.max_send_gap(t_term, steady)));
    });
    lab.daemon_mut(R1).wait_exit(p);
    s
}

/// One repetition of "service death → VIP moved" (milliseconds, probe counts).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DeathSample {
    /// r1's service killed → first reply from r2.
    pub takeover_ms: f64,
    /// Probes lost between the kill and r2's steady service.
    pub lost: u64,
    /// Kill → r1's first advert below its configured priority: the check's
    /// detection plus, for a lowered priority, the wait for the next advert.
    pub lowered_advert_ms: Option<f64>,
    /// That advert's priority: 0 when r1 resigned, else its lowered priority
    /// (r2 then ignores it and waits out its master-down interval).
    pub lowered_advert_priority: Option<u8>,
    /// The longest gap between two probes in the measured window (the
    /// instrument's own health).
    pub max_probe_gap_ms: f64,
}

/// "Service death → VIP moved" on a fresh lab: `imps[0]` on r1 (the master,
/// priority 150), `imps[1]` on r2 (100); each checks its own HTTP service
/// (`HealthSpec::bench`). The election, then r1's service is killed (the
/// daemon keeps running) at a random point of the slowest check interval.
pub fn run_service_death(imps: [Impl; 2], mode: &Mode) -> DeathSample {
    let mut lab = FailoverLab::with_health(imps, mode, HealthSpec::bench());
    lab.elect();
    service_death(&mut lab)
}

/// Kills r1's service in an elected health lab and measures until r2 serves
/// the VIP steadily and r1 is backup. Leaves the lab in that state.
pub fn service_death(lab: &mut FailoverLab) -> DeathSample {
    let health = lab.specs[R1].health.clone().expect("a health lab");
    let p = lab.patience() + health.slowest_interval() * (health.fall + 1);
    let r1_ip: IpAddr = R1_IP.parse().expect("ip");
    let full = lab.specs[R1].priority;

    // r1's check is up: its adverts carry its configured priority.
    let t = mono_ns();
    lab.prober()
        .expect(p, "an advert from r1 at its configured priority", |l| {
            l.adverts
                .iter()
                .rev()
                .take_while(|a| a.at >= t)
                .any(|a| a.src == r1_ip && a.priority == full)
                .then_some(())
        });
    // A random phase of the check schedules, as a real failure would land.
    std::thread::sleep(random_below(health.slowest_interval()));
    let t_kill = {
        let _rt = Urgent::enter();
        let t = mono_ns();
        lab.responders[R1]
            .as_ref()
            .expect("responder")
            .signal_kill();
        t
    };
    lab.responders[R1].as_mut().expect("responder").kill();
    let first = lab.prober().wait_first_reply("r2", t_kill, p);
    let steady = lab.prober().wait_steady("r2", STEADY, first.sent, p);
    lab.daemon(R2).wait_master(t_kill, p);
    lab.daemon(R1).wait_backup(p);
    let mut s = DeathSample {
        takeover_ms: ms(first.at - t_kill),
        ..DeathSample::default()
    };
    lab.prober().with_log(|l| {
        s.lost = l.lost_between(t_kill, steady);
        s.max_probe_gap_ms = ms(l.max_send_gap(t_kill, steady));
        if let Some(a) = l
            .adverts
            .iter()
            .find(|a| a.src == r1_ip && a.at >= t_kill && a.priority < full)
        {
            s.lowered_advert_ms = Some(ms(a.at - t_kill));
            s.lowered_advert_priority = Some(a.priority);
        }
    });
    s
}

/// CPU used by a daemon pair over `secs` while r1 is master and r2 backup.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CpuSample {
    /// Percent of one core.
    pub master_pct: f64,
    pub backup_pct: f64,
}

/// CPU used by each implementation's pair (r1 master, r2 backup) over one
/// shared `window`: the labs run side by side, so every implementation sees
/// the same machine load. Returns one sample per entry of `imps`.
pub fn run_cpu(imps: &[Impl], mode: &Mode, window: Duration) -> Vec<CpuSample> {
    let labs: Vec<FailoverLab> = imps
        .iter()
        .map(|&imp| {
            let mut lab = FailoverLab::new(imp, mode);
            lab.elect();
            // No prober traffic while measuring: only VRRP work counts.
            lab.prober = None;
            lab
        })
        .collect();
    let pids: Vec<[Vec<i32>; 2]> = labs
        .iter()
        .map(|l| [l.daemon(R1).pids(), l.daemon(R2).pids()])
        .collect();
    let cpu = || -> Vec<[u64; 2]> {
        pids.iter()
            .map(|p| [cpu_ns(&p[0]), cpu_ns(&p[1])])
            .collect()
    };
    let before = cpu();
    let t0 = mono_ns();
    // A measurement window, not synchronisation.
    std::thread::sleep(window);
    let after = cpu();
    let elapsed = (mono_ns() - t0) as f64 / 1e9;
    for lab in &labs {
        // The window must really have been master/backup throughout.
        assert!(
            lab.lan.host(R1).has_addr("eth0", VIP) && !lab.lan.host(R2).has_addr("eth0", VIP),
            "{}: roles changed during the CPU window",
            lab.label()
        );
    }
    let pct = |a: u64, b: u64| a.saturating_sub(b) as f64 / 1e9 / elapsed * 100.0;
    before
        .iter()
        .zip(&after)
        .map(|(b, a)| CpuSample {
            master_pct: pct(a[0], b[0]),
            backup_pct: pct(a[1], b[1]),
        })
        .collect()
}

/// Nanoseconds on CPU of every thread of the processes, from
/// `/proc/PID/task/TID/schedstat`. Not `utime + stime` from `/proc/PID/stat`:
/// those are sampled at the scheduler tick, and a daemon that wakes exactly
/// every 10 ms is phase-locked to a 10 ms tick, so it is charged all or
/// nothing depending on its phase (a 10.4 ms period, like Keepalived's,
/// samples fairly). Every thread here lives through the whole window.
fn cpu_ns(pids: &[i32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_dir(format!("/proc/{p}/task")).ok())
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}
