//! Tests against a real kernel IPVS inside User-Mode Linux.
//!
//! This machine's kernel has no IPVS, so such tests come in two halves:
//! - an *inner* test, `#[ignore]`d on the host, that does the real work
//!   and only runs where [`in_uml`] is true;
//! - an *outer* test that boots UML once (`../shared/tools/uml-run`) and runs
//!   the same test binary in place with `--ignored` and the inner tests'
//!   names, then asserts they all passed, printing the console otherwise.
//!
//! Inside the guest the host's `/` is mounted read-only, so cargo's test
//! binaries run as they are. Each boot gets its own work directory, so
//! engineers running UML at the same time do not collide.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::Netns;
use crate::bins::shared_dir;

/// Set to 1 to print the guest console even when its tests pass.
pub const SHOW_ENV: &str = "BELAY_UML_SHOW";

/// Set in the guest's environment for inner tests.
pub const IN_UML_ENV: &str = "BELAY_IN_UML";

/// Whether this process runs inside the UML guest (so IPVS is real).
pub fn in_uml() -> bool {
    std::env::var(IN_UML_ENV).as_deref() == Ok("1")
}

/// The outcome of one UML boot.
pub struct UmlRun {
    pub passed: bool,
    pub console: String,
    pub wall: std::time::Duration,
}

impl UmlRun {
    /// Asserts the boot passed and libtest reported exactly `n` passed tests
    /// (so a filter that matched nothing cannot pass silently).
    #[track_caller]
    pub fn assert_tests_passed(&self, n: usize) {
        self.assert_passed("tests");
        let want = format!("test result: ok. {n} passed; 0 failed");
        assert!(
            self.console.contains(&want),
            "expected `{want}` inside UML; console:\n{}",
            self.console
        );
    }

    /// Panics with the console log unless the guest script succeeded.
    #[track_caller]
    pub fn assert_passed(&self, what: &str) {
        assert!(
            self.passed,
            "{what} failed inside UML; console:\n{}",
            self.console
        );
    }
}

/// A directory removed on drop (work dirs of UML boots).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "belay-uml-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create UML work dir");
    TempDir(dir)
}

/// Boots UML and runs `script` (bash) as root inside it. `rw` is a host
/// directory the guest may write (for results); `None` for none.
pub fn uml_run(tag: &str, script: &str, rw: Option<&Path>) -> UmlRun {
    let work = temp_dir(tag);
    let script_path = work.0.join("guest.sh");
    std::fs::write(&script_path, script).expect("write guest script");
    let tool = shared_dir().join("tools/uml-run");
    let mut cmd = Command::new("bash");
    cmd.arg(&tool)
        .arg(&script_path)
        .env("WORK", &work.0)
        .env("NO_APT", "1")
        .env("TIMEOUT", "600");
    if let Some(rw) = rw {
        cmd.env("UML_RW", rw);
    }
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    let mut console = String::from_utf8_lossy(&out.stdout).into_owned();
    console.push_str(&String::from_utf8_lossy(&out.stderr));
    if std::env::var(SHOW_ENV).as_deref() == Ok("1") {
        eprintln!("--- UML console ({tag}) ---\n{console}");
    }
    UmlRun {
        passed: out.status.success() && console.contains("UML-RESULT: PASS"),
        console,
        wall: start.elapsed(),
    }
}

/// Runs the named `#[ignore]`d tests of the *current* test binary inside
/// one UML boot, with [`IN_UML_ENV`] set and `extra_env` exported. Loads
/// the IPVS modules first. Returns the boot's outcome (assert on it).
pub fn run_inner_tests(tag: &str, tests: &[&str], extra_env: &[(&str, &str)]) -> UmlRun {
    run_inner_tests_with(tag, tests, extra_env, None)
}

/// As [`run_inner_tests`], with the host directory `rw` writable (same
/// path) inside the guest.
pub fn run_inner_tests_with(
    tag: &str,
    tests: &[&str],
    extra_env: &[(&str, &str)],
    rw: Option<&Path>,
) -> UmlRun {
    let exe = std::env::current_exe().expect("current test binary");
    // Kernel messages would interleave with the test output on the console.
    let mut script = String::from(
        "echo 1 > /proc/sys/kernel/printk\n\
         modprobe ip_vs\n\
         for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do modprobe ip_vs_$s; done\n",
    );
    script.push_str(&format!("export {IN_UML_ENV}=1 RUST_BACKTRACE=1\n"));
    for (k, v) in extra_env {
        script.push_str(&format!("export {k}='{v}'\n"));
    }
    script.push_str(&format!(
        "'{}' --ignored --exact --test-threads=1 --nocapture {}\n",
        exe.display(),
        tests.join(" ")
    ));
    uml_run(tag, &script, rw)
}

/// Compiles belay's stock check plugins into the plugin cache `dir` (mode
/// 0700) by running `belay run` on the host, so daemons inside UML load
/// them from the cache in milliseconds instead of compiling for seconds
/// (page faults are slow in UML; compiling there takes 3-20 s). Returns
/// once the daemon has stopped.
pub fn warm_plugin_cache(dir: &Path) {
    let ns = Netns::new("warm");
    let global = format!(
        "cache_dir = {:?}\nmax_concurrent_checks = 1",
        dir.display().to_string()
    );
    // The daemon compiles every stock plugin before its status socket
    // answers; one check makes it start the check service.
    let body = "[check.warm]\nplugin = \"tcp\"\ntarget = \"127.0.0.1:9\"\ninterval = \"10s\"\n";
    let mut r = crate::Router::start_with_global(&ns, "warm", &global, body);
    let doc = r.status().expect("status");
    let plugins = doc["plugins"].as_array().cloned().unwrap_or_default();
    assert!(
        !plugins.is_empty() && plugins.iter().all(|p| p["loaded"] == true),
        "stock plugins did not load: {doc}"
    );
    r.signal(nix::sys::signal::Signal::SIGTERM);
    let st = r.wait_exit(std::time::Duration::from_secs(10));
    assert!(
        st.success(),
        "warm-up daemon exited with {st}:\n{}",
        r.log()
    );
    let log = r.log();
    assert!(
        !log.contains("CompiledUnstored") && !log.contains("cache disabled"),
        "plugin cache not written:\n{log}"
    );
}

/// While alive, the current thread is in `ns`'s network namespace (so
/// sockets it opens, netlink included, belong there). Restores on drop.
pub struct EnterNetns {
    home: File,
}

impl EnterNetns {
    pub fn new(ns: &Netns) -> EnterNetns {
        let home = File::open("/proc/thread-self/ns/net").expect("open own netns");
        let target = File::open(format!("/run/netns/{}", ns.name()))
            .unwrap_or_else(|e| panic!("open netns {}: {e}", ns.name()));
        nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {}: {e}", ns.name()));
        EnterNetns { home }
    }
}

impl Drop for EnterNetns {
    fn drop(&mut self) {
        let _ = nix::sched::setns(self.home.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET);
    }
}

/// Runs `f` on a new thread inside `ns` (for servers and clients that must
/// live in a namespace while the test thread stays where it is).
pub fn spawn_in<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let target = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
}

/// Links two namespaces with a veth pair (`a_if` in `a`, `b_if` in `b`),
/// both ends up. The pair dies with either namespace.
pub fn veth(a: &Netns, a_if: &str, b: &Netns, b_if: &str) {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]);
    a.link_set(a_if, true);
    b.link_set(b_if, true);
}
