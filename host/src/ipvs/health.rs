//! The health view: what the check engine knows about each real server,
//! as input to the desired-state computation. The scheduler's per-check
//! results are folded into it by [`HealthView::set_from_checks`].

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::Serialize;

/// A real server of a named virtual server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RsId {
    pub vs: String,
    pub rs: SocketAddr,
}

impl RsId {
    pub fn new(vs: impl Into<String>, rs: SocketAddr) -> RsId {
        RsId { vs: vs.into(), rs }
    }
}

/// Health of a real server or of one of its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RsState {
    /// No result yet: counted as up, or as down under `alpha`.
    #[default]
    Pending,
    Up,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RsHealth {
    pub state: RsState,
    /// A plugin's dynamic weight; replaces the configured weight while set.
    pub weight: Option<i64>,
}

impl RsHealth {
    pub const UP: RsHealth = RsHealth {
        state: RsState::Up,
        weight: None,
    };
    pub const DOWN: RsHealth = RsHealth {
        state: RsState::Down,
        weight: None,
    };

    pub fn up_with_weight(w: i64) -> RsHealth {
        RsHealth {
            state: RsState::Up,
            weight: Some(w),
        }
    }

    /// Folds the results of several checks: down if any is down, pending
    /// if any has not run yet, else up; the lowest dynamic weight wins (a
    /// check that asks for less traffic is heeded).
    pub fn combine(checks: impl IntoIterator<Item = RsHealth>) -> RsHealth {
        let mut out = RsHealth::UP;
        let mut any_pending = false;
        for c in checks {
            match c.state {
                RsState::Down => out.state = RsState::Down,
                RsState::Pending => any_pending = true,
                RsState::Up => {}
            }
            if let Some(w) = c.weight {
                out.weight = Some(out.weight.map_or(w, |o| o.min(w)));
            }
        }
        if out.state != RsState::Down && any_pending {
            out.state = RsState::Pending;
        }
        out
    }
}

/// Per real server health. A real server missing from the view is pending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthView {
    map: HashMap<RsId, RsHealth>,
}

impl HealthView {
    pub fn new() -> HealthView {
        HealthView::default()
    }

    pub fn set(&mut self, id: RsId, h: RsHealth) {
        self.map.insert(id, h);
    }

    pub fn get(&self, id: &RsId) -> RsHealth {
        self.map.get(id).copied().unwrap_or_default()
    }

    /// Sets every real server of `specs` that has checks from per-check
    /// results (`check(name)`; `None` = not run yet).
    pub fn set_from_checks(
        &mut self,
        specs: &[super::VirtualServerSpec],
        check: impl Fn(&str) -> Option<RsHealth>,
    ) {
        for vs in specs {
            for rs in &vs.real_servers {
                if rs.checks.is_empty() {
                    continue;
                }
                let h = RsHealth::combine(rs.checks.iter().map(|c| check(c).unwrap_or_default()));
                self.set(RsId::new(vs.name.clone(), rs.dest.addr), h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_is_pessimistic() {
        let down = RsHealth::DOWN;
        let pending = RsHealth::default();
        assert_eq!(RsHealth::combine([RsHealth::UP, down]).state, RsState::Down);
        assert_eq!(
            RsHealth::combine([RsHealth::UP, pending]).state,
            RsState::Pending
        );
        assert_eq!(RsHealth::combine([pending, down]).state, RsState::Down);
        assert_eq!(RsHealth::combine([]).state, RsState::Up);
        let w = RsHealth::combine([RsHealth::up_with_weight(5), RsHealth::up_with_weight(2)]);
        assert_eq!(w, RsHealth::up_with_weight(2));
    }
}
