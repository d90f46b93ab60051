//! Effective VRRP priority from tracked checks and interfaces, with
//! Keepalived's semantics:
//!
//! - weight > 0 is added while the track is healthy;
//! - weight < 0 is subtracted while it is failing;
//! - weight 0 puts the instance in FAULT while it is failing;
//! - a plugin's dynamic weight, when reported, replaces the configured one;
//! - the result is clamped to 1..=254; 255 belongs to the address owner only,
//!   whose priority tracking never changes (a failing weight-0 track still
//!   faults it).
//!
//! Deliberate difference: a check with no result yet counts as *failing*
//! (Keepalived's `init_fail`), so a restarting node never claims a VIP before
//! its checks have passed once.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::check::CheckState;

/// What a track follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackTarget {
    Check(String),
    Interface(String),
}

impl fmt::Display for TrackTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackTarget::Check(c) => write!(f, "check {c}"),
            TrackTarget::Interface(i) => write!(f, "interface {i}"),
        }
    }
}

/// The current condition of a tracked thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrackInput {
    pub healthy: bool,
    /// Dynamic weight reported by a check plugin.
    pub dynamic_weight: Option<i32>,
}

impl TrackInput {
    pub fn from_check(state: CheckState, dynamic_weight: Option<i32>) -> TrackInput {
        TrackInput {
            healthy: state == CheckState::Up,
            dynamic_weight,
        }
    }

    pub fn from_link(up: bool) -> TrackInput {
        TrackInput {
            healthy: up,
            dynamic_weight: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Track {
    target: TrackTarget,
    weight: i32,
    input: TrackInput,
}

/// How one track affects the instance right now (for status and logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    pub target: TrackTarget,
    pub healthy: bool,
    /// Weight in force (dynamic if the plugin reported one).
    pub weight: i32,
    /// Amount added to the base priority (negative when subtracted).
    pub delta: i32,
    /// True when this track alone puts the instance in FAULT.
    pub faults: bool,
}

/// The instance's priority as tracking makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub base: u8,
    pub priority: u8,
    pub fault: bool,
    pub contributions: Vec<Contribution>,
}

impl Effective {
    /// One line for logs: "150 -60 (check web failing) = 90".
    pub fn explain(&self) -> String {
        let mut s = self.base.to_string();
        for c in self
            .contributions
            .iter()
            .filter(|c| c.delta != 0 || c.faults)
        {
            let state = if c.healthy { "healthy" } else { "failing" };
            if c.faults {
                s.push_str(&format!(" FAULT ({} {state})", c.target));
            } else {
                s.push_str(&format!(" {:+} ({} {state})", c.delta, c.target));
            }
        }
        format!("{s} = {}", self.priority)
    }
}

/// Tracks of one VRRP instance.
#[derive(Debug, Clone)]
pub struct Tracker {
    base: u8,
    tracks: Vec<Track>,
}

impl Tracker {
    /// All tracks start failing until their first input arrives.
    pub fn new(base: u8, tracks: impl IntoIterator<Item = (TrackTarget, i32)>) -> Tracker {
        Tracker {
            base,
            tracks: tracks
                .into_iter()
                .map(|(target, weight)| Track {
                    target,
                    weight,
                    input: TrackInput {
                        healthy: false,
                        dynamic_weight: None,
                    },
                })
                .collect(),
        }
    }

    /// Updates every track following `target`; returns whether anything changed.
    pub fn update(&mut self, target: &TrackTarget, input: TrackInput) -> bool {
        let mut changed = false;
        for t in self.tracks.iter_mut().filter(|t| &t.target == target) {
            changed |= t.input != input;
            t.input = input;
        }
        changed
    }

    pub fn follows(&self, target: &TrackTarget) -> bool {
        self.tracks.iter().any(|t| &t.target == target)
    }

    pub fn targets(&self) -> impl Iterator<Item = &TrackTarget> {
        self.tracks.iter().map(|t| &t.target)
    }

    pub fn effective(&self) -> Effective {
        let owner = self.base == 255;
        let mut sum: i32 = i32::from(self.base);
        let mut fault = false;
        let contributions = self
            .tracks
            .iter()
            .map(|t| {
                let weight = t.input.dynamic_weight.unwrap_or(t.weight);
                let healthy = t.input.healthy;
                let faults = weight == 0 && !healthy;
                let delta = match (owner, healthy) {
                    (true, _) => 0,
                    (false, true) if weight > 0 => weight,
                    (false, false) if weight < 0 => weight,
                    _ => 0,
                };
                fault |= faults;
                sum = sum.saturating_add(delta);
                Contribution {
                    target: t.target.clone(),
                    healthy,
                    weight,
                    delta,
                    faults,
                }
            })
            .collect();
        let priority = if owner { 255 } else { sum.clamp(1, 254) as u8 };
        Effective {
            base: self.base,
            priority,
            fault,
            contributions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> TrackTarget {
        TrackTarget::Check(name.into())
    }

    fn input(healthy: bool) -> TrackInput {
        TrackInput {
            healthy,
            dynamic_weight: None,
        }
    }

    /// base, tracks (weight, healthy, dynamic weight), expected priority, expected fault.
    type Case = (u8, &'static [(i32, bool, Option<i32>)], u8, bool);

    #[test]
    fn keepalived_weight_semantics() {
        let cases: &[Case] = &[
            (100, &[], 100, false),
            // weight > 0 added while healthy, nothing while failing.
            (100, &[(20, true, None)], 120, false),
            (100, &[(20, false, None)], 100, false),
            // weight < 0 subtracted while failing, nothing while healthy.
            (150, &[(-60, true, None)], 150, false),
            (150, &[(-60, false, None)], 90, false),
            // weight 0: failing means FAULT; priority unchanged.
            (100, &[(0, false, None)], 100, true),
            (100, &[(0, true, None)], 100, false),
            // contributions add up.
            (
                100,
                &[(20, true, None), (-30, false, None), (10, true, None)],
                100,
                false,
            ),
            // clamped to 1..=254.
            (250, &[(50, true, None)], 254, false),
            (50, &[(-100, false, None)], 1, false),
            // dynamic weight replaces the configured one (sign rules apply to it).
            (100, &[(10, true, Some(40))], 140, false),
            (100, &[(-10, false, Some(-70))], 30, false),
            (100, &[(10, false, Some(0))], 100, true),
            // the address owner keeps 255; only FAULT applies to it.
            (255, &[(-60, false, None)], 255, false),
            (255, &[(0, false, None)], 255, true),
        ];
        for (base, tracks, priority, fault) in cases {
            let mut tr = Tracker::new(
                *base,
                tracks
                    .iter()
                    .enumerate()
                    .map(|(i, (w, _, _))| (check(&format!("c{i}")), *w)),
            );
            for (i, (_, healthy, dynamic)) in tracks.iter().enumerate() {
                tr.update(
                    &check(&format!("c{i}")),
                    TrackInput {
                        healthy: *healthy,
                        dynamic_weight: *dynamic,
                    },
                );
            }
            let e = tr.effective();
            assert_eq!(
                (e.priority, e.fault),
                (*priority, *fault),
                "base {base} tracks {tracks:?}: {}",
                e.explain()
            );
        }
    }

    #[test]
    fn tracks_start_failing_until_first_input() {
        let tr = Tracker::new(150, [(check("web"), -60)]);
        assert_eq!(tr.effective().priority, 90);
        let tr = Tracker::new(150, [(check("web"), 0)]);
        assert!(tr.effective().fault);
        assert_eq!(
            TrackInput::from_check(CheckState::Unknown, None),
            input(false)
        );
    }

    #[test]
    fn update_reports_changes_and_explains() {
        let mut tr = Tracker::new(
            150,
            [
                (check("web"), -60),
                (TrackTarget::Interface("eth1".into()), 0),
            ],
        );
        assert!(tr.update(
            &TrackTarget::Interface("eth1".into()),
            TrackInput::from_link(true)
        ));
        assert!(tr.update(&check("web"), input(true)));
        assert!(!tr.update(&check("web"), input(true)));
        assert!(!tr.update(&check("other"), input(false)));
        assert_eq!(tr.effective().explain(), "150 = 150");
        tr.update(&check("web"), input(false));
        assert_eq!(tr.effective().explain(), "150 -60 (check web failing) = 90");
        tr.update(
            &TrackTarget::Interface("eth1".into()),
            TrackInput::from_link(false),
        );
        assert_eq!(
            tr.effective().explain(),
            "150 -60 (check web failing) FAULT (interface eth1 failing) = 90"
        );
    }
}
