//! Notify hooks: commands run on every VRRP transition, strictly in order per
//! instance (or sync group), each bounded by a timeout, never on the protocol
//! loop.
//!
//! As in Keepalived, a transition runs the state's own command
//! (`master`/`backup`/`fault`/`stop`) and then the generic one, which receives
//! `TYPE NAME STATE PRIORITY` (`INSTANCE VI_1 MASTER 150`). Commands are argv
//! lists run without a shell; a command that outlives its timeout is killed
//! with its whole process group.

use std::fmt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::events::{EventBus, EventKind};

/// What a notification is about (Keepalived's TYPE argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Instance,
    Group,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Subject::Instance => "INSTANCE",
            Subject::Group => "GROUP",
        })
    }
}

/// The state a transition went to (Keepalived's STATE argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
}

impl fmt::Display for NotifyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub subject: Subject,
    pub name: String,
    pub state: NotifyState,
    pub priority: u8,
}

/// The commands configured for one instance or group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    pub master: Option<Vec<String>>,
    pub backup: Option<Vec<String>>,
    pub fault: Option<Vec<String>>,
    pub stop: Option<Vec<String>>,
    /// Generic command; receives TYPE NAME STATE PRIORITY as extra arguments.
    pub any: Option<Vec<String>>,
    pub timeout: Duration,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.master.is_none()
            && self.backup.is_none()
            && self.fault.is_none()
            && self.stop.is_none()
            && self.any.is_none()
    }

    /// Commands to run for a transition, in order, with their full argv.
    pub fn commands_for(&self, t: &Transition) -> Vec<Vec<String>> {
        let specific = match t.state {
            NotifyState::Master => &self.master,
            NotifyState::Backup => &self.backup,
            NotifyState::Fault => &self.fault,
            NotifyState::Stop => &self.stop,
        };
        let mut out: Vec<Vec<String>> = specific.iter().cloned().collect();
        if let Some(any) = &self.any {
            let mut argv = any.clone();
            argv.extend([
                t.subject.to_string(),
                t.name.clone(),
                t.state.to_string(),
                t.priority.to_string(),
            ]);
            out.push(argv);
        }
        out
    }
}

/// How a hook command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    SpawnFailed(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(c) => write!(f, "exited {c}"),
            Outcome::Signalled(s) => write!(f, "killed by signal {s}"),
            Outcome::TimedOut => write!(f, "timed out (killed)"),
            Outcome::SpawnFailed(e) => write!(f, "could not start: {e}"),
        }
    }
}

/// Sends transitions to a per-instance worker that runs the hooks in order.
/// Cheap to clone; sending never blocks.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<Transition>,
}

impl Notifier {
    /// Starts the worker (inside a tokio runtime). It ends when every
    /// `Notifier` clone is dropped and the queue is drained; await the
    /// returned task at shutdown so the STOP hooks get to run.
    pub fn spawn(hooks: Arc<Hooks>, events: EventBus) -> (Notifier, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Transition>();
        let task = tokio::spawn(async move {
            while let Some(t) = rx.recv().await {
                for argv in hooks.commands_for(&t) {
                    let started = Instant::now();
                    let outcome = run(&argv, hooks.timeout).await;
                    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                    let command = argv.join(" ");
                    if outcome == Outcome::Exited(0) {
                        info!(instance = t.name.as_str(), state = %t.state, command, elapsed_ms, "notify hook ran");
                    } else {
                        warn!(instance = t.name.as_str(), state = %t.state, command, %outcome, elapsed_ms, "notify hook failed");
                    }
                    events.publish(EventKind::Notify {
                        name: t.name.clone(),
                        state: t.state.to_string(),
                        command,
                        outcome: outcome.to_string(),
                    });
                }
            }
        });
        (Notifier { tx }, task)
    }

    pub fn send(&self, t: Transition) {
        // The worker only stops when every sender is gone, so this cannot fail
        // while `self` exists; ignore the impossible error.
        let _ = self.tx.send(t);
    }
}

/// Output kept from a hook, for the log; the rest is read and dropped.
const OUTPUT_LIMIT: usize = 4096;

async fn run(argv: &[String], timeout: Duration) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return Outcome::SpawnFailed("empty command".into());
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::SpawnFailed(e.to_string()),
    };
    let pid = child.id();
    let out = child.stdout.take().map(|s| tokio::spawn(drain(s)));
    let err = child.stderr.take().map(|s| tokio::spawn(drain(s)));
    let outcome = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(c), _) => Outcome::Exited(c),
                (None, Some(s)) => Outcome::Signalled(s),
                (None, None) => Outcome::Exited(-1),
            }
        }
        Ok(Err(e)) => Outcome::SpawnFailed(e.to_string()),
        Err(_) => {
            if let Some(pid) = pid {
                // The group leader is our child, so its pgid is its pid.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait().await;
            Outcome::TimedOut
        }
    };
    for (stream, task) in [("stdout", out), ("stderr", err)] {
        if let Some(Ok(text)) = match task {
            Some(t) => Some(t.await),
            None => None,
        } && !text.trim().is_empty()
        {
            info!(
                command = argv.join(" "),
                stream,
                output = text.trim(),
                "notify hook output"
            );
        }
    }
    outcome
}

async fn drain(mut s: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks() -> Hooks {
        Hooks {
            master: Some(vec!["/bin/m".into(), "x".into()]),
            any: Some(vec!["/bin/n".into()]),
            timeout: Duration::from_secs(1),
            ..Hooks::default()
        }
    }

    #[test]
    fn specific_command_then_generic_with_keepalived_arguments() {
        let t = Transition {
            subject: Subject::Instance,
            name: "VI_1".into(),
            state: NotifyState::Master,
            priority: 150,
        };
        assert_eq!(
            hooks().commands_for(&t),
            vec![
                vec!["/bin/m".to_owned(), "x".to_owned()],
                ["/bin/n", "INSTANCE", "VI_1", "MASTER", "150"]
                    .map(String::from)
                    .to_vec(),
            ]
        );
        let t = Transition {
            state: NotifyState::Fault,
            ..t
        };
        assert_eq!(
            hooks().commands_for(&t).len(),
            1,
            "no fault command: generic only"
        );
    }

    #[tokio::test]
    async fn run_reports_exit_timeout_and_spawn_failure() {
        let sh = |s: &str| vec!["/bin/sh".to_owned(), "-c".to_owned(), s.to_owned()];
        assert_eq!(
            run(&sh("exit 3"), Duration::from_secs(5)).await,
            Outcome::Exited(3)
        );
        let started = Instant::now();
        // The grandchild `sleep` must die with the group, or the pipe would keep us waiting.
        assert_eq!(
            run(&sh("sleep 30 & sleep 30"), Duration::from_millis(100)).await,
            Outcome::TimedOut
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(matches!(
            run(&["/nonexistent/hook".to_owned()], Duration::from_secs(1)).await,
            Outcome::SpawnFailed(_)
        ));
    }
}
