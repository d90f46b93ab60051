//! The RFC timer formulas, in one place so the state machine and its tests
//! agree on them.
//!
//! v2 (RFC 3768 §6.1): Skew_Time = (256 − Priority) / 256 seconds, whatever
//! the advert interval. v3 (RFC 5798 §6.1): Skew_Time =
//! ((256 − Priority) × Master_Adver_Interval) / 256. In both,
//! Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
//!
//! Both are computed in whole microseconds, truncated, exactly as
//! Keepalived 2.2 does (`VRRP_TIMER_SKEW`: v3 is
//! `(256 − p) × centis × 625 / 16` µs), rather than in the RFC's
//! centiseconds, which would round a 10 ms skew to zero.

use std::time::Duration;

use super::wire::{AdvertInterval, Version};

/// Skew_Time for a router of `priority`.
pub fn skew_time(
    version: Version,
    priority: u8,
    master_adver_interval: AdvertInterval,
) -> Duration {
    let weight = 256 - u64::from(priority);
    let micros = match version {
        Version::V2 => weight * 1_000_000 / 256,
        Version::V3 => weight * u64::from(master_adver_interval.centis()) * 625 / 16,
    };
    Duration::from_micros(micros)
}

/// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: AdvertInterval,
) -> Duration {
    3 * master_adver_interval.as_duration() + skew_time(version, priority, master_adver_interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(c: u16) -> AdvertInterval {
        AdvertInterval::from_centis(c).unwrap()
    }

    #[test]
    fn v2_skew_ignores_the_interval() {
        // (256 − 100) / 256 s = 0.609375 s, whatever the interval.
        assert_eq!(
            skew_time(Version::V2, 100, cs(100)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 100, cs(500)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, 255, cs(100)),
            Duration::from_micros(3_906)
        );
    }

    #[test]
    fn v3_skew_scales_with_the_interval() {
        assert_eq!(
            skew_time(Version::V3, 100, cs(100)),
            Duration::from_micros(609_375)
        );
        // 10 ms adverts: 156 × 10 ms / 256 = 6.09375 ms, truncated to µs.
        assert_eq!(
            skew_time(Version::V3, 100, cs(1)),
            Duration::from_micros(6_093)
        );
        assert_eq!(
            skew_time(Version::V3, 254, cs(1)),
            Duration::from_micros(78)
        );
    }

    #[test]
    fn master_down_is_three_intervals_plus_skew() {
        assert_eq!(
            master_down_interval(Version::V2, 100, cs(100)),
            Duration::from_micros(3_609_375)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, cs(1)),
            Duration::from_micros(36_093)
        );
        assert_eq!(
            master_down_interval(Version::V3, 200, cs(10)),
            Duration::from_micros(321_875)
        );
    }
}
