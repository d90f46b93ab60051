//! Rise/fall hysteresis with Keepalived's semantics.
//!
//! A check starts `Unknown` and its first result decides at once (Keepalived
//! starts a script "OK but one failure from KO", or with `init_fail` "KO but
//! one success from OK" — either way the first result decides). After that,
//! an up check needs `fall` consecutive failures to go down, and a down check
//! `rise` consecutive successes to come up; any opposite result resets the run.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// No result yet: consumers decide (IPVS `alpha` treats it as down).
    Unknown,
    Up,
    Down,
}

impl std::fmt::Display for CheckState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CheckState::Unknown => "unknown",
            CheckState::Up => "up",
            CheckState::Down => "down",
        })
    }
}

#[derive(Debug, Clone)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    state: CheckState,
    /// Consecutive results against the current state.
    streak: u32,
}

impl RiseFall {
    /// `rise` and `fall` below 1 are treated as 1.
    pub fn new(rise: u32, fall: u32) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            state: CheckState::Unknown,
            streak: 0,
        }
    }

    pub fn state(&self) -> CheckState {
        self.state
    }

    /// Feeds one attempt's result; returns the new state when it changed.
    pub fn observe(&mut self, healthy: bool) -> Option<CheckState> {
        let (needed, next) = match (self.state, healthy) {
            (CheckState::Unknown, true) => return self.set(CheckState::Up),
            (CheckState::Unknown, false) => return self.set(CheckState::Down),
            (CheckState::Up, true) | (CheckState::Down, false) => {
                self.streak = 0;
                return None;
            }
            (CheckState::Up, false) => (self.fall, CheckState::Down),
            (CheckState::Down, true) => (self.rise, CheckState::Up),
        };
        self.streak += 1;
        if self.streak >= needed {
            self.set(next)
        } else {
            None
        }
    }

    fn set(&mut self, state: CheckState) -> Option<CheckState> {
        self.state = state;
        self.streak = 0;
        Some(state)
    }
}

#[cfg(test)]
mod tests {
    use super::CheckState::{Down, Unknown, Up};
    use super::*;

    /// (rise, fall, results as 'H'/'U', state after each result)
    const TABLE: &[(u32, u32, &str, &[CheckState])] = &[
        (1, 1, "HUH", &[Up, Down, Up]),
        (3, 3, "H", &[Up]),
        (3, 3, "U", &[Down]),
        // fall 3: two failures are not enough, the third is.
        (1, 3, "HUUU", &[Up, Up, Up, Down]),
        // a success in between resets the failure run.
        (1, 3, "HUUHUU", &[Up, Up, Up, Up, Up, Up]),
        (1, 3, "HUUHUUU", &[Up, Up, Up, Up, Up, Up, Down]),
        // rise 2 from down.
        (2, 1, "UHH", &[Down, Down, Up]),
        (2, 1, "UHUHH", &[Down, Down, Down, Down, Up]),
        // flapping never crosses with rise=fall=2.
        (2, 2, "HUHUHU", &[Up, Up, Up, Up, Up, Up]),
        (2, 2, "UHUHUH", &[Down, Down, Down, Down, Down, Down]),
        // zero is treated as one.
        (0, 0, "HU", &[Up, Down]),
    ];

    #[test]
    fn rise_fall_table() {
        for (rise, fall, results, expected) in TABLE {
            let mut rf = RiseFall::new(*rise, *fall);
            assert_eq!(rf.state(), Unknown);
            let got: Vec<CheckState> = results
                .chars()
                .map(|c| {
                    rf.observe(c == 'H');
                    rf.state()
                })
                .collect();
            assert_eq!(&got, expected, "rise={rise} fall={fall} results={results}");
        }
    }

    #[test]
    fn observe_reports_only_changes() {
        let mut rf = RiseFall::new(1, 2);
        assert_eq!(rf.observe(true), Some(Up));
        assert_eq!(rf.observe(true), None);
        assert_eq!(rf.observe(false), None);
        assert_eq!(rf.observe(false), Some(Down));
        assert_eq!(rf.observe(false), None);
    }
}
