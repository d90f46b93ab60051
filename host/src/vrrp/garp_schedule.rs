//! When a master (re)announces its virtual addresses with gratuitous ARP /
//! unsolicited NA, with Keepalived's knobs and defaults:
//!
//! - on becoming master, a burst of `repeat` announcements per address
//!   (`garp_master_repeat`, default 5), spaced by `interval`
//!   (`garp_interval`, default 0: back to back);
//! - a second burst `delay` after that (`garp_master_delay`, default 5 s;
//!   zero disables it);
//! - while master, every `refresh` (`garp_master_refresh`, default off) a
//!   burst of `refresh_repeat` (`garp_master_refresh_repeat`, default 1);
//! - when a master re-asserts itself against a lower priority, a burst now
//!   and another later (`garp_lower_prio_repeat` / `garp_lower_prio_delay`,
//!   set on the instance, defaults 5 and 5 s).

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

/// The rest of a burst whose announcements are spaced out.
#[derive(Debug, Clone, Copy)]
struct Spread {
    remaining: u32,
    next: Instant,
}

/// The announcement timers of one instance. Sans-IO like the instance.
#[derive(Debug, Clone)]
pub struct GarpSchedule {
    config: GarpConfig,
    spread: Option<Spread>,
    second: Option<Instant>,
    refresh: Option<Instant>,
    /// The delayed burst after re-asserting against a lower priority.
    lower_prio: Option<(Instant, u32)>,
}

impl GarpSchedule {
    pub fn new(config: GarpConfig) -> GarpSchedule {
        GarpSchedule {
            config,
            spread: None,
            second: None,
            refresh: None,
            lower_prio: None,
        }
    }

    /// Becoming master at `now`: returns the first burst and arms the rest.
    pub fn start(&mut self, now: Instant) -> Option<Burst> {
        self.stop();
        if !self.config.delay.is_zero() {
            self.second = Some(now + self.config.delay);
        }
        self.refresh = self
            .config
            .refresh
            .filter(|r| !r.is_zero())
            .map(|r| now + r);
        self.begin(now, self.config.repeat)
    }

    /// A master re-asserting itself against a lower priority (Keepalived's
    /// `garp_lower_prio_*`): a burst of `repeat` now and another `delay`
    /// later (re-armed, not stacked, by further lower-priority adverts).
    pub fn lower_prio(&mut self, now: Instant, repeat: u32, delay: Duration) -> Option<Burst> {
        if !delay.is_zero() && repeat > 0 {
            self.lower_prio = Some((now + delay, repeat));
        }
        self.begin(now, repeat)
    }

    /// Leaving master: nothing more is announced.
    pub fn stop(&mut self) {
        self.spread = None;
        self.second = None;
        self.refresh = None;
        self.lower_prio = None;
    }

    /// When the next announcement is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.spread.map(|s| s.next),
            self.second,
            self.refresh,
            self.lower_prio.map(|(t, _)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Announcements due at `now`, and re-arms.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Burst> {
        let mut repeat = 0;
        if let Some(mut s) = self.spread.filter(|s| s.next <= now) {
            repeat += 1;
            s.remaining -= 1;
            s.next += self.config.interval;
            self.spread = (s.remaining > 0).then_some(s);
        }
        if self.second.is_some_and(|t| t <= now) {
            self.second = None;
            repeat += self.begin(now, self.config.repeat).map_or(0, |b| b.repeat);
        }
        if let (Some(t), Some(period)) = (self.refresh, self.config.refresh)
            && t <= now
        {
            self.refresh = Some(now + period);
            repeat += self
                .begin(now, self.config.refresh_repeat)
                .map_or(0, |b| b.repeat);
        }
        if let Some((t, n)) = self.lower_prio
            && t <= now
        {
            self.lower_prio = None;
            repeat += self.begin(now, n).map_or(0, |b| b.repeat);
        }
        (repeat > 0).then_some(Burst { repeat })
    }

    /// Starts a burst of `n`: all now, or one now and the rest spaced out.
    fn begin(&mut self, now: Instant, n: u32) -> Option<Burst> {
        if n == 0 {
            return None;
        }
        if self.config.interval.is_zero() {
            return Some(Burst { repeat: n });
        }
        if n > 1 {
            let remaining = n - 1 + self.spread.map_or(0, |s| s.remaining);
            self.spread = Some(Spread {
                remaining,
                next: now + self.config.interval,
            });
        }
        Some(Burst { repeat: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    /// Drives the schedule until `end` and returns (ms, repeat) pairs.
    fn run(config: GarpConfig, end_ms: u64) -> Vec<(u64, u32)> {
        let t0 = Instant::now();
        let mut s = GarpSchedule::new(config);
        let mut out = Vec::new();
        if let Some(b) = s.start(t0) {
            out.push((0, b.repeat));
        }
        while let Some(t) = s.poll_timeout() {
            if t > ms(t0, end_ms) {
                break;
            }
            if let Some(b) = s.handle_timeout(t) {
                out.push(((t - t0).as_millis() as u64, b.repeat));
            }
        }
        out
    }

    #[test]
    fn keepalived_defaults_burst_five_then_five_after_5s() {
        assert_eq!(run(GarpConfig::default(), 60_000), vec![(0, 5), (5_000, 5)]);
    }

    #[test]
    fn refresh_repeats_periodically() {
        let c = GarpConfig {
            delay: Duration::ZERO,
            repeat: 2,
            refresh: Some(Duration::from_secs(10)),
            refresh_repeat: 3,
            interval: Duration::ZERO,
        };
        assert_eq!(
            run(c, 35_000),
            vec![(0, 2), (10_000, 3), (20_000, 3), (30_000, 3)]
        );
    }

    #[test]
    fn interval_spreads_a_burst() {
        let c = GarpConfig {
            delay: Duration::from_secs(1),
            repeat: 3,
            refresh: None,
            refresh_repeat: 1,
            interval: Duration::from_millis(100),
        };
        assert_eq!(
            run(c, 5_000),
            vec![
                (0, 1),
                (100, 1),
                (200, 1),
                (1_000, 1),
                (1_100, 1),
                (1_200, 1)
            ]
        );
    }

    #[test]
    fn lower_priority_burst_now_and_after_delay() {
        let t0 = Instant::now();
        let mut s = GarpSchedule::new(GarpConfig {
            delay: Duration::ZERO,
            ..GarpConfig::default()
        });
        assert_eq!(s.start(t0), Some(Burst { repeat: 5 }));
        assert_eq!(s.poll_timeout(), None);
        let t1 = ms(t0, 1_000);
        assert_eq!(
            s.lower_prio(t1, 3, Duration::from_secs(5)),
            Some(Burst { repeat: 3 })
        );
        // A second lower-priority advert re-arms the delayed burst.
        let t2 = ms(t0, 2_000);
        assert_eq!(
            s.lower_prio(t2, 3, Duration::from_secs(5)),
            Some(Burst { repeat: 3 })
        );
        assert_eq!(s.poll_timeout(), Some(ms(t0, 7_000)));
        assert_eq!(s.handle_timeout(ms(t0, 7_000)), Some(Burst { repeat: 3 }));
        assert_eq!(s.poll_timeout(), None);
        assert_eq!(s.lower_prio(t2, 0, Duration::from_secs(5)), None);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn stop_cancels_everything() {
        let t0 = Instant::now();
        let mut s = GarpSchedule::new(GarpConfig::default());
        assert!(s.start(t0).is_some());
        assert!(s.poll_timeout().is_some());
        s.stop();
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn zero_repeat_announces_nothing() {
        let c = GarpConfig {
            repeat: 0,
            ..GarpConfig::default()
        };
        assert_eq!(run(c, 60_000), vec![]);
    }
}
