//! The daemon's IPVS task. It evaluates the desired table whenever the
//! configuration, the health view or a VRRP instance's mastership changes,
//! reconciles the kernel off the async runtime (re-reading every
//! destination each `resync` interval, to repair changes made behind its
//! back), publishes status, and on stop reports `omega` transitions and
//! removes everything it owns.
//!
//! Seams for the parts built elsewhere:
//! - health: a `watch` of [`HealthView`] (the check scheduler fills it);
//! - VRRP: one `watch<bool>` ("is MASTER") per instance name. A virtual
//!   server with `only_when_master` whose instance has no channel is
//!   treated as not master: nothing is programmed for it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::desired::{Desired, Event, VirtualServerStatus};
use super::{Client, HealthView, IpvsError, Reconciler, Table, VirtualServerSpec};

/// What the engine listens to.
pub struct Inputs {
    /// The configured virtual servers; a new value is a reload.
    pub specs: watch::Receiver<Arc<Vec<VirtualServerSpec>>>,
    pub health: watch::Receiver<HealthView>,
    /// Mastership per VRRP instance name.
    pub masters: HashMap<String, watch::Receiver<bool>>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Re-read and repair the kernel table at least this often.
    pub resync: Duration,
    /// Wait before retrying after a failed reconcile.
    pub retry: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            resync: Duration::from_secs(30),
            retry: Duration::from_secs(1),
        }
    }
}

/// A running IPVS task.
pub struct Engine {
    status: watch::Receiver<Vec<VirtualServerStatus>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), IpvsError>>,
}

/// Connects to the kernel's IPVS, loading the `ip_vs` module if the family
/// is missing (as Keepalived does). Call it in the network namespace the
/// table belongs to: the socket stays there.
pub fn connect() -> Result<Client, IpvsError> {
    match Client::connect() {
        Err(IpvsError::Unavailable) => {
            let loaded = std::process::Command::new("modprobe")
                .arg("ip_vs")
                .status()
                .is_ok_and(|s| s.success());
            if !loaded {
                return Err(IpvsError::Unavailable);
            }
            tracing::info!("loaded the ip_vs kernel module");
            Client::connect()
        }
        other => other,
    }
}

impl Engine {
    /// Starts the task on the current tokio runtime with an already
    /// connected client (see [`connect`]).
    pub fn spawn(client: Client, inputs: Inputs, opts: Options) -> Engine {
        let (status_tx, status) = watch::channel(Vec::new());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run(
            Reconciler::new(client),
            inputs,
            opts,
            status_tx,
            stop_rx,
        ));
        Engine { status, stop, task }
    }

    /// Status of every virtual server. A value is published once the
    /// kernel has been reconciled for it, so waiting for a status also
    /// waits for the table.
    pub fn status(&self) -> watch::Receiver<Vec<VirtualServerStatus>> {
        self.status.clone()
    }

    /// Stops: `omega` events, then every owned service is removed.
    pub async fn stop(self) -> Result<(), IpvsError> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(IpvsError::Io(std::io::Error::other(format!(
                "IPVS task ended abnormally: {e}"
            )))),
        }
    }
}

/// Runs the blocking netlink work on the blocking pool, handing the
/// reconciler there and back.
async fn blocking<T: Send + 'static>(
    rec: Reconciler,
    f: impl FnOnce(&mut Reconciler) -> T + Send + 'static,
) -> (Reconciler, T) {
    let h = tokio::task::spawn_blocking(move || {
        let mut rec = rec;
        let out = f(&mut rec);
        (rec, out)
    });
    match h.await {
        Ok(v) => v,
        // The closure does not panic on its own (no unwraps); a panic here
        // is a bug worth crashing on rather than running without IPVS.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

fn log_event(e: &Event) {
    match e {
        Event::RealServerUp { vs, rs } => tracing::info!(vs = %vs, rs = %rs, "real server up"),
        Event::RealServerDown { vs, rs } => tracing::warn!(vs = %vs, rs = %rs, "real server down"),
        Event::WeightChanged { vs, rs, from, to } => {
            tracing::info!(vs = %vs, rs = %rs, from, to, "real server weight changed")
        }
        Event::QuorumGained {
            vs,
            weight_sum,
            threshold,
        } => tracing::info!(vs = %vs, weight_sum, threshold, "quorum gained"),
        Event::QuorumLost {
            vs,
            weight_sum,
            threshold,
        } => tracing::warn!(vs = %vs, weight_sum, threshold, "quorum lost"),
        Event::Activated { vs } => tracing::info!(vs = %vs, "VRRP instance is master: programming"),
        Event::Withdrawn { vs } => {
            tracing::info!(vs = %vs, "VRRP instance is not master: withdrawn")
        }
    }
}

async fn run(
    mut rec: Reconciler,
    mut inputs: Inputs,
    opts: Options,
    status_tx: watch::Sender<Vec<VirtualServerStatus>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), IpvsError> {
    // One wake-up for any mastership change.
    let master_changed = Arc::new(Notify::new());
    let mut forwarders = Vec::new();
    for rx in inputs.masters.values() {
        let mut rx = rx.clone();
        let n = master_changed.clone();
        forwarders.push(tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                n.notify_one();
            }
        }));
    }

    let mut desired = Desired::new(inputs.specs.borrow_and_update().as_ref().clone());
    for spec in desired.specs() {
        if let Some(vi) = &spec.only_when_master
            && !inputs.masters.contains_key(vi)
        {
            tracing::warn!(
                vs = %spec.name,
                instance = %vi,
                "no mastership feed for this VRRP instance: the virtual server stays unprogrammed"
            );
        }
    }
    let mut last_applied: Option<Table> = None;
    let mut failing = false;
    let mut resync_due = true;
    let (mut specs_open, mut health_open) = (true, true);
    loop {
        let health = inputs.health.borrow_and_update().clone();
        let eval = desired.evaluate(&health, |vi| {
            inputs.masters.get(vi).is_some_and(|rx| *rx.borrow())
        });
        eval.events.iter().for_each(log_event);

        if resync_due || failing || last_applied.as_ref() != Some(&eval.table) {
            let table = eval.table;
            let full = resync_due;
            let (r, (table, outcome)) = blocking(rec, move |rec| {
                let o = if full {
                    rec.resync(&table)
                } else {
                    rec.apply(&table)
                };
                (table, o)
            })
            .await;
            rec = r;
            match outcome {
                Ok(o) => {
                    for (op, e) in &o.errors {
                        tracing::warn!(op = %op, error = %e, "IPVS change refused");
                    }
                    if o.counters.writes > 0 {
                        tracing::info!(
                            writes = o.counters.writes,
                            elapsed_ms = o.elapsed.as_secs_f64() * 1e3,
                            "IPVS table updated"
                        );
                    }
                    failing = !o.is_clean();
                    last_applied = Some(table);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot reconcile IPVS table");
                    failing = true;
                }
            }
            resync_due = false;
        }
        status_tx.send_replace(eval.status);

        let wait = if failing { opts.retry } else { opts.resync };
        // A closed input keeps its last value and stops waking us.
        tokio::select! {
            r = stop.changed() => {
                // A dropped handle stops too.
                let _ = r;
                break;
            }
            r = inputs.specs.changed(), if specs_open => match r {
                Ok(()) => {
                    let specs = inputs.specs.borrow_and_update().as_ref().clone();
                    desired.reconfigure(specs);
                }
                Err(_) => specs_open = false,
            },
            r = inputs.health.changed(), if health_open => health_open = r.is_ok(),
            _ = master_changed.notified() => {}
            _ = tokio::time::sleep(wait) => resync_due = true,
        }
    }

    for f in forwarders {
        f.abort();
    }
    desired.stop().iter().for_each(log_event);
    let (_rec, outcome) = blocking(rec, |rec| rec.withdraw()).await;
    let o = outcome?;
    for (op, e) in &o.errors {
        tracing::warn!(op = %op, error = %e, "IPVS cleanup refused");
    }
    tracing::info!(removed = o.counters.writes, "IPVS services withdrawn");
    Ok(())
}
