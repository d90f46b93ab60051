//! IPVS in the daemon: the engine programs the configured virtual servers;
//! a small task folds check results into its health view, and each VRRP
//! instance's mastership reaches it through a watch (for `only_when_master`).
//! Nothing starts when no virtual server is configured.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use crate::check::{CheckState, CheckStatus, Scheduler};
use crate::config::Config;
use crate::ipvs::desired::VirtualServerStatus;
use crate::ipvs::engine::{self, Engine, Inputs, Options};
use crate::ipvs::health::RsState;
use crate::ipvs::{HealthView, IpvsError, RsHealth, VirtualServerSpec};

pub struct IpvsService {
    pub engine: Engine,
    health_task: JoinHandle<()>,
}

impl IpvsService {
    /// Starts the engine in the current network namespace, or returns `None`
    /// when there is nothing to program.
    pub fn start(
        config: &Config,
        scheduler: Option<Scheduler>,
        masters: HashMap<String, watch::Receiver<bool>>,
    ) -> Result<Option<IpvsService>, IpvsError> {
        if config.virtual_server.is_empty() {
            return Ok(None);
        }
        let specs = Arc::new(config.virtual_server_specs());
        let client = engine::connect()?;
        let (health_tx, health_rx) = watch::channel(view(&specs, scheduler.as_ref()));
        let health_task = tokio::spawn(follow_checks(specs.clone(), scheduler, health_tx));
        let (_specs_tx, specs_rx) = watch::channel(specs.clone());
        let engine = Engine::spawn(
            client,
            Inputs {
                specs: specs_rx,
                health: health_rx,
                masters,
            },
            Options::default(),
        );
        info!(virtual_servers = specs.len(), "IPVS engine started");
        Ok(Some(IpvsService {
            engine,
            health_task,
        }))
    }

    pub fn status(&self) -> watch::Receiver<Vec<VirtualServerStatus>> {
        self.engine.status()
    }

    /// Stops: `omega` handling, then every service belay owns is removed.
    pub async fn stop(self) -> Result<(), IpvsError> {
        self.health_task.abort();
        self.engine.stop().await
    }
}

/// A check's status as a real server's health input.
pub fn rs_health(st: &CheckStatus) -> Option<RsHealth> {
    let weight = st
        .last_report
        .as_ref()
        .and_then(|r| r.weight)
        .map(i64::from);
    match st.state {
        CheckState::Unknown => None,
        CheckState::Up => Some(RsHealth {
            state: RsState::Up,
            weight,
        }),
        CheckState::Down => Some(RsHealth {
            state: RsState::Down,
            weight: None,
        }),
    }
}

fn view(specs: &[VirtualServerSpec], scheduler: Option<&Scheduler>) -> HealthView {
    let mut v = HealthView::new();
    if let Some(s) = scheduler {
        v.set_from_checks(specs, |name| s.status(name).as_ref().and_then(rs_health));
    }
    v
}

/// Recomputes the view on every check change (state or dynamic weight);
/// after a lag, the recomputation reads every status anyway.
async fn follow_checks(
    specs: Arc<Vec<VirtualServerSpec>>,
    scheduler: Option<Scheduler>,
    tx: watch::Sender<HealthView>,
) {
    let Some(scheduler) = scheduler else { return };
    let mut changes = scheduler.subscribe();
    loop {
        match changes.recv().await {
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                let v = view(&specs, Some(&scheduler));
                tx.send_if_modified(|cur| {
                    let changed = *cur != v;
                    *cur = v;
                    changed
                });
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
