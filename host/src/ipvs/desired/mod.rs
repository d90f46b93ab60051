//! The desired IPVS table from the configured virtual servers, the health
//! view and VRRP mastership, with Keepalived's virtual_server semantics:
//!
//! - a real server is alive when all its checks pass (no checks: always);
//!   before the first result it is alive, or down under `alpha`;
//! - a dead real server is removed, or kept with weight 0 under
//!   `inhibit_on_failure`; alive again, it gets its weight back;
//! - a plugin's dynamic weight replaces the configured weight;
//! - quorum: the sum of live weights must reach `quorum + hysteresis` to
//!   gain quorum and fall below `quorum - hysteresis` (or to 0) to lose it;
//!   without quorum a configured sorry server replaces the real servers
//!   (inhibited ones stay at weight 0); with quorum it is removed (or kept
//!   at weight 0 under `sorry_server.inhibit`);
//! - `only_when_master`: no service at all while that VRRP instance is not
//!   MASTER (the reconciler then deletes it; quorum state is kept).
//!
//! Sans-IO: the caller passes health and mastership in and gets the table,
//! a status snapshot and the transitions (for logs and notifications) out.

use std::net::SocketAddr;

use serde::Serialize;

use super::health::RsState;
use super::{Dest, HealthView, RsId, Table, VirtualServerSpec, VirtualService};

/// A state change worth telling the operator about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    RealServerUp {
        vs: String,
        rs: SocketAddr,
    },
    RealServerDown {
        vs: String,
        rs: SocketAddr,
    },
    WeightChanged {
        vs: String,
        rs: SocketAddr,
        from: u32,
        to: u32,
    },
    QuorumGained {
        vs: String,
        weight_sum: u64,
        threshold: u64,
    },
    QuorumLost {
        vs: String,
        weight_sum: u64,
        threshold: u64,
    },
    /// Programmed again after its VRRP instance became MASTER.
    Activated {
        vs: String,
    },
    /// Withdrawn because its VRRP instance is not MASTER.
    Withdrawn {
        vs: String,
    },
}

/// Status of one real server (for `belay status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RealServerStatus {
    pub address: SocketAddr,
    /// What the checks say (`pending` before the first result).
    pub health: RsState,
    /// Counted as alive (health, alpha).
    pub alive: bool,
    /// Weight it is scheduled with while alive (dynamic or configured).
    pub weight: u32,
    pub configured_weight: u32,
    /// Weight in the desired kernel table; `None` = not in the table.
    pub table_weight: Option<u32>,
}

/// Status of one virtual server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VirtualServerStatus {
    pub name: String,
    pub service: String,
    /// Programmed (false while its VRRP instance is not MASTER).
    pub active: bool,
    pub quorum_up: bool,
    /// Sum of the weights of live real servers.
    pub weight_sum: u64,
    pub quorum: u64,
    pub hysteresis: u64,
    pub sorry_server_active: bool,
    pub real_servers: Vec<RealServerStatus>,
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub table: Table,
    pub status: Vec<VirtualServerStatus>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone)]
struct Runtime {
    spec: VirtualServerSpec,
    /// `None` until the first evaluation.
    quorum_up: Option<bool>,
    active: Option<bool>,
    /// Per real server (same order as the spec): alive and weight last time.
    last: Vec<Option<(bool, u32)>>,
}

impl Runtime {
    fn new(spec: VirtualServerSpec) -> Runtime {
        let n = spec.real_servers.len();
        Runtime {
            spec,
            quorum_up: None,
            active: None,
            last: vec![None; n],
        }
    }
}

/// Keepalived's virtual_server behaviour over time.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    vss: Vec<Runtime>,
}

/// A weight as the kernel takes it: 0..=i32::MAX.
fn kernel_weight(w: i64) -> u32 {
    w.clamp(0, i64::from(i32::MAX)) as u32
}

impl Desired {
    pub fn new(specs: Vec<VirtualServerSpec>) -> Desired {
        Desired {
            vss: specs.into_iter().map(Runtime::new).collect(),
        }
    }

    /// Replaces the configuration (reload). A virtual server that keeps its
    /// name and service key keeps its quorum state, and its real servers
    /// that keep their address keep their last state (so a reload neither
    /// re-announces nor flaps them).
    pub fn reconfigure(&mut self, specs: Vec<VirtualServerSpec>) {
        let mut old = std::mem::take(&mut self.vss);
        for spec in specs {
            let mut rt = Runtime::new(spec);
            if let Some(pos) = old.iter().position(|o| {
                o.spec.name == rt.spec.name && o.spec.service.key == rt.spec.service.key
            }) {
                let prev = old.swap_remove(pos);
                rt.quorum_up = prev.quorum_up;
                rt.active = prev.active;
                for (i, rs) in rt.spec.real_servers.iter().enumerate() {
                    if let Some(j) = prev
                        .spec
                        .real_servers
                        .iter()
                        .position(|p| p.dest.addr == rs.dest.addr)
                    {
                        rt.last[i] = prev.last[j];
                    }
                }
            }
            self.vss.push(rt);
        }
    }

    pub fn specs(&self) -> impl Iterator<Item = &VirtualServerSpec> {
        self.vss.iter().map(|r| &r.spec)
    }

    /// Computes the desired table for the current health and mastership.
    pub fn evaluate(
        &mut self,
        health: &HealthView,
        is_master: impl Fn(&str) -> bool,
    ) -> Evaluation {
        let mut out = Evaluation::default();
        for rt in &mut self.vss {
            evaluate_one(rt, health, &is_master, &mut out);
        }
        out
    }

    /// Shutdown: the events an `omega` virtual server reports as it goes
    /// (each live real server down, then quorum lost). The caller then
    /// withdraws the table.
    pub fn stop(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        for rt in &mut self.vss {
            if !rt.spec.omega {
                continue;
            }
            for (rs, last) in rt.spec.real_servers.iter().zip(&mut rt.last) {
                if let Some((true, w)) = *last {
                    events.push(Event::RealServerDown {
                        vs: rt.spec.name.clone(),
                        rs: rs.dest.addr,
                    });
                    *last = Some((false, w));
                }
            }
            if rt.quorum_up == Some(true) {
                events.push(Event::QuorumLost {
                    vs: rt.spec.name.clone(),
                    weight_sum: 0,
                    threshold: rt.spec.quorum.saturating_sub(rt.spec.hysteresis),
                });
                rt.quorum_up = Some(false);
            }
        }
        events
    }
}

fn evaluate_one(
    rt: &mut Runtime,
    health: &HealthView,
    is_master: &impl Fn(&str) -> bool,
    out: &mut Evaluation,
) {
    let spec = &rt.spec;
    let name = &spec.name;

    // Health of each real server.
    let mut rows = Vec::with_capacity(spec.real_servers.len());
    let mut weight_sum: u64 = 0;
    for (i, rs) in spec.real_servers.iter().enumerate() {
        let h = if rs.checks.is_empty() {
            super::RsHealth::UP
        } else {
            health.get(&RsId::new(name.clone(), rs.dest.addr))
        };
        let alive = match h.state {
            RsState::Up => true,
            RsState::Down => false,
            RsState::Pending => !spec.alpha,
        };
        let weight = h.weight.map_or(rs.dest.weight, kernel_weight);
        if alive {
            weight_sum += u64::from(weight);
        }
        match rt.last[i] {
            Some((was_alive, was_w)) => {
                if was_alive != alive {
                    out.events.push(if alive {
                        Event::RealServerUp {
                            vs: name.clone(),
                            rs: rs.dest.addr,
                        }
                    } else {
                        Event::RealServerDown {
                            vs: name.clone(),
                            rs: rs.dest.addr,
                        }
                    });
                }
                if was_w != weight {
                    out.events.push(Event::WeightChanged {
                        vs: name.clone(),
                        rs: rs.dest.addr,
                        from: was_w,
                        to: weight,
                    });
                }
            }
            // First sight: only a failure is news (Keepalived notifies a
            // checker's first result only when it is down).
            None if !alive && h.state == RsState::Down => out.events.push(Event::RealServerDown {
                vs: name.clone(),
                rs: rs.dest.addr,
            }),
            None => {}
        }
        rt.last[i] = Some((alive, weight));
        rows.push((h.state, alive, weight));
    }

    // Quorum with hysteresis.
    let gain_at = spec.quorum + spec.hysteresis;
    let lose_below = spec.quorum.saturating_sub(spec.hysteresis);
    let quorum_up = match rt.quorum_up {
        None => weight_sum >= gain_at,
        Some(true) => !(weight_sum == 0 || weight_sum < lose_below),
        Some(false) => weight_sum >= gain_at,
    };
    if let Some(prev) = rt.quorum_up
        && prev != quorum_up
    {
        out.events.push(if quorum_up {
            Event::QuorumGained {
                vs: name.clone(),
                weight_sum,
                threshold: gain_at,
            }
        } else {
            Event::QuorumLost {
                vs: name.clone(),
                weight_sum,
                threshold: lose_below,
            }
        });
    }
    rt.quorum_up = Some(quorum_up);

    // Mastership gate.
    let active = spec.only_when_master.as_deref().is_none_or(is_master);
    if let Some(prev) = rt.active
        && prev != active
    {
        out.events.push(if active {
            Event::Activated { vs: name.clone() }
        } else {
            Event::Withdrawn { vs: name.clone() }
        });
    }
    rt.active = Some(active);

    // Destinations.
    let sorry_in_use = !quorum_up && spec.sorry_server.is_some();
    let mut vs = VirtualService::new(spec.service.clone());
    for (rs, &(_, alive, weight)) in spec.real_servers.iter().zip(&rows) {
        let table_weight = match (alive && !sorry_in_use, rs.inhibit_on_failure) {
            (true, _) => Some(weight),
            (false, true) => Some(0),
            (false, false) => None,
        };
        if let Some(w) = table_weight {
            vs.dests.insert(
                rs.dest.addr,
                Dest {
                    weight: w,
                    ..rs.dest
                },
            );
        }
    }
    if let Some(sorry) = &spec.sorry_server {
        if sorry_in_use {
            vs.dests.insert(sorry.dest.addr, sorry.dest);
        } else if sorry.inhibit {
            vs.dests.entry(sorry.dest.addr).or_insert(Dest {
                weight: 0,
                ..sorry.dest
            });
        }
    }

    let real_servers = spec
        .real_servers
        .iter()
        .zip(&rows)
        .map(|(rs, &(state, alive, weight))| RealServerStatus {
            address: rs.dest.addr,
            health: if rs.checks.is_empty() {
                RsState::Up
            } else {
                state
            },
            alive,
            weight,
            configured_weight: rs.dest.weight,
            table_weight: active
                .then(|| vs.dests.get(&rs.dest.addr).map(|d| d.weight))
                .flatten(),
        })
        .collect();
    out.status.push(VirtualServerStatus {
        name: name.clone(),
        service: spec.service.key.to_string(),
        active,
        quorum_up,
        weight_sum,
        quorum: spec.quorum,
        hysteresis: spec.hysteresis,
        sorry_server_active: sorry_in_use && active,
        real_servers,
    });
    if active {
        out.table.insert(vs);
    }
}

#[cfg(test)]
mod tests;
