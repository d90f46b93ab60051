//! The daemon's wiring: checks on their scheduler, tracking that turns
//! their results (and tracked interfaces) into each instance's priority,
//! one driver thread per VRRP instance, sync-group coordinators, notify
//! hooks, the event stream, the status server, and an orderly stop on
//! SIGTERM / SIGINT (priority 0, VIPs released, exit 0).

mod checks;
mod groups;
mod ipvs;
mod observer;
mod tracking;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tracing::{error, info, info_span};

use crate::check::Scheduler;
use crate::config::Config;
use crate::events::{EventBus, EventSocket};
use crate::link_monitor::LinkMonitor;
use crate::notify::Notifier;
use crate::status::registry::ChecksView;
use crate::status::server::StatusServer;
use crate::status::{InstanceCell, InstanceInfo, Registry};
use crate::tracker::{TrackInput, TrackTarget, Tracker};
use crate::vrrp::driver::{Driver, DriverError, DriverSpec, Observer};
use crate::vrrp::poller::Control;
use observer::InstanceObserver;
use tracking::{Tracked, Tracking};

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
    #[error("event socket {path}: {source}")]
    EventSocket {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("tracked interfaces: {0}")]
    LinkMonitor(std::io::Error),
    #[error("IPVS: {0}")]
    Ipvs(crate::ipvs::IpvsError),
    #[error("checks: {0}")]
    Checks(checks::ChecksError),
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
    let events = EventBus::new();
    let _event_socket = match &config.global.event_socket {
        Some(path) => Some(EventSocket::bind(path, events.clone()).map_err(|source| {
            DaemonError::EventSocket {
                path: path.display().to_string(),
                source,
            }
        })?),
        None => None,
    };

    let mut checks = checks::Checks::start(&config)
        .await
        .map_err(DaemonError::Checks)?;
    let scheduler: Option<Scheduler> = checks.as_ref().map(|c| c.scheduler.clone());
    let checks_view: Option<ChecksView> = checks.as_ref().map(|c| c.view(&config));
    let mut check_changes = checks.as_mut().and_then(|c| c.changes.take());

    // Mastership per instance, for IPVS `only_when_master`.
    let mut master_tx = HashMap::new();
    let mut masters = HashMap::new();
    for name in config.vrrp_instance.keys() {
        let (tx, rx) = watch::channel(false);
        master_tx.insert(name.clone(), tx);
        masters.insert(name.clone(), rx);
    }
    let ipvs =
        ipvs::IpvsService::start(&config, scheduler.clone(), masters).map_err(DaemonError::Ipvs)?;

    let registry = Arc::new(Registry {
        router_id: config.global.router_id.clone(),
        instances: cells.clone(),
        checks: checks_view,
        ipvs: ipvs.as_ref().map(|i| i.status()),
    });
    let path = &config.global.status_socket;
    let server = StatusServer::bind(path).map_err(|source| DaemonError::StatusSocket {
        path: path.display().to_string(),
        source,
    })?;
    let server_task = tokio::spawn(server.serve(registry.clone()));

    // Tracking, with the interfaces' current state applied before any
    // driver starts (so an instance whose tracked link is down starts in FAULT).
    let mut tracking = Tracking {
        instances: Vec::new(),
        events: events.clone(),
    };
    for ((name, c), cell) in config.vrrp_instance.iter().zip(&cells) {
        if c.track.is_empty() {
            continue;
        }
        let tracks = c
            .track
            .iter()
            .filter_map(|t| t.target().map(|target| (target, t.weight)));
        let tracker = Tracker::new(c.priority, tracks);
        tracking
            .instances
            .push(Tracked::new(name.clone(), tracker, cell.clone()));
    }
    let mut tracked_links: Vec<String> = tracking
        .instances
        .iter()
        .flat_map(|t| t.tracker.targets())
        .filter_map(|t| match t {
            TrackTarget::Interface(i) => Some(i.clone()),
            TrackTarget::Check(_) => None,
        })
        .collect();
    tracked_links.sort();
    tracked_links.dedup();
    let (link_tx, mut link_rx) = mpsc::unbounded_channel();
    let _link_monitor = if tracked_links.is_empty() {
        drop(link_tx);
        None
    } else {
        Some(
            LinkMonitor::start(tracked_links, move |name, up| {
                let _ = link_tx.send((name.to_owned(), up));
            })
            .map_err(DaemonError::LinkMonitor)?,
        )
    };
    while let Ok((name, up)) = link_rx.try_recv() {
        tracking.update(&TrackTarget::Interface(name), TrackInput::from_link(up));
    }

    // Sync groups: each member knows its index and its coordinator's inbox.
    let mut membership: HashMap<&str, observer::GroupLink> = HashMap::new();
    let mut group_inboxes = Vec::new();
    for (group, g) in &config.sync_group {
        let (tx, rx) = mpsc::unbounded_channel();
        for (i, member) in g.instances.iter().enumerate() {
            membership.insert(member.as_str(), (i, tx.clone()));
        }
        group_inboxes.push((group.clone(), g, rx));
    }

    // Notify workers, awaited at shutdown so STOP hooks run.
    let mut hook_tasks = Vec::new();
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
        let tracked = tracking.instances.iter().find(|t| &t.name == name);
        let notifier = c.notify.as_ref().map(|n| {
            let (notifier, task) = Notifier::spawn(Arc::new(n.hooks()), events.clone());
            hook_tasks.push((task, n.timeout.get()));
            notifier
        });
        let group = membership.get(name.as_str()).cloned();
        let observer: Arc<dyn Observer> = Arc::new(InstanceObserver {
            name: name.clone(),
            vrid: c.vrid,
            notifier,
            events: events.clone(),
            group: group.clone(),
            master: master_tx
                .remove(name)
                .unwrap_or_else(|| watch::channel(false).0),
        });
        let spec = DriverSpec {
            name: name.clone(),
            config: c.clone(),
            siblings,
            start_held: group.is_some(),
            start_tracking_fault: tracked.is_some_and(|t| t.effective().fault),
            start_priority: tracked.map(|t| t.effective().priority),
            observer: Some(observer),
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
    let control_of = |name: &str| {
        controls
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
    };
    let mut tasks = Vec::new();
    for (group, g, inbox) in group_inboxes {
        let members = g
            .instances
            .iter()
            .filter_map(|m| Some((m.clone(), control_of(m)?)))
            .collect();
        let notifier = g.notify.as_ref().map(|n| {
            let (notifier, task) = Notifier::spawn(Arc::new(n.hooks()), events.clone());
            hook_tasks.push((task, n.timeout.get()));
            notifier
        });
        tasks.push(groups::spawn(group, members, inbox, notifier));
    }
    if !tracking.instances.is_empty() {
        for t in &mut tracking.instances {
            t.control = control_of(&t.name);
        }
        let inputs = scheduler.clone().zip(check_changes.take());
        tasks.push(tokio::spawn(tracking.run(inputs, link_rx)));
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
    if let Some(i) = ipvs
        && let Err(e) = i.stop().await
    {
        error!(error = %e, "IPVS: could not remove the virtual servers");
        first_err.get_or_insert(DaemonError::Ipvs(e));
    }
    for t in tasks {
        t.abort();
    }
    // The drivers (and the group tasks) held the notifiers: their queues now
    // drain and the workers end. Each queued hook is bounded by its timeout.
    for (task, timeout) in hook_tasks {
        let bound = timeout * 4 + std::time::Duration::from_secs(1);
        if tokio::time::timeout(bound, task).await.is_err() {
            tracing::warn!("notify hooks still queued at exit; not waiting longer");
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
