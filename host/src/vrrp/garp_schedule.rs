//! When a master (re)announces its virtual addresses with gratuitous ARP /
//! unsolicited NA, with Keepalived's knobs and defaults:
//!
//! - on becoming master, a burst of `repeat` announcements per address
//!   (`garp_master_repeat`, default 5), spaced by `interval`
//!   (`garp_interval`, default 0: back to back);
//! - a second burst `delay` after that (`garp_master_delay`, default 5 s;
//!   zero disables it);
//! - while master, every `refresh` (`garp_master_refresh`, default off) a
//!   burst of `refresh_repeat` (`garp_master_refresh_repeat`, default 1).

use std::time::{Duration, Instant};

/// Gratuitous ARP / NA knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpConfig {
    /// Delay of the second burst after becoming master; zero: no second burst.
    pub delay: Duration,
    /// Announcements per address in each burst on becoming master.
    pub repeat: u32,
    /// Period of the refresh bursts while master; `None`: no refresh.
    pub refresh: Option<Duration>,
    /// Announcements per address in each refresh burst.
    pub refresh_repeat: u32,
    /// Gap between announcements inside one burst; zero: back to back.
    pub interval: Duration,
}

impl Default for GarpConfig {
    /// Keepalived's defaults.
    fn default() -> Self {
        GarpConfig {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: None,
            refresh_repeat: 1,
            interval: Duration::ZERO,
        }
    }
}

/// A pending announcement: `repeat` announcements per address, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub repeat: u32,
}

/// The announcement timers of one instance. Sans-IO like the instance.
#[derive(Debug, Clone)]
pub struct GarpSchedule {
    config: GarpConfig,
}

impl GarpSchedule {
    pub fn new(config: GarpConfig) -> GarpSchedule {
        GarpSchedule { config }
    }

    /// Becoming master at `now`: returns the first burst and arms the rest.
    pub fn start(&mut self, now: Instant) -> Option<Burst> {
        todo!("{now:?} {:?}", self.config)
    }

    /// Leaving master: nothing more is announced.
    pub fn stop(&mut self) {
        todo!()
    }

    /// When the next announcement is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Announcements due at `now`, and re-arms.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Burst> {
        todo!("{now:?}")
    }
}
