//! Client-visible outage measurement: a UDP prober that sends a numbered probe
//! to the VIP every interval (1 ms by default), and a responder on each router
//! that echoes it tagged with the router's name.
//!
//! Why UDP echo rather than ICMP or TCP: an ICMP echo reply carries the VIP as
//! its source, so it cannot say *which* router answered, and "first reply from
//! the backup" is the number we want. A TCP connect per millisecond builds up
//! TIME_WAIT state and hides loss behind SYN retransmits (1 s). One datagram
//! each way, with a sequence number and the router's name in the reply, gives
//! exact loss counts, exact attribution and no retransmits; when a router's
//! responder is gone its kernel answers "port unreachable", which counts as a
//! lost probe, just as a dead service would.
//!
//! All timestamps are `CLOCK_MONOTONIC` nanoseconds, which every namespace and
//! process on the machine shares, so a harness can compare its own
//! `mono_ns()` at a `kill` with the prober's receive times.
//!
//! The prober can also listen for VRRP adverts (IP protocol 112) on its
//! interface: the last advert of a killed master gives a takeover time that
//! does not depend on where in the advert interval the kill landed.

use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::mem::MaybeUninit;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};

use crate::netns::Netns;
use crate::process::Proc;

const MAGIC: [u8; 4] = *b"BLPR";
const REQUEST_LEN: usize = 4 + 8 + 8;
const VRRP_PROTO: i32 = 112;
const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// The UDP port the lab's responders listen on (every lab has its own namespaces).
pub const DEFAULT_PORT: u16 = 40_000;

/// `CLOCK_MONOTONIC` in nanoseconds: comparable across processes and namespaces.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the valid timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Puts the calling thread on `SCHED_FIFO` at `priority`, with
/// `SCHED_RESET_ON_FORK` so processes it spawns start with normal scheduling.
/// The instrument must not be starved by other work on a loaded machine (a
/// 20 ms scheduling gap would read as 20 lost probes); the daemons under test
/// keep normal priority.
pub fn realtime(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: param is a valid sched_param for the duration of the call.
    let r = unsafe {
        libc::sched_setscheduler(0, libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, &param)
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Real-time scheduling for the calling thread while the guard lives: a
/// harness that reads the clock and then signals a daemon must not be
/// descheduled in between. Scoped rather than permanent because an RT thread
/// has zero timer slack and its children would inherit that, so daemons
/// started later would not run as they do anywhere else. Best effort.
pub struct Urgent(bool);

impl Urgent {
    pub fn enter() -> Urgent {
        let param = libc::sched_param { sched_priority: 40 };
        // SAFETY: param is a valid sched_param for the duration of the call.
        Urgent(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0)
    }
}

impl Drop for Urgent {
    fn drop(&mut self) {
        if self.0 {
            let param = libc::sched_param { sched_priority: 0 };
            // SAFETY: as above.
            unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &param) };
        }
    }
}

/// One observation of the prober, as printed on its stdout, one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Probe `seq` left at `at`.
    Sent { seq: u64, at: u64 },
    /// Probe `seq` (sent at `sent`) was answered at `at` by responder `from`.
    Reply {
        seq: u64,
        sent: u64,
        at: u64,
        from: String,
    },
    /// A VRRP advert from `src` for `vrid` with `priority` arrived at `at`.
    Advert {
        src: IpAddr,
        vrid: u8,
        priority: u8,
        at: u64,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Sent { seq, at } => write!(f, "s {seq} {at}"),
            Event::Reply {
                seq,
                sent,
                at,
                from,
            } => write!(f, "r {seq} {sent} {at} {from}"),
            Event::Advert {
                src,
                vrid,
                priority,
                at,
            } => write!(f, "a {src} {vrid} {priority} {at}"),
        }
    }
}

impl Event {
    /// Parses a line written by `Display`; `None` for anything else.
    pub fn parse(line: &str) -> Option<Event> {
        let mut w = line.split_whitespace();
        let ev = match w.next()? {
            "s" => Event::Sent {
                seq: w.next()?.parse().ok()?,
                at: w.next()?.parse().ok()?,
            },
            "r" => Event::Reply {
                seq: w.next()?.parse().ok()?,
                sent: w.next()?.parse().ok()?,
                at: w.next()?.parse().ok()?,
                from: w.next()?.to_owned(),
            },
            "a" => Event::Advert {
                src: w.next()?.parse().ok()?,
                vrid: w.next()?.parse().ok()?,
                priority: w.next()?.parse().ok()?,
                at: w.next()?.parse().ok()?,
            },
            _ => return None,
        };
        Some(ev)
    }
}

/// The loopback TCP port of a responder's HTTP side, when it has one (the
/// service a health check watches; every lab has its own namespaces).
pub const HTTP_PORT: u16 = 8080;

/// Echoes every probe on `port` (IPv4 and IPv6) with `id` appended; with
/// `http_port`, also answers `GET` on `127.0.0.1:http_port` with `200 OK`, so
/// one process is the service a client uses *and* the one a health check
/// watches, and killing it kills both at the same instant. Writes `ready` to
/// stdout once bound, then serves until killed.
pub fn respond(port: u16, id: &str, http_port: Option<u16>) -> io::Result<()> {
    let sock = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_only_v6(false)?;
    sock.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    let sock: std::net::UdpSocket = sock.into();
    if let Some(hp) = http_port {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, hp))?;
        let id = id.to_owned();
        std::thread::Builder::new()
            .name("http".into())
            .spawn(move || serve_http(listener, &id))?;
    }
    println!("ready");
    io::stdout().flush()?;
    let mut buf = [0u8; 512];
    loop {
        let (n, from) = sock.recv_from(&mut buf)?;
        if n != REQUEST_LEN || buf[..4] != MAGIC {
            continue;
        }
        let mut reply = buf[..n].to_vec();
        reply.extend_from_slice(id.as_bytes());
        // A reply that cannot be sent is a lost probe; the prober counts it.
        let _ = sock.send_to(&reply, from);
    }
}

/// A minimal HTTP/1.x responder: reads a request head, answers `200 OK` with
/// the responder's id as the body, closes. One connection at a time (health
/// checks arrive a few per second).
fn serve_http(listener: std::net::TcpListener, id: &str) {
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match io::Read::read(&mut conn, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let body = format!("{id}\n");
        let head_only = head.starts_with(b"HEAD ");
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            if head_only { "" } else { &body }
        );
    }
}

/// What the prober sends to and listens on.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    pub target: SocketAddr,
    pub interval: Duration,
    /// Also record VRRP adverts seen on this interface (joins the VRRP group).
    pub adverts_on: Option<String>,
    /// Stop after this long (`None`: until killed or the sink says stop).
    pub duration: Option<Duration>,
}

/// Sends a probe every `interval` and feeds every event to `sink` until the
/// sink returns false or `duration` ends. Replies and adverts are timestamped
/// when they are read, which happens as they arrive (the loop waits in
/// `ppoll` with nanosecond timeouts between sends).
pub fn probe(cfg: &ProbeConfig, mut sink: impl FnMut(Event) -> bool) -> io::Result<()> {
    // Tight wake-ups: the default 50 µs timer slack is fine, but ask for less.
    // SAFETY: PR_SET_TIMERSLACK takes an integer argument and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64) };
    let domain = if cfg.target.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_nonblocking(true)?;
    let bind: SocketAddr = if cfg.target.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    sock.bind(&bind.into())?;
    let sock: std::net::UdpSocket = sock.into();
    let adverts = match &cfg.adverts_on {
        Some(ifname) => Some(advert_socket(cfg.target.is_ipv4(), ifname)?),
        None => None,
    };

    let interval = cfg.interval.as_nanos() as u64;
    let start = mono_ns();
    let end = cfg.duration.map(|d| start + d.as_nanos() as u64);
    let mut next = start;
    let mut seq = 0u64;
    let mut buf = [0u8; 2048];
    loop {
        let now = mono_ns();
        if end.is_some_and(|e| now >= e) {
            return Ok(());
        }
        if now >= next {
            let mut req = [0u8; REQUEST_LEN];
            req[..4].copy_from_slice(&MAGIC);
            req[4..12].copy_from_slice(&seq.to_be_bytes());
            req[12..20].copy_from_slice(&now.to_be_bytes());
            // Unresolved neighbours queue the datagram; errors are lost probes.
            let _ = sock.send_to(&req, cfg.target);
            if !sink(Event::Sent { seq, at: now }) {
                return Ok(());
            }
            seq += 1;
            next += interval;
            if next <= now {
                // We were descheduled for more than an interval: keep the
                // cadence from now on rather than sending a burst.
                next = now + interval;
            }
        }
        let wait = next.saturating_sub(mono_ns());
        let mut fds = vec![pollfd(sock.as_raw_fd())];
        if let Some(a) = &adverts {
            fds.push(pollfd(a.as_raw_fd()));
        }
        ppoll(&mut fds, wait)?;
        if fds[0].revents != 0 {
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                let at = mono_ns();
                if n <= REQUEST_LEN || buf[..4] != MAGIC {
                    continue;
                }
                let seq = u64::from_be_bytes(buf[4..12].try_into().expect("8 bytes"));
                let sent = u64::from_be_bytes(buf[12..20].try_into().expect("8 bytes"));
                let from = String::from_utf8_lossy(&buf[REQUEST_LEN..n]).into_owned();
                if !sink(Event::Reply {
                    seq,
                    sent,
                    at,
                    from,
                }) {
                    return Ok(());
                }
            }
        }
        if let (Some(a), Some(pfd)) = (&adverts, fds.get(1))
            && pfd.revents != 0
        {
            loop {
                let mut raw = [MaybeUninit::<u8>::uninit(); 2048];
                let Ok((n, addr)) = a.recv_from(&mut raw) else {
                    break;
                };
                let at = mono_ns();
                // SAFETY: recv_from initialised the first n bytes.
                let pkt: Vec<u8> = raw[..n]
                    .iter()
                    .map(|b| unsafe { b.assume_init() })
                    .collect();
                if let Some(ev) = parse_advert(&pkt, addr.as_socket().map(|s| s.ip()), at)
                    && !sink(ev)
                {
                    return Ok(());
                }
            }
        }
    }
}

fn advert_socket(v4: bool, ifname: &str) -> io::Result<Socket> {
    let ifindex = nix::net::if_::if_nametoindex(ifname).map_err(io::Error::from)?;
    let (domain, proto) = if v4 {
        (Domain::IPV4, Protocol::from(VRRP_PROTO))
    } else {
        (Domain::IPV6, Protocol::from(VRRP_PROTO))
    };
    let s = Socket::new(domain, Type::RAW, Some(proto))?;
    s.set_nonblocking(true)?;
    s.bind_device(Some(ifname.as_bytes()))?;
    if v4 {
        s.join_multicast_v4_n(&VRRP_GROUP_V4, &InterfaceIndexOrAddress::Index(ifindex))?;
    } else {
        s.join_multicast_v6(&VRRP_GROUP_V6, ifindex)?;
    }
    Ok(s)
}

/// IPv4 raw sockets deliver the IP header; IPv6 ones deliver only the payload.
fn parse_advert(pkt: &[u8], src: Option<IpAddr>, at: u64) -> Option<Event> {
    let (src, vrrp) = match pkt.first()? >> 4 {
        4 if src.is_none_or(|s| s.is_ipv4()) => {
            let ihl = usize::from(pkt[0] & 0x0f) * 4;
            let s: [u8; 4] = pkt.get(12..16)?.try_into().ok()?;
            (IpAddr::from(s), pkt.get(ihl..)?)
        }
        _ => (src?, pkt),
    };
    Some(Event::Advert {
        src,
        vrid: *vrrp.get(1)?,
        priority: *vrrp.get(2)?,
        at,
    })
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

fn ppoll(fds: &mut [libc::pollfd], timeout_ns: u64) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: fds is a valid slice of pollfd; ts outlives the call.
    let r = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// The `belay-probe` binary built beside the running executable (test or
/// bench). `BELAY_PROBE_BIN` overrides.
pub fn probe_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BELAY_PROBE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let candidates = [exe.parent(), exe.parent().and_then(|d| d.parent())];
    for dir in candidates.into_iter().flatten() {
        let bin = dir.join("belay-probe");
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "belay-probe not found beside {}: build it (`cargo build -p belay-tests --bins`) or set BELAY_PROBE_BIN",
        exe.display()
    );
}

/// A responder process on a router: answers probes while it lives.
pub struct Responder {
    proc: Proc,
}

impl Responder {
    /// Starts `belay-probe respond` in `ns` and waits until it has bound its port.
    pub fn start(ns: &Netns, id: &str, port: u16) -> Responder {
        Self::start_with(ns, id, port, None)
    }

    /// Like `start`, also serving HTTP on `127.0.0.1:http_port` (the service
    /// a health check watches; see [`respond`]).
    pub fn start_with(ns: &Netns, id: &str, port: u16, http_port: Option<u16>) -> Responder {
        let mut cmd = ns.command(probe_bin());
        cmd.args(["respond", "--port", &port.to_string(), "--id", id]);
        if let Some(hp) = http_port {
            cmd.args(["--http-port", &hp.to_string()]);
        }
        let proc = Proc::spawn(&format!("responder-{id}"), cmd);
        crate::wait_until(
            Duration::from_secs(10),
            &format!("responder {id} bound"),
            || proc.log_text().contains("ready"),
        );
        Responder { proc }
    }

    /// Sends SIGKILL without waiting.
    pub fn signal_kill(&self) {
        self.proc.signal(nix::sys::signal::Signal::SIGKILL);
    }

    /// Kills it at once (a crashed host's services vanish with it).
    pub fn kill(&mut self) {
        self.proc.signal(nix::sys::signal::Signal::SIGKILL);
        self.proc.wait_exit(Duration::from_secs(5));
    }
}

/// A reply as recorded by the harness.
#[derive(Clone, Debug)]
pub struct Reply {
    pub seq: u64,
    pub sent: u64,
    pub at: u64,
    pub from: String,
}

/// A VRRP advert seen by the prober.
#[derive(Clone, Debug)]
pub struct Advert {
    pub src: IpAddr,
    pub vrid: u8,
    pub priority: u8,
    pub at: u64,
}

/// Everything the prober has reported so far.
#[derive(Default, Debug)]
pub struct ProbeLog {
    /// Send time of probe `seq` at index `seq`.
    pub sent: Vec<u64>,
    /// Index into `replies` of the first reply to probe `seq`, if any.
    pub answer: Vec<Option<usize>>,
    pub replies: Vec<Reply>,
    pub adverts: Vec<Advert>,
    /// The prober exited (or its output could not be read).
    pub ended: bool,
}

impl ProbeLog {
    fn push(&mut self, ev: Event) {
        match ev {
            Event::Sent { seq, at } => {
                let seq = seq as usize;
                if self.sent.len() <= seq {
                    self.sent.resize(seq + 1, 0);
                    self.answer.resize(seq + 1, None);
                }
                self.sent[seq] = at;
            }
            Event::Reply {
                seq,
                sent,
                at,
                from,
            } => {
                let idx = self.replies.len();
                let s = seq as usize;
                if self.answer.len() <= s {
                    self.sent.resize(s + 1, sent);
                    self.answer.resize(s + 1, None);
                }
                self.answer[s].get_or_insert(idx);
                self.replies.push(Reply {
                    seq,
                    sent,
                    at,
                    from,
                });
            }
            Event::Advert {
                src,
                vrid,
                priority,
                at,
            } => self.adverts.push(Advert {
                src,
                vrid,
                priority,
                at,
            }),
        }
    }

    /// The first reply from `from` received at or after `after`.
    pub fn first_reply_from(&self, from: &str, after: u64) -> Option<&Reply> {
        // Replies are appended in arrival order: skip the past by bisection
        // (the harness re-checks this on every batch of events).
        let start = self.replies.partition_point(|r| r.at < after);
        self.replies[start..].iter().find(|r| r.from == from)
    }

    /// Probes sent in `[from, to)` that got no reply.
    pub fn lost_between(&self, from: u64, to: u64) -> u64 {
        let (a, b) = self.sent_range(from, to);
        self.answer[a..b].iter().filter(|x| x.is_none()).count() as u64
    }

    /// Probes sent in `[from, to)`.
    pub fn sent_between(&self, from: u64, to: u64) -> u64 {
        let (a, b) = self.sent_range(from, to);
        (b - a) as u64
    }

    /// The longest interval between consecutive probes sent in `[from, to)`.
    pub fn max_send_gap(&self, from: u64, to: u64) -> u64 {
        let (a, b) = self.sent_range(from, to);
        self.sent[a..b]
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or(0)
    }

    /// Indices of the probes sent in `[from, to)` (send times only grow).
    fn sent_range(&self, from: u64, to: u64) -> (usize, usize) {
        let a = self.sent.partition_point(|t| *t < from);
        let b = self.sent.partition_point(|t| *t < to).max(a);
        (a, b)
    }

    /// The send time of the first probe of the newest run of `n` consecutive
    /// probes, all sent at or after `after`, all answered by `from` — i.e. the
    /// moment from which `from` has served the VIP without a gap.
    pub fn steady_since(&self, from: &str, n: usize, after: u64) -> Option<u64> {
        let mut run = 0usize;
        let mut best = None;
        let start = self.sent.partition_point(|t| *t < after);
        for seq in start..self.sent.len() {
            let ok = self.answer[seq].is_some_and(|i| self.replies[i].from == from);
            if ok {
                run += 1;
                if run >= n {
                    best = Some(self.sent[seq + 1 - run]);
                }
            } else {
                run = 0;
            }
        }
        best
    }

    /// The last advert from `src` received before `before`.
    pub fn last_advert_from(&self, src: IpAddr, before: u64) -> Option<&Advert> {
        self.adverts
            .iter()
            .rev()
            .find(|a| a.src == src && a.at < before)
    }
}

struct Shared {
    log: Mutex<ProbeLog>,
    changed: Condvar,
}

/// A running `belay-probe probe` in a client namespace, its events streamed
/// into a `ProbeLog` that the harness can wait on.
pub struct Prober {
    child: Child,
    shared: Arc<Shared>,
    reader: Option<JoinHandle<()>>,
    stderr_log: PathBuf,
}

impl Prober {
    /// Starts probing `target` from `ns` every `interval`; with `adverts_on`,
    /// also records VRRP adverts seen on that interface.
    pub fn start(
        ns: &Netns,
        target: SocketAddr,
        interval: Duration,
        adverts_on: Option<&str>,
    ) -> Prober {
        let mut cmd = ns.command(probe_bin());
        cmd.args([
            "probe",
            "--target",
            &target.to_string(),
            "--interval-us",
            &interval.as_micros().to_string(),
        ]);
        if let Some(i) = adverts_on {
            cmd.args(["--adverts-on", i]);
        }
        let stderr_log = tempfile::Builder::new()
            .prefix("belay-prober-")
            .suffix(".log")
            .tempfile()
            .expect("prober log")
            .into_temp_path()
            .keep()
            .expect("keep prober log");
        let err = std::fs::File::create(&stderr_log).expect("prober log");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err);
        let mut child = cmd.spawn().expect("spawn belay-probe");
        let stdout = child.stdout.take().expect("piped stdout");
        let shared = Arc::new(Shared {
            log: Mutex::new(ProbeLog::default()),
            changed: Condvar::new(),
        });
        let sh = Arc::clone(&shared);
        let reader = std::thread::spawn(move || {
            let mut batch = Vec::new();
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if let Some(ev) = Event::parse(&line) {
                            batch.push(ev);
                        }
                        // Publish when the pipe has no more buffered lines.
                        if lines.buffer().is_empty() {
                            let mut log = sh.log.lock().expect("probe log lock");
                            for ev in batch.drain(..) {
                                log.push(ev);
                            }
                            sh.changed.notify_all();
                        }
                    }
                }
            }
            let mut log = sh.log.lock().expect("probe log lock");
            for ev in batch.drain(..) {
                log.push(ev);
            }
            log.ended = true;
            sh.changed.notify_all();
        });
        Prober {
            child,
            shared,
            reader: Some(reader),
            stderr_log,
        }
    }

    /// Waits until `f` returns `Some` on the log (re-checked on every new
    /// event); `None` after `timeout` or when the prober has died.
    pub fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&ProbeLog) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.log.lock().expect("probe log lock");
        loop {
            if let Some(v) = f(&log) {
                return Some(v);
            }
            let now = Instant::now();
            if now >= deadline || log.ended {
                return None;
            }
            log = self
                .shared
                .changed
                .wait_timeout(log, deadline - now)
                .expect("probe log lock")
                .0;
        }
    }

    /// Like `wait_for`, but panics naming `what` (with the prober's stderr).
    #[track_caller]
    pub fn expect<T>(
        &self,
        timeout: Duration,
        what: &str,
        f: impl FnMut(&ProbeLog) -> Option<T>,
    ) -> T {
        match self.wait_for(timeout, f) {
            Some(v) => v,
            None => {
                let err = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
                panic!("timed out after {timeout:?} waiting for: {what}; prober stderr: {err}")
            }
        }
    }

    /// Runs `f` on the log as it is now.
    pub fn with_log<T>(&self, f: impl FnOnce(&ProbeLog) -> T) -> T {
        f(&self.shared.log.lock().expect("probe log lock"))
    }

    /// Waits until `from` has answered `n` consecutive probes sent after
    /// `after`; returns the send time of the first of them.
    #[track_caller]
    pub fn wait_steady(&self, from: &str, n: usize, after: u64, timeout: Duration) -> u64 {
        self.expect(
            timeout,
            &format!("{n} consecutive replies from {from}"),
            |l| l.steady_since(from, n, after),
        )
    }

    /// Waits for the first reply from `from` received at or after `after`.
    #[track_caller]
    pub fn wait_first_reply(&self, from: &str, after: u64, timeout: Duration) -> Reply {
        self.expect(timeout, &format!("a reply from {from}"), |l| {
            l.first_reply_from(from, after).cloned()
        })
    }

    /// Waits until every probe sent before `t` has had time to be answered:
    /// a probe sent at least `grace` after `t` has been answered.
    pub fn settle(&self, t: u64, grace: Duration, timeout: Duration) -> bool {
        let g = grace.as_nanos() as u64;
        self.wait_for(timeout, |l| {
            l.replies
                .iter()
                .rev()
                .any(|r| r.sent >= t + g)
                .then_some(())
        })
        .is_some()
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if std::thread::panicking() {
            let err = std::fs::read_to_string(&self.stderr_log).unwrap_or_default();
            if !err.is_empty() {
                eprintln!("--- prober stderr ---\n{err}");
            }
        }
        let _ = std::fs::remove_file(&self.stderr_log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_text_form() {
        let evs = [
            Event::Sent { seq: 7, at: 123 },
            Event::Reply {
                seq: 7,
                sent: 123,
                at: 456,
                from: "r1".into(),
            },
            Event::Advert {
                src: "2001:db8::1".parse().unwrap(),
                vrid: 51,
                priority: 200,
                at: 9,
            },
        ];
        for ev in evs {
            assert_eq!(Event::parse(&ev.to_string()), Some(ev));
        }
        assert_eq!(Event::parse("x 1 2"), None);
        assert_eq!(Event::parse("s 1"), None);
    }

    #[test]
    fn log_counts_losses_and_steady_runs() {
        let mut log = ProbeLog::default();
        for seq in 0..10u64 {
            log.push(Event::Sent {
                seq,
                at: seq * 1000,
            });
        }
        for seq in [0u64, 1, 2, 6, 7, 8, 9] {
            let from = if seq < 5 { "r1" } else { "r2" };
            log.push(Event::Reply {
                seq,
                sent: seq * 1000,
                at: seq * 1000 + 50,
                from: from.into(),
            });
        }
        assert_eq!(log.lost_between(0, 10_000), 3);
        assert_eq!(log.lost_between(3000, 4000), 1);
        assert_eq!(log.first_reply_from("r2", 0).unwrap().seq, 6);
        assert_eq!(log.steady_since("r2", 4, 0), Some(6000));
        assert_eq!(log.steady_since("r2", 5, 0), None);
        assert_eq!(log.steady_since("r1", 3, 0), Some(0));
    }

    #[test]
    fn adverts_parse_from_ipv4_raw_packets() {
        let mut pkt = vec![0x45u8, 0, 0, 28, 0, 0, 0, 0, 255, 112, 0, 0];
        pkt.extend([192, 0, 2, 1, 224, 0, 0, 18]);
        pkt.extend([0x31, 51, 200, 1, 0, 100, 0, 0]);
        let ev = parse_advert(&pkt, Some("192.0.2.1".parse().unwrap()), 5).unwrap();
        assert_eq!(
            ev,
            Event::Advert {
                src: "192.0.2.1".parse().unwrap(),
                vrid: 51,
                priority: 200,
                at: 5
            }
        );
        // IPv6: payload only, source from the socket address.
        let v6 = [0x31u8, 51, 100, 1, 0, 100, 0, 0];
        let ev = parse_advert(&v6, Some("2001:db8::2".parse().unwrap()), 6).unwrap();
        assert!(matches!(ev, Event::Advert { priority: 100, .. }));
        assert_eq!(parse_advert(&[], None, 0), None);
    }
}
