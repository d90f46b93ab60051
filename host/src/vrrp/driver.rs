//! The per-instance event loop: feeds the sans-IO [`Instance`] received
//! packets, timer expiries and link changes, and carries out its actions
//! (adverts, VIPs, announcements).
//!
//! Each instance runs on its own thread, waiting in one level-triggered
//! `epoll_pwait2` on three fds (the VRRP socket, link notifications, the
//! control eventfd for stop and commands) with the core's next deadline as a
//! nanosecond timeout. Per advert: one wake-up and one `sendto` (master) or
//! one `recvmsg` (backup), as in Keepalived.
//!
//! Hot paths: the receive buffer is reused and packets are handed to the core
//! as slices; on becoming master the core's actions (add VIPs, announce, send
//! the advert) run inline before any logging or status update.

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use netlink_packet_route::AddressFamily;
use tracing::{debug, error, info, warn};

use super::garp::GarpSender;
use super::linkwatch::{LinkEvent, LinkWatch};
use super::poller::Poller;
pub use super::poller::{Command, Control};
use super::rtnl::{IfAddr, Link, Rtnl, RtnlError};
use super::socket::{Destinations, MAX_PACKET, RecvError, SocketConfig, VrrpSocket};
use super::vip::VipSet;
use super::vmac::{self, VmacError};
use super::wire::{AdvertInterval, Auth, MacAddr, Version, VrrpRepr, peek_vrid};
use super::{
    Action, FaultSource, GarpConfig, Instance, InstanceConfig, InstanceConfigError, Received,
    State, StateChangeReason,
};
use crate::config::vrrp::{Family, VrrpInstanceConfig};
use crate::status::registry::{InstanceCell, reason_str};

const TOKEN_CONTROL: u64 = 0;
const TOKEN_LINK: u64 = 1;
const TOKEN_SOCKET: u64 = 2;

/// Why an instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("interface `{0}` does not exist")]
    NoInterface(String),
    #[error("interface `{0}` has no Ethernet address")]
    NoMac(String),
    #[error("netlink: {0}")]
    Netlink(#[from] RtnlError),
    #[error("virtual MAC: {0}")]
    Vmac(#[from] VmacError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("instance config: {0}")]
    Config(#[from] InstanceConfigError),
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> DriverError {
    move |source| DriverError::Io { what, source }
}

/// One instance's static description, as the daemon hands it over.
#[derive(Debug, Clone)]
pub struct DriverSpec {
    pub name: String,
    pub config: VrrpInstanceConfig,
    /// VRIDs of the other instances on the same interface and family: their
    /// adverts reach our socket too and are not "unknown VRID" drops.
    pub siblings: Vec<u8>,
}

/// An instance's I/O: sockets, netlink, VIPs. Built by [`Driver::start`],
/// consumed by [`Driver::run`].
pub struct Driver {
    spec: DriverSpec,
    cell: Arc<InstanceCell>,
    rtnl: Rtnl,
    link: Link,
    vips: VipSet,
    vmac_link: Option<Link>,
    sock: VrrpSocket,
    garp: GarpSender,
    watch: LinkWatch,
    primary: Option<IpAddr>,
}

impl Driver {
    /// Resolves the interface, cleans VIPs a crashed run left behind, opens
    /// the sockets.
    pub fn start(spec: DriverSpec, cell: Arc<InstanceCell>) -> Result<Driver, DriverError> {
        let cfg = &spec.config;
        let family = cfg.family();
        let mut rtnl = Rtnl::open()?;
        let link = rtnl
            .link_by_name(&cfg.interface)?
            .ok_or_else(|| DriverError::NoInterface(cfg.interface.clone()))?;

        let vmac_link = if cfg.use_vmac {
            let mac = vmac::virtual_mac(family, cfg.vrid);
            Some(vmac::ensure(&mut rtnl, &link, &cfg.vmac_name(), mac)?)
        } else {
            None
        };
        let vip_link = vmac_link.as_ref().unwrap_or(&link);
        let mac = vip_link
            .mac
            .map(MacAddr)
            .ok_or_else(|| DriverError::NoMac(vip_link.name.clone()))?;
        let vips = VipSet::new(vip_link.index, cfg.virtual_ipaddress.clone());

        // We start as a backup (or initialize): any of our VIPs on the link
        // were left by a run that died without releasing them. The address
        // owner's VIPs are its real addresses and stay.
        if cfg.priority != 255 {
            let diff = vips.reconcile(&mut rtnl, false)?;
            if !diff.removed.is_empty() {
                warn!(removed = ?diff.removed, "removed VIPs left on the interface by a previous run");
            }
        }

        let watch = LinkWatch::open(link.index).map_err(io_err("link notifications"))?;
        let primary = find_primary(&mut rtnl, &link, cfg)?;
        let destinations = if cfg.unicast_peers.is_empty() {
            Destinations::Multicast
        } else {
            Destinations::Unicast(cfg.unicast_peers.clone())
        };
        let sock = VrrpSocket::open(&SocketConfig {
            interface: link.name.clone(),
            ifindex: link.index,
            family,
            destinations,
            unicast_src: cfg.unicast_src,
        })
        .map_err(io_err("VRRP socket"))?;
        let link_local = match family {
            Family::Ipv6 => link_local_of(&mut rtnl, vip_link.index)?,
            Family::Ipv4 => None,
        };
        let vip_addrs: Vec<IpAddr> = vips.addrs().collect();
        let garp = GarpSender::new(vip_link.index, mac, link_local, &vip_addrs)
            .map_err(io_err("packet socket"))?;
        Ok(Driver {
            spec,
            cell,
            rtnl,
            link,
            vips,
            vmac_link,
            sock,
            garp,
            watch,
            primary,
        })
    }

    /// Runs on the calling thread until `control` asks to stop; then sends
    /// priority 0 (if master), releases the VIPs and returns.
    pub fn run(mut self, control: &Control) -> Result<(), DriverError> {
        let mut poller = Poller::new().map_err(io_err("epoll"))?;
        poller
            .add(control.raw_fd(), TOKEN_CONTROL)
            .and_then(|()| poller.add(self.watch.raw_fd(), TOKEN_LINK))
            .map_err(io_err("epoll"))?;
        let mut events = Vec::new();
        let mut commands = Vec::new();
        let mut link_running = self.link.running;

        // Without a primary address (IPv6 link-local still in DAD, say) there
        // is nothing to send from: wait for one.
        let primary = loop {
            if let Some(p) = self.primary {
                break p;
            }
            info!(interface = %self.link.name, "waiting for a usable source address");
            let mut ready = 0u64;
            poller
                .wait(None, |t| ready |= 1 << t)
                .map_err(io_err("epoll"))?;
            if ready & (1 << TOKEN_CONTROL) != 0 && control.take(&mut commands) {
                return self.finish();
            }
            if ready & (1 << TOKEN_LINK) != 0 {
                while matches!(self.watch.try_next(&mut events), Ok(true)) {}
                events.clear();
                self.primary = find_primary(&mut self.rtnl, &self.link, &self.spec.config)?;
            }
        };

        poller
            .add(self.sock.raw_fd(), TOKEN_SOCKET)
            .map_err(io_err("epoll"))?;

        if let (IpAddr::V6(ll), None) = (primary, &self.vmac_link)
            && ll.is_unicast_link_local()
            && let Some(mac) = self.link.mac
        {
            // NAs leave from the same link-local address as the adverts.
            self.garp
                .set_link_local(MacAddr(mac), ll)
                .map_err(io_err("packet socket"))?;
        }
        let mut instance = Instance::new(instance_config(&self.spec, primary)?)?;
        self.cell.live().primary_address = Some(primary);
        let mut primary_present = true;
        let now = Instant::now();
        if !link_running {
            instance.set_fault(FaultSource::Interface, true, now);
        }
        instance.startup(now);
        let mut exec = Exec::default();
        self.drain(&mut instance, &mut exec);
        self.publish(&instance, &mut exec);

        let unicast_peers = self.spec.config.unicast_peers.clone();
        let mut rxbuf = vec![0u8; MAX_PACKET + 64];
        'run: loop {
            let mut ready = 0u64;
            if let Err(e) = poller.wait(instance.poll_timeout(), |t| ready |= 1 << t) {
                error!(error = %e, "epoll failed; stopping the instance");
                break 'run;
            }
            let now = Instant::now();

            if ready & (1 << TOKEN_CONTROL) != 0 {
                if control.take(&mut commands) {
                    break 'run;
                }
                for c in commands.drain(..) {
                    match c {
                        Command::SetPriority(p) => instance.set_priority(p, now),
                        Command::SetTrackingFault(f) => {
                            instance.set_fault(FaultSource::Tracking, f, now)
                        }
                    }
                }
            }

            if ready & (1 << TOKEN_SOCKET) != 0 {
                // Level-triggered: one datagram per wake-up; more wake us again.
                match self.sock.try_recv(&mut rxbuf) {
                    Ok(None) => {}
                    Err(e) => {
                        warn!(error = %e, "VRRP socket receive failed");
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Ok(Some(Err(RecvError::BadIpHeader))) => exec.io.bad_ip_header += 1,
                    Ok(Some(Err(RecvError::Oversize))) => exec.io.oversize += 1,
                    Ok(Some(Ok(dg))) => {
                        let m = dg.meta;
                        if let Some(n) = m.queue_drops {
                            exec.io.socket_overflow = u64::from(n);
                        }
                        let bytes = &rxbuf[dg.vrrp.clone()];
                        if !unicast_peers.is_empty() && !unicast_peers.contains(&m.src) {
                            exec.io.unknown_peer += 1;
                            debug!(src = %m.src, "dropped: not one of unicast_peers");
                        } else if dg.ip_payload_len != bytes.len() {
                            exec.io.ip_length_mismatch += 1;
                        } else if peek_vrid(bytes).is_some_and(|v| self.spec.siblings.contains(&v))
                        {
                            // Another instance of ours on this link: its packet, not a drop.
                        } else {
                            let rx = Received {
                                src: m.src,
                                dst: m.dst,
                                ttl: m.ttl.unwrap_or(0),
                            };
                            if let Err(reason) = instance.handle_packet(now, &rx, bytes) {
                                debug!(src = %m.src, %reason, "dropped a received packet");
                            }
                        }
                    }
                }
            }

            if instance.poll_timeout().is_some_and(|d| d <= now) {
                instance.handle_timeout(now);
            }

            if ready & (1 << TOKEN_LINK) != 0 {
                loop {
                    match self.watch.try_next(&mut events) {
                        Ok(true) => continue,
                        Ok(false) => break,
                        Err(e) => {
                            // Notifications lost (ENOBUFS): re-read the link state.
                            debug!(error = %e, "link notifications lost; re-reading");
                            if let Ok(Some(l)) = self.rtnl.link_by_index(self.link.index) {
                                events.push(LinkEvent::Link(l));
                            }
                            break;
                        }
                    }
                }
            }
            // Link and address changes → Fault or not.
            if !events.is_empty() {
                for ev in events.drain(..) {
                    match ev {
                        LinkEvent::Link(l) => link_running = l.running,
                        LinkEvent::Gone => link_running = false,
                        LinkEvent::AddrAdded(a) if a.addr == primary => {
                            primary_present = !a.tentative
                        }
                        LinkEvent::AddrRemoved(a) if a.addr == primary => primary_present = false,
                        _ => {}
                    }
                }
                let fault = !(link_running && primary_present);
                if fault != instance.has_fault(FaultSource::Interface) {
                    if fault {
                        warn!(link_running, primary_present, "interface fault");
                    } else {
                        info!("interface usable again");
                    }
                    instance.set_fault(FaultSource::Interface, fault, now);
                }
            }
            self.drain(&mut instance, &mut exec);
            self.publish(&instance, &mut exec);
        }

        instance.shutdown(Instant::now());
        self.drain(&mut instance, &mut exec);
        self.publish(&instance, &mut exec);
        self.finish()
    }

    /// Releases whatever is left (VIPs, the macvlan); never fails the shutdown.
    fn finish(mut self) -> Result<(), DriverError> {
        match self.vips.reconcile(&mut self.rtnl, false) {
            Ok(d) if !d.removed.is_empty() => debug!(removed = ?d.removed, "VIPs released"),
            Ok(_) => {}
            Err(e) => error!(error = %e, "could not release the VIPs"),
        }
        self.cell.live().vips_held = false;
        if let Some(v) = self.vmac_link.take()
            && let Err(e) = vmac::remove(&mut self.rtnl, v.index)
        {
            warn!(error = %e, "could not remove the virtual MAC interface");
        }
        Ok(())
    }

    /// Carries out the core's actions in order; state changes are logged
    /// after the network work of the same batch.
    fn drain(&mut self, instance: &mut Instance, exec: &mut Exec) {
        while let Some(action) = instance.poll_action() {
            match action {
                Action::SendAdvert(repr) => self.send_advert(instance, exec, &repr),
                Action::AddAddresses(addrs) => match self.vips.install(&mut self.rtnl, &addrs) {
                    Ok(_) => exec.vips_held = true,
                    Err(e) => {
                        exec.io.vip_errors += 1;
                        error!(error = %e, "could not add the VIPs");
                    }
                },
                Action::RemoveAddresses(addrs) => {
                    match self.vips.release(&mut self.rtnl, &addrs) {
                        Ok(_) => {}
                        Err(e) => {
                            exec.io.vip_errors += 1;
                            error!(error = %e, "could not remove the VIPs");
                        }
                    }
                    exec.vips_held = false;
                }
                Action::Announce { addresses, repeat } => {
                    match self.garp.announce(&addresses, repeat) {
                        Ok(n) => exec.io.announcements_sent += n as u64,
                        Err(e) => {
                            exec.io.send_errors += 1;
                            warn!(error = %e, "gratuitous ARP / NA not sent");
                        }
                    }
                }
                Action::StateChange { from, to, reason } => {
                    exec.transitions.push((from, to, reason, SystemTime::now()))
                }
            }
        }
        for &(from, to, reason, _) in &exec.transitions {
            info!(
                %from,
                %to,
                reason = reason_str(reason),
                priority = instance.priority(),
                master = ?instance.master_address(),
                "state change"
            );
        }
    }

    /// Sends one advert to every destination (each with its own checksum).
    fn send_advert(&self, instance: &Instance, exec: &mut Exec, repr: &VrrpRepr) {
        let src = instance.config().primary_address;
        for dst in self.sock.destinations() {
            let sent = repr
                .emit(&mut exec.tx, src, *dst)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
                .and_then(|n| {
                    self.sock
                        .send(src, *dst, &exec.tx[..n], &mut exec.scratch, 0)
                });
            if let Err(e) = sent {
                exec.io.send_errors += 1;
                if exec.io.send_errors.is_power_of_two() {
                    warn!(%dst, error = %e, count = exec.io.send_errors, "advert not sent");
                }
            }
        }
    }

    fn publish(&self, instance: &Instance, exec: &mut Exec) {
        let mut live = self.cell.live();
        live.state = Some(instance.state());
        live.priority = instance.priority();
        live.master_address = instance.master_address();
        live.advert_interval = instance.master_adver_interval().as_duration();
        live.counters.clone_from(instance.counters());
        live.io = exec.io;
        live.vips_held = exec.vips_held;
        if let Some(t) = exec.transitions.last() {
            live.last_transition = Some(*t);
        }
        exec.transitions.clear();
    }
}

/// Buffers and tallies reused across events (no allocation per packet).
struct Exec {
    tx: Vec<u8>,
    scratch: Vec<u8>,
    io: crate::status::IoCounters,
    vips_held: bool,
    transitions: Vec<(State, State, StateChangeReason, SystemTime)>,
}

impl Default for Exec {
    fn default() -> Self {
        Exec {
            tx: vec![0; MAX_PACKET],
            scratch: vec![0; MAX_PACKET + super::socket::IPV4_HEADER_LEN],
            io: Default::default(),
            vips_held: false,
            transitions: Vec::with_capacity(4),
        }
    }
}

/// The core's view of the config, with the resolved primary address.
pub fn instance_config(spec: &DriverSpec, primary: IpAddr) -> Result<InstanceConfig, DriverError> {
    let c = &spec.config;
    let version = if c.version == 2 {
        Version::V2
    } else {
        Version::V3
    };
    let mut ic = InstanceConfig::new(
        spec.name.clone(),
        c.vrid,
        version,
        primary,
        c.virtual_ipaddress.iter().map(|v| v.addr).collect(),
    );
    ic.priority = c.priority;
    ic.advert_interval =
        AdvertInterval::from_duration(c.advert_interval.get()).map_err(|e| DriverError::Io {
            what: "advert interval",
            source: io::Error::new(io::ErrorKind::InvalidInput, e),
        })?;
    ic.preempt = c.preempt;
    ic.preempt_delay = c.preempt_delay.get();
    ic.accept_mode = c.accept;
    ic.auth = match c.auth_pass_bytes() {
        Some(_) => c
            .auth_pass
            .as_deref()
            .and_then(Auth::simple)
            .unwrap_or(Auth::None),
        None => Auth::None,
    };
    let g = &c.garp;
    ic.garp = GarpConfig {
        delay: g.delay.get(),
        repeat: g.repeat,
        refresh: (!g.refresh.get().is_zero()).then(|| g.refresh.get()),
        refresh_repeat: g.refresh_repeat,
        interval: g.interval.get(),
    };
    ic.garp_lower_prio_repeat = g.lower_prio_repeat;
    ic.garp_lower_prio_delay = g.lower_prio_delay.get();
    ic.higher_prio_send_advert = c.higher_prio_send_advert;
    Ok(ic)
}

/// The advert source: `unicast_src`, else for IPv4 the interface's primary
/// (non-secondary) address that is not one of our VIPs, for IPv6 its
/// link-local address once DAD is done.
fn find_primary(
    rtnl: &mut Rtnl,
    link: &Link,
    cfg: &VrrpInstanceConfig,
) -> Result<Option<IpAddr>, RtnlError> {
    if let Some(src) = cfg.unicast_src {
        return Ok(Some(src));
    }
    let is_vip = |a: &IfAddr| cfg.virtual_ipaddress.iter().any(|v| v.addr == a.addr);
    Ok(match cfg.family() {
        Family::Ipv4 => {
            let addrs = rtnl.addresses(link.index, AddressFamily::Inet)?;
            addrs
                .iter()
                .filter(|a| !is_vip(a))
                .min_by_key(|a| a.secondary)
                .map(|a| a.addr)
        }
        Family::Ipv6 => link_local_of(rtnl, link.index)?.map(IpAddr::V6),
    })
}

fn link_local_of(rtnl: &mut Rtnl, index: u32) -> Result<Option<Ipv6Addr>, RtnlError> {
    let addrs = rtnl.addresses(index, AddressFamily::Inet6)?;
    Ok(addrs.iter().find_map(|a| match a.addr {
        IpAddr::V6(v6) if v6.is_unicast_link_local() && !a.tentative => Some(v6),
        _ => None,
    }))
}
