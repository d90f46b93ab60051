//! The daemon's wiring: one driver task per VRRP instance, the status
//! server, and an orderly stop on SIGTERM / SIGINT (priority 0, VIPs
//! released, exit 0). Checks will plug in here (issue 4).

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, error, info, info_span};

use crate::config::Config;
use crate::status::server::StatusServer;
use crate::status::{InstanceCell, InstanceInfo, Registry};
use crate::vrrp::driver::{Command, Driver, DriverError, DriverSpec};

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("status socket {path}: {source}")]
    StatusSocket {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("instance `{name}`: {source}")]
    Instance {
        name: String,
        #[source]
        source: DriverError,
    },
    #[error("signal handler: {0}")]
    Signal(std::io::Error),
}

/// Handles the rest of the daemon uses to talk to running instances.
pub struct Handles {
    /// Per instance name, its command channel (priority / tracking fault).
    pub instances: Vec<(String, mpsc::Sender<Command>)>,
    pub registry: Arc<Registry>,
}

/// Runs until SIGTERM or SIGINT; returns once every instance has stopped.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    run_until(config, async move {
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: stopping"),
            _ = int.recv() => info!("SIGINT: stopping"),
        }
    })
    .await
}

/// Runs until `stop` completes.
pub async fn run_until(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    let cells: Vec<Arc<InstanceCell>> = config
        .vrrp_instance
        .iter()
        .map(|(name, c)| {
            Arc::new(InstanceCell::new(InstanceInfo {
                name: name.clone(),
                interface: c.interface.clone(),
                vrid: c.vrid,
                version: c.version,
                family: match c.family() {
                    crate::config::vrrp::Family::Ipv4 => "ipv4",
                    crate::config::vrrp::Family::Ipv6 => "ipv6",
                },
                configured_priority: c.priority,
                vips: c.virtual_ipaddress.iter().map(|v| v.to_string()).collect(),
            }))
        })
        .collect();
    let registry = Arc::new(Registry {
        router_id: config.global.router_id.clone(),
        instances: cells.clone(),
    });

    let path = &config.global.status_socket;
    let server = StatusServer::bind(path).map_err(|source| DaemonError::StatusSocket {
        path: path.display().to_string(),
        source,
    })?;
    let server_task = tokio::spawn(server.serve(registry.clone()));

    // Start every driver before running any, so a bad interface fails the
    // start without a half-running daemon.
    let mut drivers = Vec::new();
    for ((name, c), cell) in config.vrrp_instance.iter().zip(&cells) {
        let siblings = config
            .vrrp_instance
            .iter()
            .filter(|(n, o)| *n != name && o.interface == c.interface && o.family() == c.family())
            .map(|(_, o)| o.vrid)
            .collect();
        let spec = DriverSpec {
            name: name.clone(),
            config: c.clone(),
            siblings,
        };
        let span = info_span!("instance", instance = %name, vrid = c.vrid);
        let driver = span
            .in_scope(|| Driver::start(spec, cell.clone()))
            .map_err(|source| DaemonError::Instance {
                name: name.clone(),
                source,
            })?;
        drivers.push((name.clone(), driver, span));
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut handles = Vec::new();
    for (name, driver, span) in drivers {
        let (tx, rx) = mpsc::channel(16);
        handles.push((name.clone(), tx));
        let stop = stop_rx.clone();
        tasks.push((name, tokio::spawn(driver.run(stop, rx).instrument(span))));
    }
    info!(instances = tasks.len(), "belay running");

    stop.await;
    let _ = stop_tx.send(true);
    let mut first_err = None;
    for (name, task) in tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(source)) => {
                error!(instance = %name, error = %source, "instance failed");
                first_err.get_or_insert(DaemonError::Instance { name, source });
            }
            Err(join) => error!(instance = %name, error = %join, "instance task panicked"),
        }
    }
    drop(handles);
    server_task.abort();
    let _ = server_task.await;
    info!("belay stopped");
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
