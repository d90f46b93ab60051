//! The daemon's wiring: one driver task per VRRP instance, the status
//! server, and an orderly stop on SIGTERM / SIGINT (priority 0, VIPs
//! released, exit 0). Checks will plug in here (issue 4).

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, info_span};

use crate::config::Config;
use crate::status::server::StatusServer;
use crate::status::{InstanceCell, InstanceInfo, Registry};
use crate::vrrp::driver::{Driver, DriverError, DriverSpec};
use crate::vrrp::poller::Control;

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
    #[error("signal handler or thread: {0}")]
    Signal(std::io::Error),
}

/// Runs until SIGTERM or SIGINT; returns once every instance has stopped.
pub async fn run(config: Config) -> Result<(), DaemonError> {
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signal)?;
    // SIGHUP's default action would kill us with the VIPs still on the
    // interface; until reload exists, it is ignored (and said so).
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signal)?;
    run_until(config, async move {
        loop {
            tokio::select! {
                _ = term.recv() => break info!("SIGTERM: stopping"),
                _ = int.recv() => break info!("SIGINT: stopping"),
                _ = hup.recv() => tracing::warn!("SIGHUP: reload is not supported yet; ignored"),
            }
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

    // One thread per instance: its loop never waits behind anything else.
    // `controls` is where checks (issue 4) will send priority changes.
    let mut threads = Vec::new();
    let mut controls: Vec<(String, Arc<Control>)> = Vec::new();
    for (name, driver, span) in drivers {
        let control = Arc::new(Control::new().map_err(|e| DaemonError::Instance {
            name: name.clone(),
            source: DriverError::Io {
                what: "eventfd",
                source: e,
            },
        })?);
        controls.push((name.clone(), control.clone()));
        let thread = std::thread::Builder::new()
            .name(format!("vrrp-{name}"))
            .spawn(move || span.in_scope(|| driver.run(&control)))
            .map_err(DaemonError::Signal)?;
        threads.push((name, thread));
    }
    info!(instances = threads.len(), "belay running");

    stop.await;
    for (_, c) in &controls {
        c.stop();
    }
    let mut first_err = None;
    for (name, thread) in threads {
        let joined = tokio::task::spawn_blocking(move || thread.join())
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|_| "panicked".to_owned()));
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(source)) => {
                error!(instance = %name, error = %source, "instance failed");
                first_err.get_or_insert(DaemonError::Instance { name, source });
            }
            Err(why) => error!(instance = %name, why, "instance thread failed"),
        }
    }
    server_task.abort();
    let _ = server_task.await;
    info!("belay stopped");
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
