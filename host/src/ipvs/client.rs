//! A synchronous IPVS client over generic netlink.
//!
//! Writes go out in batches: up to [`Client::batch`] requests framed into
//! one `sendmsg`, only the last asking for an ACK. The kernel handles a
//! datagram's requests in order inside `sendmsg` and answers every failed
//! one with an error even without `NLM_F_ACK`, so when the last ACK arrives
//! every error of the batch is already queued. The batch size keeps the
//! worst case (every request failing) inside the receive buffer.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_generic::GenlMessage;
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_sys::{Socket, protocols::NETLINK_GENERIC};
use serde::Serialize;

use super::netlink::attr::AttrTable;
use super::netlink::consts::IPVS_GENL_NAME;
use super::netlink::frame::NLM_F_DUMP_INTR;
use super::netlink::{DestConns, Frame, FrameKind, Frames, Info, Reply, ReplyContext, Request};
use super::uring::{DestReader, DumpOutcome};
use super::{Dest, Family, IpvsError, Op, Service, ServiceKey, Table, VirtualService};

/// Requests per `sendmsg`. Each failed request costs about 1 KiB of
/// receive buffer for its error; 128 stays well inside the default.
pub const DEFAULT_BATCH: usize = 128;
const RECV_BUF: usize = 64 * 1024;
const RCVBUF_BYTES: i32 = 4 * 1024 * 1024;
const CTRL_ATTR_FAMILY_ID: u16 = 1;

/// How much talking to the kernel an operation took; tests assert on
/// `writes`, benchmarks report all of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Requests that change the table (add, edit, delete, flush).
    pub writes: u64,
    /// Every request sent, reads included.
    pub requests: u64,
    /// `sendmsg` calls.
    pub sends: u64,
    /// `recvmsg` calls.
    pub recvs: u64,
    /// `io_uring_enter` calls (batched destination dumps).
    pub uring_enters: u64,
}

impl Counters {
    /// The difference `self - earlier`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            writes: self.writes - earlier.writes,
            requests: self.requests - earlier.requests,
            sends: self.sends - earlier.sends,
            recvs: self.recvs - earlier.recvs,
            uring_enters: self.uring_enters - earlier.uring_enters,
        }
    }
}

/// Errors of one [`Client::apply`], each with the index of its op.
#[derive(Debug, Default)]
pub struct ApplyErrors(pub Vec<(usize, IpvsError)>);

impl ApplyErrors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub struct Client {
    sock: Socket,
    family: u16,
    seq: u32,
    counters: Counters,
    rbuf: Vec<u8>,
    sbuf: Vec<u8>,
    timeout: Duration,
    /// Batched destination dumps, when io_uring is available.
    reader: Option<DestReader>,
    /// Requests per `sendmsg` for [`Client::apply`].
    pub batch: usize,
}

impl Client {
    /// Opens a generic netlink socket and resolves the `IPVS` family id
    /// (it is assigned at run time and differs between kernels).
    pub fn connect() -> Result<Client, IpvsError> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        // Small error replies with the kernel's explanation attached.
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_ext_ack(true);
        set_rcvbuf(&sock, RCVBUF_BYTES);
        let timeout = Duration::from_secs(5);
        set_rcvtimeo(&sock, timeout)?;
        let mut client = Client {
            sock,
            family: 0,
            seq: 1,
            counters: Counters::default(),
            rbuf: Vec::with_capacity(RECV_BUF),
            sbuf: Vec::with_capacity(64 * 1024),
            timeout,
            reader: None,
            batch: DEFAULT_BATCH,
        };
        client.family = client.resolve_family()?;
        client.set_uring(true);
        Ok(client)
    }

    /// Turns batched destination dumps over io_uring on or off (off: one
    /// dump after the other on the plain socket). On by default where the
    /// kernel allows io_uring. The ring's socket is opened here, so call
    /// it in the table's network namespace.
    pub fn set_uring(&mut self, on: bool) {
        self.reader = None;
        if on {
            match DestReader::new(self.family) {
                Ok(r) => self.reader = Some(r),
                Err(e) => {
                    tracing::debug!(error = %e, "io_uring unavailable; IPVS reads use the plain socket")
                }
            }
        }
    }

    /// Whether destination dumps go through io_uring.
    pub fn uses_uring(&self) -> bool {
        self.reader.as_ref().is_some_and(DestReader::usable)
    }

    /// The generic netlink id of the `IPVS` family on this kernel.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    fn next_seq(&mut self, n: u32) -> u32 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(n);
        s
    }

    fn resolve_family(&mut self) -> Result<u16, IpvsError> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK;
        let seq = self.next_seq(1);
        header.sequence_number = seq;
        let mut msg = NetlinkMessage::new(
            header,
            NetlinkPayload::InnerMessage(GenlMessage::from_payload(GenlCtrl {
                cmd: GenlCtrlCmd::GetFamily,
                nlas: vec![GenlCtrlAttrs::FamilyName(IPVS_GENL_NAME.to_owned())],
            })),
        );
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        self.send(&buf)?;
        let mut id = None;
        loop {
            self.recv()?;
            let rbuf = std::mem::take(&mut self.rbuf);
            let mut done = false;
            let mut failure = None;
            for frame in Frames::new(&rbuf) {
                let frame = frame?;
                if frame.seq != seq {
                    continue;
                }
                match frame.kind {
                    FrameKind::Genl { attrs, .. } => {
                        let t: AttrTable<'_, 8> = AttrTable::parse(attrs, "family")?;
                        id = t.u16(CTRL_ATTR_FAMILY_ID, "family_id")?;
                    }
                    FrameKind::Ack { code: 0, .. } => done = true,
                    FrameKind::Ack { code, .. } => {
                        failure = Some(if -code == libc::ENOENT {
                            IpvsError::Unavailable
                        } else {
                            IpvsError::Io(std::io::Error::from_raw_os_error(-code))
                        });
                    }
                    _ => {}
                }
            }
            self.rbuf = rbuf;
            if let Some(e) = failure {
                return Err(e);
            }
            if done {
                break;
            }
        }
        id.ok_or(IpvsError::Unavailable)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), IpvsError> {
        self.counters.sends += 1;
        self.sock.send(bytes, 0)?;
        Ok(())
    }

    /// Receives one datagram into `rbuf`.
    fn recv(&mut self) -> Result<(), IpvsError> {
        self.rbuf.clear();
        self.counters.recvs += 1;
        match self.sock.recv(&mut self.rbuf, libc::MSG_TRUNC) {
            Ok(n) if n > self.rbuf.capacity() => Err(IpvsError::Io(std::io::Error::other(
                format!("netlink datagram of {n} bytes exceeds the receive buffer"),
            ))),
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                Err(IpvsError::Timeout(self.timeout))
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Err(IpvsError::Overrun),
            Err(e) => Err(IpvsError::Io(e)),
        }
    }

    /// Applies `ops` in order, in batches. Every op is attempted; the ones
    /// the kernel refused come back with their index.
    pub fn apply(&mut self, ops: &[Op]) -> Result<ApplyErrors, IpvsError> {
        let mut errors = ApplyErrors::default();
        let batch = self.batch.max(1);
        for (chunk_no, chunk) in ops.chunks(batch).enumerate() {
            let n = chunk.len() as u32;
            let base = self.next_seq(n);
            let mut sbuf = std::mem::take(&mut self.sbuf);
            sbuf.clear();
            for (i, op) in chunk.iter().enumerate() {
                let last = i + 1 == chunk.len();
                op.request()
                    .frame(self.family, base.wrapping_add(i as u32), last, &mut sbuf);
            }
            self.counters.requests += u64::from(n);
            self.counters.writes += u64::from(n);
            let sent = self.send(&sbuf);
            self.sbuf = sbuf;
            sent?;
            let last_seq = base.wrapping_add(n - 1);
            let offset = chunk_no * batch;
            self.collect_acks(base, n, last_seq, |i, e| {
                errors
                    .0
                    .push((offset + i, IpvsError::from_kernel(&chunk[i], -e.0, e.1)));
            })?;
        }
        Ok(errors)
    }

    /// Reads replies until the ACK (or error) of `last_seq`, reporting
    /// errors of requests `base..base+n` as `(index, (errno, detail))`.
    fn collect_acks(
        &mut self,
        base: u32,
        n: u32,
        last_seq: u32,
        mut on_error: impl FnMut(usize, (i32, Option<String>)),
    ) -> Result<(), IpvsError> {
        loop {
            self.recv()?;
            let mut finished = false;
            for frame in Frames::new(&self.rbuf) {
                let Frame { seq, kind, .. } = frame?;
                let idx = seq.wrapping_sub(base);
                if idx >= n {
                    continue; // a late reply to something earlier
                }
                if let FrameKind::Ack { code, message } = kind {
                    if code != 0 {
                        on_error(idx as usize, (code, message));
                    }
                    if seq == last_seq {
                        finished = true;
                    }
                }
            }
            if finished {
                return Ok(());
            }
        }
    }

    /// Runs one dump request, handing each reply to `f`. A dump the kernel
    /// marks as interrupted (table changed meanwhile) is started again.
    fn dump(
        &mut self,
        req: Request<'_>,
        ctx: ReplyContext,
        mut f: impl FnMut(DumpEvent) -> Result<(), IpvsError>,
    ) -> Result<(), IpvsError> {
        for _attempt in 0..3 {
            let seq = self.next_seq(1);
            let mut sbuf = std::mem::take(&mut self.sbuf);
            sbuf.clear();
            req.frame(self.family, seq, false, &mut sbuf);
            self.counters.requests += 1;
            let sent = self.send(&sbuf);
            self.sbuf = sbuf;
            sent?;
            let mut interrupted = false;
            'recv: loop {
                self.recv()?;
                for frame in Frames::new(&self.rbuf) {
                    let frame = frame?;
                    if frame.seq != seq {
                        continue;
                    }
                    interrupted |= frame.flags & NLM_F_DUMP_INTR != 0;
                    match frame.kind {
                        FrameKind::Genl { cmd, attrs } => {
                            f(DumpEvent::Reply(Reply::parse(cmd, attrs, ctx)?))?
                        }
                        FrameKind::Done => break 'recv,
                        FrameKind::Ack { code: 0, .. } => break 'recv,
                        FrameKind::Ack { code, message } => {
                            return Err(IpvsError::Kernel {
                                op: dump_name(&req),
                                source: std::io::Error::from_raw_os_error(-code),
                                detail: message,
                            });
                        }
                        FrameKind::Skip => {}
                    }
                }
            }
            if !interrupted {
                return Ok(());
            }
            f(DumpEvent::Restart)?;
        }
        Err(IpvsError::Io(std::io::Error::other(
            "IPVS dump interrupted three times in a row",
        )))
    }

    /// Every service in the kernel (ours and foreign), without destinations.
    pub fn services(&mut self) -> Result<Vec<Service>, IpvsError> {
        let mut out = Vec::new();
        let ctx = ReplyContext {
            service_family: Family::Ipv4,
        };
        self.dump(Request::DumpServices, ctx, |event| {
            match event {
                DumpEvent::Reply(Reply::Service(s)) => out.push(s),
                DumpEvent::Reply(_) => {}
                DumpEvent::Restart => out.clear(),
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The destinations of one service, with their connection counters.
    pub fn dests_with_conns(
        &mut self,
        key: &ServiceKey,
    ) -> Result<Vec<(Dest, DestConns)>, IpvsError> {
        let mut out = Vec::new();
        let ctx = ReplyContext {
            service_family: key.family(),
        };
        self.dump(Request::DumpDests(key), ctx, |event| {
            match event {
                DumpEvent::Reply(Reply::Dest(d, c)) => out.push((d, c)),
                DumpEvent::Reply(_) => {}
                DumpEvent::Restart => out.clear(),
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The destinations of one service.
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<Dest>, IpvsError> {
        Ok(self
            .dests_with_conns(key)?
            .into_iter()
            .map(|(d, _)| d)
            .collect())
    }

    /// Reads the services for which `wanted` is true, with their destinations.
    pub fn read_table(
        &mut self,
        mut wanted: impl FnMut(&ServiceKey) -> bool,
    ) -> Result<Table, IpvsError> {
        let services: Vec<Service> = self
            .services()?
            .into_iter()
            .filter(|s| wanted(&s.key))
            .collect();
        let keys: Vec<ServiceKey> = services.iter().map(|s| s.key).collect();
        let dests = self.read_dests(&keys)?;
        let mut table = Table::new();
        for (svc, dests) in services.into_iter().zip(dests) {
            let mut vs = VirtualService::new(svc);
            vs.dests = dests.into_iter().map(|d| (d.addr, d)).collect();
            table.insert(vs);
        }
        Ok(table)
    }

    /// The destinations of each service in `keys` (batched over io_uring
    /// when available). A service that does not exist has none.
    pub fn read_dests(&mut self, keys: &[ServiceKey]) -> Result<Vec<Vec<Dest>>, IpvsError> {
        let outcomes = match self.reader.as_mut() {
            Some(r) if r.usable() && keys.len() > 1 => r.read(keys, &mut self.counters)?,
            _ => keys.iter().map(|_| DumpOutcome::Retry).collect(),
        };
        let mut out = Vec::with_capacity(keys.len());
        for (key, outcome) in keys.iter().zip(outcomes) {
            out.push(match outcome {
                DumpOutcome::Done(d) => d.into_iter().map(|(d, _)| d).collect(),
                DumpOutcome::Retry => self.dests(key)?,
                DumpOutcome::Failed { errno, detail } => {
                    return Err(IpvsError::Kernel {
                        op: format!("list real servers of {key}"),
                        source: std::io::Error::from_raw_os_error(errno),
                        detail,
                    });
                }
            });
        }
        Ok(out)
    }

    /// IPVS version and connection table size.
    pub fn info(&mut self) -> Result<Info, IpvsError> {
        let seq = self.next_seq(1);
        let mut sbuf = std::mem::take(&mut self.sbuf);
        sbuf.clear();
        Request::GetInfo.frame(self.family, seq, false, &mut sbuf);
        self.counters.requests += 1;
        let sent = self.send(&sbuf);
        self.sbuf = sbuf;
        sent?;
        let ctx = ReplyContext {
            service_family: Family::Ipv4,
        };
        loop {
            self.recv()?;
            for frame in Frames::new(&self.rbuf) {
                let frame = frame?;
                if frame.seq != seq {
                    continue;
                }
                match frame.kind {
                    FrameKind::Genl { cmd, attrs } => {
                        if let Reply::Info(i) = Reply::parse(cmd, attrs, ctx)? {
                            return Ok(i);
                        }
                    }
                    FrameKind::Ack { code, message } if code != 0 => {
                        return Err(IpvsError::Kernel {
                            op: "get IPVS info".into(),
                            source: std::io::Error::from_raw_os_error(-code),
                            detail: message,
                        });
                    }
                    _ => {}
                }
            }
        }
    }

    /// Removes every service, foreign ones included. For tests and
    /// benchmarks that own the whole (namespaced) table; the daemon never
    /// calls it.
    pub fn flush(&mut self) -> Result<(), IpvsError> {
        let seq = self.next_seq(1);
        let mut sbuf = std::mem::take(&mut self.sbuf);
        sbuf.clear();
        Request::Flush.frame(self.family, seq, true, &mut sbuf);
        self.counters.requests += 1;
        self.counters.writes += 1;
        let sent = self.send(&sbuf);
        self.sbuf = sbuf;
        sent?;
        let mut err = None;
        self.collect_acks(seq, 1, seq, |_, (code, msg)| err = Some((code, msg)))?;
        match err {
            None => Ok(()),
            Some((code, detail)) => Err(IpvsError::Kernel {
                op: "flush IPVS table".into(),
                source: std::io::Error::from_raw_os_error(-code),
                detail,
            }),
        }
    }

    /// Applies one op and returns its error, if any.
    pub fn apply_one(&mut self, op: &Op) -> Result<(), IpvsError> {
        match self.apply(std::slice::from_ref(op))?.0.pop() {
            None => Ok(()),
            Some((_, e)) => Err(e),
        }
    }

    pub fn add_service(&mut self, s: &Service) -> Result<(), IpvsError> {
        self.apply_one(&Op::AddService(s.clone()))
    }

    pub fn edit_service(&mut self, s: &Service) -> Result<(), IpvsError> {
        self.apply_one(&Op::EditService(s.clone()))
    }

    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.apply_one(&Op::DelService(*key))
    }

    pub fn add_dest(&mut self, key: &ServiceKey, d: &Dest) -> Result<(), IpvsError> {
        self.apply_one(&Op::AddDest(*key, *d))
    }

    pub fn edit_dest(&mut self, key: &ServiceKey, d: &Dest) -> Result<(), IpvsError> {
        self.apply_one(&Op::EditDest(*key, *d))
    }

    pub fn del_dest(&mut self, key: &ServiceKey, addr: &SocketAddr) -> Result<(), IpvsError> {
        self.apply_one(&Op::DelDest(*key, *addr))
    }
}

/// What a dump hands its consumer: a reply, or "forget what you got, the
/// dump starts over".
enum DumpEvent {
    Reply(Reply),
    Restart,
}

fn dump_name(req: &Request<'_>) -> String {
    match req {
        Request::DumpDests(k) => format!("list real servers of {k}"),
        _ => "list virtual servers".into(),
    }
}

/// A bigger receive buffer lets large batches report every error; root may
/// exceed `rmem_max` (FORCE), others get what the sysctl allows.
fn set_rcvbuf(sock: &Socket, bytes: i32) {
    let fd = sock.as_raw_fd();
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: valid fd and a pointer to a live c_int of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

fn set_rcvtimeo(sock: &Socket, d: Duration) -> Result<(), IpvsError> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: libc::suseconds_t::from(d.subsec_micros() as i32),
    };
    // SAFETY: valid fd and a pointer to a live timeval.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(IpvsError::Io(std::io::Error::last_os_error()));
    }
    Ok(())
}
