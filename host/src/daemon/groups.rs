//! One task per sync group: applies member events to the coordinator and
//! sends the resulting commands to the members' drivers.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;
use tracing::info;

use crate::notify::{Notifier, Subject, Transition};
use crate::sync_group::{GroupCommand, MemberEvent, SyncGroup};
use crate::vrrp::poller::{Command, Control};

pub fn spawn(
    name: String,
    members: Vec<(String, Arc<Control>)>,
    mut inbox: UnboundedReceiver<(usize, MemberEvent)>,
    notifier: Option<Notifier>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut group = SyncGroup::new(members.len());
        while let Some((idx, ev)) = inbox.recv().await {
            for (j, cmd) in group.handle(idx, ev) {
                let (member, control) = &members[j];
                if cmd == GroupCommand::StepDown {
                    info!(group = %name, instance = %member, cause = %members[idx].0,
                        "sync group: stepping down with the other member");
                }
                control.send(match cmd {
                    GroupCommand::Hold(h) => Command::SetHold(h),
                    GroupCommand::StepDown => Command::StepDown,
                    GroupCommand::GroupFault(f) => Command::SetGroupFault(f),
                });
            }
            if let Some(state) = group.poll_state_change() {
                info!(group = %name, %state, "sync group state");
                if let Some(n) = &notifier {
                    n.send(Transition {
                        subject: Subject::Group,
                        name: name.clone(),
                        state,
                        priority: 0,
                    });
                }
            }
        }
    })
}
