//! Tracking: check and interface changes → each tracking instance's
//! effective priority and fault, sent to its driver the moment they change
//! (not at the next advert), logged with the reason and published.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};

use crate::check::{CheckEvent, CheckState, Health, Scheduler};
use crate::events::{EventBus, EventKind};
use crate::status::InstanceCell;
use crate::tracker::{Effective, TrackInput, TrackTarget, Tracker};
use crate::vrrp::poller::{Command, Control};

/// One instance that tracks something.
pub struct Tracked {
    pub name: String,
    pub tracker: Tracker,
    pub cell: Arc<InstanceCell>,
    /// Set once the driver runs; updates before that only shape its start.
    pub control: Option<Arc<Control>>,
    last: Effective,
}

impl Tracked {
    pub fn new(name: String, tracker: Tracker, cell: Arc<InstanceCell>) -> Tracked {
        let last = tracker.effective();
        cell.live().tracking = Some(last.clone());
        Tracked {
            name,
            tracker,
            cell,
            control: None,
            last,
        }
    }

    /// What the driver should start with.
    pub fn effective(&self) -> &Effective {
        &self.last
    }
}

pub struct Tracking {
    pub instances: Vec<Tracked>,
    pub events: EventBus,
}

impl Tracking {
    /// Applies one input to every instance following `target`.
    pub fn update(&mut self, target: &TrackTarget, input: TrackInput) {
        for t in &mut self.instances {
            if !t.tracker.update(target, input) {
                continue;
            }
            let e = t.tracker.effective();
            if e == t.last {
                continue;
            }
            let why = e.explain();
            if e.fault != t.last.fault {
                if e.fault {
                    warn!(instance = %t.name, because = %target, %why, "tracking: FAULT");
                } else {
                    info!(instance = %t.name, because = %target, %why, "tracking: fault cleared");
                }
            }
            if e.priority != t.last.priority {
                info!(instance = %t.name, from = t.last.priority, to = e.priority,
                    because = %target, %why, "tracking: priority changed");
            }
            if let Some(c) = &t.control {
                // Priority first: leaving a fault then uses the new priority.
                if e.priority != t.last.priority {
                    c.send(Command::SetPriority(e.priority));
                }
                if e.fault != t.last.fault {
                    c.send(Command::SetTrackingFault(e.fault));
                }
            }
            self.events.publish(EventKind::Priority {
                instance: t.name.clone(),
                priority: e.priority,
                fault: e.fault,
                explain: why,
            });
            t.cell.live().tracking = Some(e.clone());
            t.last = e;
        }
    }

    /// Runs until both inputs close: check changes from the scheduler and
    /// link changes from the link monitor.
    pub async fn run(
        mut self,
        checks: Option<(Scheduler, tokio::sync::broadcast::Receiver<CheckEvent>)>,
        mut links: UnboundedReceiver<(String, bool)>,
    ) {
        let (scheduler, mut checks) = match checks {
            Some((s, rx)) => (Some(s), Some(rx)),
            None => (None, None),
        };
        let mut links_open = true;
        tracing::debug!(checks = checks.is_some(), "tracking started");
        loop {
            tokio::select! {
                ev = async { checks.as_mut().expect("guarded").recv().await }, if checks.is_some() => {
                    match ev {
                        Ok(ev) => {
                            tracing::debug!(?ev, "tracking: check event");
                            self.on_check(ev)
                        }
                        Err(RecvError::Lagged(n)) => {
                            warn!(missed = n, "tracking fell behind check changes; re-reading all");
                            if let Some(s) = &scheduler {
                                for st in s.statuses() {
                                    let weight = st.last_report.as_ref().and_then(|r| r.weight);
                                    self.update(
                                        &TrackTarget::Check(st.name.to_string()),
                                        TrackInput::from_check(st.state, weight),
                                    );
                                }
                            }
                        }
                        Err(RecvError::Closed) => checks = None,
                    }
                }
                link = links.recv(), if links_open => match link {
                    Some((name, up)) => self.update(&TrackTarget::Interface(name), TrackInput::from_link(up)),
                    None => links_open = false,
                },
                else => return,
            }
        }
    }

    fn on_check(&mut self, ev: CheckEvent) {
        match ev {
            CheckEvent::Changed {
                name,
                from,
                to,
                weight,
                report,
            } => {
                self.events.publish(EventKind::Check {
                    check: name.to_string(),
                    from: from.to_string(),
                    to: to.to_string(),
                    weight,
                    reason: match &report.health {
                        Health::Healthy => None,
                        Health::Unhealthy(r) => Some(r.clone()),
                    },
                });
                self.update(
                    &TrackTarget::Check(name.to_string()),
                    TrackInput::from_check(to, weight),
                );
            }
            CheckEvent::Removed { name } => self.update(
                &TrackTarget::Check(name.to_string()),
                TrackInput::from_check(CheckState::Unknown, None),
            ),
        }
    }
}
