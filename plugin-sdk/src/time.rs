//! Deadlines on the WASI monotonic clock, and waiting on a pollable with one.

use std::time::Duration;

use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{Pollable, poll};

/// A point on the monotonic clock (nanoseconds) after which an operation
/// gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(u64);

impl Deadline {
    pub fn after(timeout: Duration) -> Deadline {
        let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        Deadline(monotonic_clock::now().saturating_add(ns))
    }

    pub fn expired(&self) -> bool {
        monotonic_clock::now() >= self.0
    }

    /// Blocks until `pollable` is ready (true) or the deadline passes (false).
    pub fn wait(&self, pollable: &Pollable) -> bool {
        if pollable.ready() {
            return true;
        }
        let timer = monotonic_clock::subscribe_instant(self.0);
        let ready = poll(&[pollable, &timer]);
        ready.contains(&0)
    }
}

/// Measures elapsed time on the monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(u64);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(monotonic_clock::now())
    }

    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(monotonic_clock::now().saturating_sub(self.0))
    }

    /// Elapsed milliseconds, fractional (for metrics).
    pub fn ms(&self) -> f64 {
        self.elapsed().as_secs_f64() * 1e3
    }
}
