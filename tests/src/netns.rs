//! A network namespace that deletes itself, and the processes in it, on drop.

use std::ffi::OsStr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

const PREFIX: &str = "bl";
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A namespace named `bl-<pid>-<n>-<role>`. The pid lets a later run remove
/// namespaces whose creator died without cleaning up.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace with `lo` up.
    pub fn new(role: &str) -> Netns {
        sweep_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}-{}-{n}-{role}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A `Command` that runs `program` inside this namespace.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }

    /// Runs `ip -n <ns> ARGS` and panics with its stderr if it fails.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut c = Command::new("ip");
        c.args(["-n", &self.name]).args(args);
        run(&mut c)
    }

    /// Runs a program in the namespace; panics on failure; returns stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        run(self.command(program).args(args))
    }

    /// Runs a program in the namespace and returns its raw output, whatever the status.
    pub fn output(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }

    /// Adds an address (`"192.0.2.1/24"`, `"2001:db8::1/64"`; IPv6 without DAD).
    pub fn add_addr(&self, dev: &str, cidr: &str) {
        let mut args = vec!["addr", "add", cidr, "dev", dev];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args);
    }

    /// Addresses (without prefix) currently on `dev`.
    pub fn addrs(&self, dev: &str) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-j", "addr", "show", "dev", dev])
            .output()
            .expect("run ip");
        if !out.status.success() {
            return Vec::new();
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v.as_array()
            .into_iter()
            .flatten()
            .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["local"].as_str().map(str::to_owned))
            .collect()
    }

    /// Whether `addr` (no prefix) is on `dev`.
    pub fn has_addr(&self, dev: &str, addr: &str) -> bool {
        self.addrs(dev).iter().any(|a| a == addr)
    }

    /// Sets a link up or down.
    pub fn link_set(&self, dev: &str, up: bool) {
        self.ip(&["link", "set", dev, if up { "up" } else { "down" }]);
    }

    /// PIDs of processes whose network namespace is this one.
    pub fn pids(&self) -> Vec<i32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .expect("run ip");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Runs a command, panicking with its stderr on failure; returns stdout.
#[track_caller]
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Deletes `bl-<pid>-…` namespaces left by test processes that no longer exist.
fn sweep_stale() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
            return;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            let mut parts = name.splitn(3, '-');
            if parts.next() != Some(PREFIX) {
                continue;
            }
            let Some(pid) = parts.next().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
            if !alive {
                let _ = Command::new("ip").args(["netns", "del", name]).status();
            }
        }
    });
}
