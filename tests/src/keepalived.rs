//! The real Keepalived (Debian's 2.2.7) as a VRRP peer inside a test
//! namespace: its own generated config, pid files and notify FIFO in a private
//! temp dir, logging to the console (captured like any `Proc`), killed by PID.
//!
//! State changes are awaited events, not sleeps: Keepalived writes one line
//! per transition (`INSTANCE "NAME" MASTER 200`) to its `vrrp_notify_fifo`,
//! which a reader thread turns into timestamped events behind a condvar.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::netns::Netns;
use crate::probe::mono_ns;
use crate::process::Proc;

/// A VRRP instance state as Keepalived reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VrrpState {
    Backup,
    Master,
    Fault,
    Stop,
    Deleted,
}

impl VrrpState {
    fn parse(s: &str) -> Option<VrrpState> {
        Some(match s {
            "BACKUP" => VrrpState::Backup,
            "MASTER" => VrrpState::Master,
            "FAULT" => VrrpState::Fault,
            "STOP" => VrrpState::Stop,
            "DELETED" => VrrpState::Deleted,
            _ => return None,
        })
    }
}

impl fmt::Display for VrrpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One transition reported through the notify FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateEvent {
    /// `CLOCK_MONOTONIC` ns when the harness read the line.
    pub at: u64,
    pub state: VrrpState,
    pub priority: u8,
}

/// How one Keepalived VRRP instance is configured. Build with `new` and adjust
/// the public fields.
#[derive(Clone, Debug)]
pub struct KeepalivedSpec {
    pub interface: String,
    pub vrid: u8,
    pub priority: u8,
    /// 2 or 3.
    pub version: u8,
    pub advert: Duration,
    /// VIPs with prefix, e.g. `192.0.2.100/24` or `2001:db8::100/64`.
    pub vips: Vec<String>,
    /// Start in MASTER state (only meaningful with priority 255 per RFC; Keepalived
    /// honours it for any priority). Default: BACKUP, as the RFCs start.
    pub start_master: bool,
    pub preempt: bool,
    pub preempt_delay: Option<Duration>,
    /// VRRPv2 simple-text password (`auth_type PASS`).
    pub auth_pass: Option<String>,
    /// Unicast mode: our source address and the peers.
    pub unicast: Option<(String, Vec<String>)>,
    /// Raw lines appended inside `vrrp_instance { }`.
    pub extra: Vec<String>,
    /// Raw top-level blocks before the instance (e.g. a `vrrp_script`).
    pub top: Vec<String>,
}

impl KeepalivedSpec {
    /// A v3 instance on `eth0` with a 1 s advert interval, preempting.
    pub fn new(vrid: u8, priority: u8, vips: &[&str]) -> KeepalivedSpec {
        KeepalivedSpec {
            interface: "eth0".into(),
            vrid,
            priority,
            version: 3,
            advert: Duration::from_secs(1),
            vips: vips.iter().map(|s| s.to_string()).collect(),
            start_master: false,
            preempt: true,
            preempt_delay: None,
            auth_pass: None,
            unicast: None,
            extra: Vec::new(),
            top: Vec::new(),
        }
    }

    pub fn version(mut self, v: u8) -> Self {
        self.version = v;
        self
    }

    pub fn advert(mut self, d: Duration) -> Self {
        self.advert = d;
        self
    }

    /// Renders `keepalived.conf` for instance `instance`, reporting to `fifo`.
    pub fn render(&self, router_id: &str, instance: &str, fifo: &Path) -> String {
        let mut c = String::new();
        let advert = format_seconds(self.advert);
        c += "global_defs {\n";
        c += &format!("    router_id {router_id}\n");
        c += &format!("    vrrp_notify_fifo {}\n", fifo.display());
        c += "}\n";
        for b in &self.top {
            c += b;
            c += "\n";
        }
        c += &format!("vrrp_instance {instance} {{\n");
        c += &format!(
            "    state {}\n",
            if self.start_master {
                "MASTER"
            } else {
                "BACKUP"
            }
        );
        c += &format!("    interface {}\n", self.interface);
        c += &format!("    virtual_router_id {}\n", self.vrid);
        c += &format!("    priority {}\n", self.priority);
        c += &format!("    advert_int {advert}\n");
        c += &format!("    version {}\n", self.version);
        if !self.preempt {
            c += "    nopreempt\n";
        }
        if let Some(d) = self.preempt_delay {
            c += &format!("    preempt_delay {}\n", format_seconds(d));
        }
        if let Some(p) = &self.auth_pass {
            c += &format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            );
        }
        if let Some((src, peers)) = &self.unicast {
            c += &format!("    unicast_src_ip {src}\n    unicast_peer {{\n");
            for p in peers {
                c += &format!("        {p}\n");
            }
            c += "    }\n";
        }
        for l in &self.extra {
            c += &format!("    {l}\n");
        }
        c += "    virtual_ipaddress {\n";
        for v in &self.vips {
            c += &format!("        {v} dev {}\n", self.interface);
        }
        c += "    }\n}\n";
        c
    }
}

/// `1s` → `1`, `100ms` → `0.1`, `10ms` → `0.01` (Keepalived's decimal seconds).
fn format_seconds(d: Duration) -> String {
    let s = format!("{:.6}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

struct Events {
    list: Mutex<Vec<StateEvent>>,
    changed: Condvar,
}

const QUIT_LINE: &str = "__belay_harness_quit__";

/// A running Keepalived (parent + VRRP child) in a namespace.
pub struct Keepalived {
    proc: Proc,
    name: String,
    instance: String,
    dir: tempfile::TempDir,
    events: Arc<Events>,
    fifo_tx: File,
    reader: Option<JoinHandle<()>>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Keepalived {
    /// Starts Keepalived in `ns` with `spec`, and waits until its VRRP
    /// instance reports its first state (readiness).
    pub fn start(ns: &Netns, name: &str, spec: &KeepalivedSpec) -> Keepalived {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let uniq = format!("{}_{n}", std::process::id());
        let instance = format!("{name}_{uniq}");
        let dir = tempfile::Builder::new()
            .prefix(&format!("belay-ka-{name}-"))
            .tempdir()
            .expect("keepalived temp dir");
        let fifo = dir.path().join("notify.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        // Held read-write so opening never blocks and the reader never sees EOF
        // while Keepalived restarts its writer; the write end also lets Drop
        // wake the reader up.
        let fifo_rx = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(&fifo)
            .expect("open fifo");
        let fifo_tx = fifo_rx.try_clone().expect("dup fifo");
        let conf = dir.path().join("keepalived.conf");
        std::fs::write(
            &conf,
            spec.render(&format!("{name}_{uniq}"), &instance, &fifo),
        )
        .expect("write keepalived.conf");

        let events = Arc::new(Events {
            list: Mutex::new(Vec::new()),
            changed: Condvar::new(),
        });
        let ev = Arc::clone(&events);
        let want = format!("\"{instance}\"");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(fifo_rx).lines() {
                let Ok(line) = line else { break };
                if line == QUIT_LINE {
                    break;
                }
                // INSTANCE "name" STATE PRIORITY
                let w: Vec<&str> = line.split_whitespace().collect();
                if w.len() < 3 || w[0] != "INSTANCE" || w[1] != want {
                    continue;
                }
                let Some(state) = VrrpState::parse(w[2]) else {
                    continue;
                };
                let priority = w.get(3).and_then(|p| p.parse().ok()).unwrap_or(0);
                let mut list = ev.list.lock().expect("events lock");
                list.push(StateEvent {
                    at: mono_ns(),
                    state,
                    priority,
                });
                ev.changed.notify_all();
            }
        });

        let p = |f: &str| dir.path().join(f).display().to_string();
        let mut cmd = ns.command("keepalived");
        cmd.args([
            "--dont-fork",
            "--log-console",
            "--log-detail",
            "--no-syslog",
            "--vrrp",
            "--dont-respawn",
            "--use-file",
            &conf.display().to_string(),
            "--pid",
            &p("keepalived.pid"),
            "--vrrp_pid",
            &p("vrrp.pid"),
            "--checkers_pid",
            &p("checkers.pid"),
            "--bfd_pid",
            &p("bfd.pid"),
        ]);
        // Own process group: kill -9 takes parent and VRRP child in one call.
        cmd.process_group(0);
        let proc = Proc::spawn(&format!("keepalived-{name}"), cmd);
        let ka = Keepalived {
            proc,
            name: name.to_owned(),
            instance,
            dir,
            events,
            fifo_tx,
            reader: Some(reader),
        };
        ka.wait_event(Duration::from_secs(15), "its first state", 0, |_| true);
        ka
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `vrrp_instance` name in the generated config.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The generated config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("keepalived.conf")
    }

    /// Every transition so far.
    pub fn events(&self) -> Vec<StateEvent> {
        self.events.list.lock().expect("events lock").clone()
    }

    /// The latest reported state.
    pub fn state(&self) -> Option<VrrpState> {
        self.events().last().map(|e| e.state)
    }

    /// Waits for an event at index `from` or later that satisfies `pred`.
    #[track_caller]
    fn wait_event(
        &self,
        timeout: Duration,
        what: &str,
        from: usize,
        mut pred: impl FnMut(&StateEvent) -> bool,
    ) -> StateEvent {
        let deadline = Instant::now() + timeout;
        let mut list = self.events.list.lock().expect("events lock");
        loop {
            if let Some(e) = list.iter().skip(from).find(|e| pred(e)) {
                return *e;
            }
            let now = Instant::now();
            if now >= deadline {
                let seen = list.clone();
                drop(list);
                panic!(
                    "keepalived {}: timed out after {timeout:?} waiting for {what}; events {seen:?}; log:\n{}",
                    self.name,
                    self.proc.log_text()
                );
            }
            list = self
                .events
                .changed
                .wait_timeout(list, deadline - now)
                .expect("events lock")
                .0;
        }
    }

    /// Waits until the current state is `state` (returns at once if it is).
    #[track_caller]
    pub fn wait_state(&self, state: VrrpState, timeout: Duration) -> StateEvent {
        let last = self.events.list.lock().expect("events lock").len();
        let from = last.saturating_sub(1);
        self.wait_event(timeout, &format!("state {state}"), from, |e| {
            e.state == state
        })
    }

    /// Waits for a transition into `state` reported at or after mono time `after`.
    #[track_caller]
    pub fn wait_transition(&self, state: VrrpState, after: u64, timeout: Duration) -> StateEvent {
        self.wait_event(
            timeout,
            &format!("a transition to {state} after t={after}"),
            0,
            |e| e.state == state && e.at >= after,
        )
    }

    /// PID of the parent process (also the process group).
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// PIDs of the parent and its VRRP child (for CPU accounting).
    pub fn pids(&self) -> Vec<i32> {
        let mut v = vec![self.pid()];
        if let Some(c) = read_pid(&self.dir.path().join("vrrp.pid"))
            && c != self.pid()
        {
            v.push(c);
        }
        v
    }

    /// A crash: SIGKILL to the whole process group (the VRRP child must not
    /// get the parent-death SIGTERM and shut down gracefully). VIPs stay
    /// behind, as after a real crash.
    pub fn kill9(&mut self) {
        let _ = kill(Pid::from_raw(-self.pid()), Signal::SIGKILL);
        for p in self.pids() {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        self.proc.wait_exit(Duration::from_secs(5));
    }

    /// A graceful stop: SIGTERM to the parent (the VRRP child sends priority 0
    /// and releases its VIPs); waits for exit.
    pub fn terminate(&mut self) {
        self.proc.signal(Signal::SIGTERM);
        self.proc.wait_exit(Duration::from_secs(10));
    }

    /// Sends SIGTERM without waiting (for timing the handover from the signal).
    pub fn signal_term(&self) {
        self.proc.signal(Signal::SIGTERM);
    }

    /// Waits for exit after `signal_term`.
    pub fn wait_exit(&mut self, timeout: Duration) {
        self.proc.wait_exit(timeout);
    }

    pub fn log_text(&self) -> String {
        self.proc.log_text()
    }
}

impl Drop for Keepalived {
    fn drop(&mut self) {
        // Stop the process group first (Proc's drop then finds it gone).
        if self.proc.is_running() {
            self.proc.signal(Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            while self.proc.is_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let _ = kill(Pid::from_raw(-self.pid()), Signal::SIGKILL);
        let _ = writeln!(self.fifo_tx, "{QUIT_LINE}");
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_intervals_render_as_decimal_seconds() {
        assert_eq!(format_seconds(Duration::from_secs(1)), "1");
        assert_eq!(format_seconds(Duration::from_millis(100)), "0.1");
        assert_eq!(format_seconds(Duration::from_millis(10)), "0.01");
        assert_eq!(format_seconds(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn config_has_instance_auth_and_vips() {
        let mut s = KeepalivedSpec::new(51, 150, &["192.0.2.100/24"]).version(2);
        s.auth_pass = Some("secret".into());
        s.preempt = false;
        let c = s.render("r", "VI_x", Path::new("/tmp/f"));
        assert!(c.contains("vrrp_instance VI_x {"), "{c}");
        assert!(c.contains("version 2"));
        assert!(c.contains("auth_pass secret"));
        assert!(c.contains("nopreempt"));
        assert!(c.contains("192.0.2.100/24 dev eth0"));
        assert!(c.contains("vrrp_notify_fifo /tmp/f"));
    }
}
