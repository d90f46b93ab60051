//! Tracked interfaces: a thread that reports when named interfaces come up
//! or go down (carrier / IFF_RUNNING), for `track = [{ interface = ... }]`.
//! An interface that does not exist counts as down; one created later is
//! picked up by name.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::{debug, warn};

use crate::vrrp::linkwatch::{LinkEvent, LinkWatch};
use crate::vrrp::poller::{Control, Poller};
use crate::vrrp::rtnl::Rtnl;

const TOKEN_CONTROL: u64 = 0;
const TOKEN_LINK: u64 = 1;

/// Stops the monitor thread when dropped.
pub struct LinkMonitor {
    control: Arc<Control>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LinkMonitor {
    fn drop(&mut self) {
        self.control.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl LinkMonitor {
    /// Watches `names`; `on_change(name, up)` is called once per interface
    /// with its initial state, then on every change, from the monitor thread.
    pub fn start(
        names: Vec<String>,
        on_change: impl Fn(&str, bool) + Send + 'static,
    ) -> std::io::Result<LinkMonitor> {
        let control = Arc::new(Control::new()?);
        let watch = LinkWatch::open_all()?;
        let mut rtnl = Rtnl::open().map_err(std::io::Error::other)?;
        // index → name for the links we track, and the last state reported.
        let mut index: HashMap<u32, String> = HashMap::new();
        let mut up: HashMap<String, bool> = HashMap::new();
        for name in &names {
            let link = rtnl.link_by_name(name).ok().flatten();
            let running = link.as_ref().is_some_and(|l| l.running);
            if let Some(l) = link {
                index.insert(l.index, name.clone());
            }
            up.insert(name.clone(), running);
            on_change(name, running);
        }
        let ctl = control.clone();
        let thread = std::thread::Builder::new()
            .name("link-monitor".into())
            .spawn(move || run(watch, rtnl, ctl, names, index, up, on_change))?;
        Ok(LinkMonitor {
            control,
            thread: Some(thread),
        })
    }
}

fn run(
    mut watch: LinkWatch,
    mut rtnl: Rtnl,
    control: Arc<Control>,
    names: Vec<String>,
    mut index: HashMap<u32, String>,
    mut up: HashMap<String, bool>,
    on_change: impl Fn(&str, bool),
) {
    let Ok(mut poller) = Poller::new() else {
        warn!("link monitor: epoll unavailable; tracked interfaces stay as they were");
        return;
    };
    if poller.add(control.raw_fd(), TOKEN_CONTROL).is_err()
        || poller.add(watch.raw_fd(), TOKEN_LINK).is_err()
    {
        warn!("link monitor: cannot watch; tracked interfaces stay as they were");
        return;
    }
    let mut events = Vec::new();
    let mut commands = Vec::new();
    loop {
        let mut ready = 0u64;
        if poller.wait(None, |t| ready |= 1 << t).is_err() {
            return;
        }
        if ready & (1 << TOKEN_CONTROL) != 0 && control.take(&mut commands) {
            return;
        }
        let mut resync = false;
        loop {
            match watch.try_next(&mut events) {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    debug!(error = %e, "link notifications lost; re-reading tracked links");
                    resync = true;
                    break;
                }
            }
        }
        let mut seen: Vec<(String, bool)> = Vec::new();
        for ev in events.drain(..) {
            match ev {
                LinkEvent::Link(l) if names.contains(&l.name) => {
                    index.insert(l.index, l.name.clone());
                    seen.push((l.name, l.running));
                }
                LinkEvent::Link(l) => {
                    // Renamed away from a tracked name: now it is gone.
                    if let Some(old) = index.remove(&l.index) {
                        seen.push((old, false));
                    }
                }
                LinkEvent::Gone(i) => {
                    if let Some(name) = index.remove(&i) {
                        seen.push((name, false));
                    }
                }
                _ => {}
            }
        }
        if resync {
            for name in &names {
                let running = rtnl
                    .link_by_name(name)
                    .ok()
                    .flatten()
                    .is_some_and(|l| l.running);
                seen.push((name.clone(), running));
            }
        }
        for (name, running) in seen {
            if up.insert(name.clone(), running) != Some(running) {
                on_change(&name, running);
            }
        }
    }
}
