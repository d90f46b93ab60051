//! What a VRRP driver's transitions set off: notify hooks, the event stream,
//! and its sync group's coordinator. Runs on the driver's thread; every
//! step is a non-blocking send.

use tokio::sync::mpsc::UnboundedSender;

use crate::events::{EventBus, EventKind};
use crate::notify::{Notifier, NotifyState, Subject, Transition};
use crate::status::registry::reason_str;
use crate::sync_group::MemberEvent;
use crate::vrrp::driver::Observer;
use crate::vrrp::{State, StateChangeReason};

/// A member's index in its group and the group coordinator's inbox.
pub type GroupLink = (usize, UnboundedSender<(usize, MemberEvent)>);

pub struct InstanceObserver {
    pub name: String,
    pub vrid: u8,
    pub notifier: Option<Notifier>,
    pub events: EventBus,
    pub group: Option<GroupLink>,
    /// "Is MASTER", for IPVS virtual servers that follow this instance.
    pub master: tokio::sync::watch::Sender<bool>,
}

impl InstanceObserver {
    fn to_group(&self, ev: MemberEvent) {
        if let Some((idx, tx)) = &self.group {
            // The coordinator lives as long as the daemon; a failed send
            // only happens during shutdown.
            let _ = tx.send((*idx, ev));
        }
    }
}

/// Keepalived's notify STATE for a transition; `None` for ones it does not
/// report (leaving Initialize is always followed by a real state).
pub fn notify_state(to: State, reason: StateChangeReason) -> Option<NotifyState> {
    match to {
        State::Master => Some(NotifyState::Master),
        State::Backup => Some(NotifyState::Backup),
        State::Fault => Some(NotifyState::Fault),
        State::Initialize if reason == StateChangeReason::Shutdown => Some(NotifyState::Stop),
        State::Initialize => None,
    }
}

impl Observer for InstanceObserver {
    fn state_changed(&self, from: State, to: State, reason: StateChangeReason, priority: u8) {
        self.events.publish(EventKind::Vrrp {
            instance: self.name.clone(),
            vrid: self.vrid,
            from: from.to_string(),
            to: to.to_string(),
            priority,
            reason: reason_str(reason).to_owned(),
        });
        if let (Some(n), Some(state)) = (&self.notifier, notify_state(to, reason)) {
            n.send(Transition {
                subject: Subject::Instance,
                name: self.name.clone(),
                state,
                priority,
            });
        }
        self.master.send_replace(to == State::Master);
        self.to_group(MemberEvent::State { from, to, reason });
    }

    fn wants_master(&self, wants: bool) {
        self.to_group(MemberEvent::WantsMaster(wants));
    }

    fn own_fault(&self, fault: bool) {
        self.to_group(MemberEvent::OwnFault(fault));
    }
}
