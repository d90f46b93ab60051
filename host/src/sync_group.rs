//! Sync groups: VRRP instances that change state together (Keepalived's
//! `vrrp_sync_group`), as a pure coordinator — member events in, commands
//! out — so the rules are testable without threads or sockets.
//!
//! Rules (Keepalived's, with a priority-0 step-down for speed):
//! - **Fault**: while any member has a fault of its own (interface or
//!   tracking), every other member is held in Fault too.
//! - **Master by consensus**: members are held; a held backup whose
//!   master-down timer expires only says it *wants* master. When every member
//!   is master or wants to be, all are released and become master together.
//! - **Backup together**: when a master member loses its election (a higher
//!   priority or address, or it resigned), the other masters step down with
//!   a priority-0 advert so the peer group takes over at once.

use crate::notify::NotifyState;
use crate::vrrp::{State, StateChangeReason};

/// What a member's driver reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberEvent {
    State {
        from: State,
        to: State,
        reason: StateChangeReason,
    },
    WantsMaster(bool),
    OwnFault(bool),
}

/// What the coordinator asks of a member's driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCommand {
    Hold(bool),
    StepDown,
    GroupFault(bool),
}

#[derive(Debug, Clone)]
struct Member {
    state: State,
    wants: bool,
    own_fault: bool,
    held: bool,
    group_fault: bool,
}

#[derive(Debug, Clone)]
pub struct SyncGroup {
    members: Vec<Member>,
    /// Last group state reported (for group notify hooks).
    reported: Option<NotifyState>,
}

impl SyncGroup {
    /// A group of `n` members, all starting held and not faulted (drivers
    /// start them with `start_held`).
    pub fn new(n: usize) -> SyncGroup {
        SyncGroup {
            members: vec![
                Member {
                    state: State::Initialize,
                    wants: false,
                    own_fault: false,
                    held: true,
                    group_fault: false,
                };
                n
            ],
            reported: None,
        }
    }

    /// Applies one member's event; returns the commands to send, in order.
    pub fn handle(&mut self, idx: usize, ev: MemberEvent) -> Vec<(usize, GroupCommand)> {
        let mut out = Vec::new();
        let Some(m) = self.members.get_mut(idx) else {
            return out;
        };
        match ev {
            MemberEvent::State { from, to, reason } => {
                m.state = to;
                if to != State::Backup {
                    m.wants = false;
                }
                let lost = from == State::Master
                    && to == State::Backup
                    && matches!(
                        reason,
                        StateChangeReason::HigherPriority
                            | StateChangeReason::HigherAddress
                            | StateChangeReason::Resigned
                    );
                if lost {
                    for (j, other) in self.members.iter().enumerate() {
                        if j != idx && other.state == State::Master {
                            out.push((j, GroupCommand::StepDown));
                        }
                    }
                }
            }
            MemberEvent::WantsMaster(w) => m.wants = w,
            MemberEvent::OwnFault(f) => m.own_fault = f,
        }

        // Fault: each member mirrors the others' own faults.
        let faulted: Vec<bool> = self.members.iter().map(|m| m.own_fault).collect();
        for (j, m) in self.members.iter_mut().enumerate() {
            let want = faulted.iter().enumerate().any(|(k, f)| k != j && *f);
            if want != m.group_fault {
                m.group_fault = want;
                out.push((j, GroupCommand::GroupFault(want)));
            }
        }

        // Master by consensus.
        let ready = self
            .members
            .iter()
            .all(|m| m.state == State::Master || (m.state == State::Backup && m.wants));
        for (j, m) in self.members.iter_mut().enumerate() {
            if m.held == ready {
                m.held = !ready;
                out.push((j, GroupCommand::Hold(!ready)));
            }
        }
        out
    }

    /// The group's state, once it changes: MASTER when every member is
    /// master, FAULT when any is in fault, STOP when all stopped, else BACKUP.
    pub fn poll_state_change(&mut self) -> Option<NotifyState> {
        let states = || self.members.iter().map(|m| m.state);
        let now = if states().any(|s| s == State::Fault) {
            NotifyState::Fault
        } else if states().all(|s| s == State::Master) {
            NotifyState::Master
        } else if states().all(|s| s == State::Initialize) {
            self.reported?;
            NotifyState::Stop
        } else if states().any(|s| s == State::Initialize) {
            return None;
        } else {
            NotifyState::Backup
        };
        if self.reported == Some(now) {
            return None;
        }
        self.reported = Some(now);
        Some(now)
    }
}

#[cfg(test)]
mod tests {
    use super::GroupCommand::{GroupFault, Hold, StepDown};
    use super::MemberEvent::{OwnFault, WantsMaster};
    use super::*;
    use crate::vrrp::FaultSource;

    fn st(from: State, to: State, reason: StateChangeReason) -> MemberEvent {
        MemberEvent::State { from, to, reason }
    }

    fn started(g: &mut SyncGroup, n: usize) {
        for i in 0..n {
            g.handle(
                i,
                st(State::Initialize, State::Backup, StateChangeReason::Startup),
            );
        }
    }

    #[test]
    fn members_become_master_only_when_all_want_it() {
        let mut g = SyncGroup::new(2);
        started(&mut g, 2);
        assert_eq!(g.handle(0, WantsMaster(true)), vec![]);
        assert_eq!(
            g.handle(1, WantsMaster(true)),
            vec![(0, Hold(false)), (1, Hold(false))]
        );
        // Released members become master; the group stays released.
        assert_eq!(
            g.handle(
                0,
                st(State::Backup, State::Master, StateChangeReason::SyncGroup)
            ),
            vec![]
        );
        assert_eq!(
            g.handle(
                1,
                st(State::Backup, State::Master, StateChangeReason::SyncGroup)
            ),
            vec![]
        );
        assert_eq!(g.poll_state_change(), Some(NotifyState::Master));
    }

    #[test]
    fn a_member_following_a_master_keeps_the_others_held() {
        let mut g = SyncGroup::new(2);
        started(&mut g, 2);
        assert_eq!(g.handle(0, WantsMaster(true)), vec![]);
        assert_eq!(g.handle(1, WantsMaster(false)), vec![]);
        assert_eq!(g.poll_state_change(), Some(NotifyState::Backup));
    }

    #[test]
    fn losing_an_election_steps_the_other_masters_down() {
        let mut g = SyncGroup::new(3);
        started(&mut g, 3);
        for i in 0..3 {
            g.handle(i, WantsMaster(true));
        }
        for i in 0..3 {
            g.handle(
                i,
                st(State::Backup, State::Master, StateChangeReason::SyncGroup),
            );
        }
        let out = g.handle(
            1,
            st(
                State::Master,
                State::Backup,
                StateChangeReason::HigherPriority,
            ),
        );
        assert_eq!(
            out,
            vec![
                (0, StepDown),
                (2, StepDown),
                (0, Hold(true)),
                (1, Hold(true)),
                (2, Hold(true))
            ]
        );
        // A resignation moves the group the same way; a shutdown does not.
        let mut g2 = g.clone();
        g2.handle(
            1,
            st(State::Backup, State::Master, StateChangeReason::SyncGroup),
        );
        let out = g2.handle(
            1,
            st(State::Master, State::Backup, StateChangeReason::Resigned),
        );
        assert!(out.contains(&(0, StepDown)));
        let out = g.handle(
            0,
            st(
                State::Master,
                State::Initialize,
                StateChangeReason::Shutdown,
            ),
        );
        assert!(!out.contains(&(2, StepDown)));
    }

    #[test]
    fn one_members_fault_faults_the_others_until_it_clears() {
        let mut g = SyncGroup::new(3);
        started(&mut g, 3);
        assert_eq!(
            g.handle(2, OwnFault(true)),
            vec![(0, GroupFault(true)), (1, GroupFault(true))]
        );
        g.handle(
            2,
            st(
                State::Backup,
                State::Fault,
                StateChangeReason::Fault(FaultSource::Interface),
            ),
        );
        assert_eq!(g.poll_state_change(), Some(NotifyState::Fault));
        // A second own fault elsewhere: member 2 is now faulted by the group too.
        assert_eq!(g.handle(0, OwnFault(true)), vec![(2, GroupFault(true))]);
        assert_eq!(g.handle(2, OwnFault(false)), vec![(0, GroupFault(false))]);
        assert_eq!(
            g.handle(0, OwnFault(false)),
            vec![(1, GroupFault(false)), (2, GroupFault(false))]
        );
    }
}
