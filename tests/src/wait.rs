//! Bounded waits on observable conditions (never a bare sleep as synchronisation).

use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(5);

/// Polls `cond` until it is true; panics after `timeout` naming `what`.
/// Returns how long it took.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `f` until it returns `Some`; panics after `timeout` naming `what`.
#[track_caller]
pub fn wait_until_some<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() >= timeout {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(POLL);
    }
}
