//! The RFC timer formulas, in one place so the state machine and its tests
//! agree on them.
//!
//! v2 (RFC 3768 §6.1): Skew_Time = (256 − Priority) / 256 seconds, whatever
//! the advert interval. v3 (RFC 5798 §6.1): Skew_Time =
//! ((256 − Priority) × Master_Adver_Interval) / 256. In both,
//! Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.

use std::time::Duration;

use super::wire::{AdvertInterval, Version};

/// Skew_Time for a router of `priority`, in microseconds precision (like
/// Keepalived, which computes it in µs rather than the RFC's centiseconds).
pub fn skew_time(
    version: Version,
    priority: u8,
    master_adver_interval: AdvertInterval,
) -> Duration {
    todo!("{version:?} {priority} {master_adver_interval:?}")
}

/// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval: AdvertInterval,
) -> Duration {
    todo!("{version:?} {priority} {master_adver_interval:?}")
}
