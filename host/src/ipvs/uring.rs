//! Reading the destinations of many services with a handful of system calls.
//!
//! The kernel lists destinations one service at a time: a dump request,
//! then (for a normal service) two datagrams — the destinations, and the
//! end-of-dump that the kernel only produces once the first is read. On a
//! plain socket that is three system calls per service, which dominates
//! re-reading a large table (in a UML guest a system call costs 50–130 µs).
//!
//! Here the send and two non-blocking receives of up to [`ROUND`] dumps go
//! to the kernel in one `io_uring_enter`. The kernel runs them inline and in
//! order: netlink sends to the kernel never block and the receives carry
//! `MSG_DONTWAIT`, so nothing waits. Replies are attributed by sequence
//! number, not by which receive got them, so a dump that needs more
//! datagrams than were posted simply finishes in a short drain, and one
//! the kernel refused because the previous dump was still running (EBUSY)
//! is handed back to be redone on the plain socket.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{IoUring, opcode, types};
use netlink_sys::{Socket, protocols::NETLINK_GENERIC};

use super::client::Counters;
use super::netlink::{DestConns, FrameKind, Frames, Reply, ReplyContext, Request};
use super::{Dest, IpvsError, ServiceKey};

/// Dumps per `io_uring_enter`.
pub const ROUND: usize = 128;
/// Receive buffer per posted receive: one page, which is also the kernel's
/// smallest dump datagram (`NLMSG_GOODSIZE`). The kernel sizes dump
/// datagrams by the largest receive seen on the socket, and this socket
/// only ever receives with this size, so a datagram never exceeds it (a
/// truncated one is detected anyway).
const BUF: usize = 4096;

/// How one service's dump ended.
#[derive(Debug)]
pub enum DumpOutcome {
    Done(Vec<(Dest, DestConns)>),
    /// Not answered here (EBUSY, send failure, drain timeout): read it again
    /// on the plain socket.
    Retry,
    /// The kernel answered with an error.
    Failed {
        errno: i32,
        detail: Option<String>,
    },
}

pub struct DestReader {
    ring: IoUring,
    sock: Socket,
    family: u16,
    seq: u32,
    sbuf: Vec<u8>,
    rbufs: Vec<u8>,
    /// Set after a drain timed out: the socket may hold a stuck dump.
    broken: bool,
}

impl DestReader {
    /// A ring and its own netlink socket, in the current network namespace.
    pub fn new(family: u16) -> io::Result<DestReader> {
        let ring = IoUring::new((ROUND * 3).next_power_of_two() as u32)?;
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&netlink_sys::SocketAddr::new(0, 0))?;
        let _ = sock.set_cap_ack(true);
        let tv = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: valid fd and a pointer to a live timeval of the right size.
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
            return Err(io::Error::last_os_error());
        }
        Ok(DestReader {
            ring,
            sock,
            family,
            seq: 1,
            sbuf: Vec::with_capacity(ROUND * 64),
            rbufs: touched(ROUND * 2 * BUF),
            broken: false,
        })
    }

    /// Whether the reader can still be used.
    pub fn usable(&self) -> bool {
        !self.broken
    }

    /// Dumps the destinations of every service in `keys`.
    pub fn read(
        &mut self,
        keys: &[ServiceKey],
        counters: &mut Counters,
    ) -> Result<Vec<DumpOutcome>, IpvsError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(ROUND) {
            if self.broken {
                out.extend(chunk.iter().map(|_| DumpOutcome::Retry));
                continue;
            }
            out.extend(self.round(chunk, counters)?);
        }
        // Dumps refused while a long one was still running go again, in
        // rounds of their own (the long one has finished by now).
        for _ in 0..3 {
            let again: Vec<usize> = (0..out.len())
                .filter(|&i| matches!(out[i], DumpOutcome::Retry))
                .collect();
            if again.is_empty() || self.broken {
                break;
            }
            let retry_keys: Vec<ServiceKey> = again.iter().map(|&i| keys[i]).collect();
            let mut results = Vec::with_capacity(retry_keys.len());
            for chunk in retry_keys.chunks(ROUND) {
                results.extend(self.round(chunk, counters)?);
            }
            let progress = results.iter().any(|r| !matches!(r, DumpOutcome::Retry));
            for (i, r) in again.into_iter().zip(results) {
                out[i] = r;
            }
            if !progress {
                break;
            }
        }
        Ok(out)
    }

    fn round(
        &mut self,
        keys: &[ServiceKey],
        counters: &mut Counters,
    ) -> Result<Vec<DumpOutcome>, IpvsError> {
        let n = keys.len();
        let base = self.seq;
        self.seq = self.seq.wrapping_add(n as u32);
        self.sbuf.clear();
        let mut spans = Vec::with_capacity(n);
        for (j, key) in keys.iter().enumerate() {
            let start = self.sbuf.len();
            let len = Request::DumpDests(key).frame(
                self.family,
                base.wrapping_add(j as u32),
                false,
                &mut self.sbuf,
            );
            spans.push((start, len));
        }
        counters.requests += n as u64;

        let fd = types::Fd(self.sock.as_raw_fd());
        let flags = libc::MSG_DONTWAIT;
        {
            let sbuf = self.sbuf.as_ptr();
            let rbufs = self.rbufs.as_mut_ptr();
            let mut sq = self.ring.submission();
            for (j, &(start, len)) in spans.iter().enumerate() {
                // SAFETY: the pointers stay valid and untouched until every
                // completion is reaped below (sbuf and rbufs are not resized
                // in between), and every range is inside its buffer.
                let entries = unsafe {
                    [
                        opcode::Send::new(fd, sbuf.add(start), len as u32)
                            .flags(flags)
                            .build()
                            .user_data((j * 3) as u64),
                        opcode::Recv::new(fd, rbufs.add(2 * j * BUF), BUF as u32)
                            .flags(flags | libc::MSG_TRUNC)
                            .build()
                            .user_data((j * 3 + 1) as u64),
                        opcode::Recv::new(fd, rbufs.add((2 * j + 1) * BUF), BUF as u32)
                            .flags(flags | libc::MSG_TRUNC)
                            .build()
                            .user_data((j * 3 + 2) as u64),
                    ]
                };
                // SAFETY: as above; the queue was sized for a full round.
                unsafe { sq.push_multiple(&entries) }
                    .map_err(|_| IpvsError::Io(io::Error::other("io_uring queue full")))?;
            }
        }
        counters.uring_enters += 1;
        self.ring.submit()?;

        // Everything ran inline; collect the results.
        let mut results: Vec<Option<i32>> = vec![None; 3 * n];
        reap(&mut self.ring, &mut results);
        let pending = results.iter().filter(|r| r.is_none()).count();
        if pending > 0 {
            // Not expected (nothing here can block), but never leave an
            // operation pointing into our buffers: cancel and wait.
            {
                let mut sq = self.ring.submission();
                for (i, _) in results.iter().enumerate().filter(|(_, r)| r.is_none()) {
                    let cancel = opcode::AsyncCancel::new(i as u64)
                        .build()
                        .user_data(u64::MAX);
                    // SAFETY: a cancel entry references no memory.
                    let _ = unsafe { sq.push(&cancel) };
                }
            }
            counters.uring_enters += 1;
            self.ring.submit()?;
            let mut spins = 0;
            while results.iter().any(Option::is_none) && spins < 1000 {
                counters.uring_enters += 1;
                self.ring.submitter().submit_and_wait(1)?;
                reap(&mut self.ring, &mut results);
                spins += 1;
            }
            if results.iter().any(Option::is_none) {
                // The kernel may still write into our buffers: leak them
                // rather than free them, and never use this ring again.
                self.broken = true;
                std::mem::forget(std::mem::take(&mut self.rbufs));
                std::mem::forget(std::mem::take(&mut self.sbuf));
                return Ok(keys.iter().map(|_| DumpOutcome::Retry).collect());
            }
        }

        let mut state = RoundState::new(base, keys);
        for j in 0..n {
            if results[3 * j].is_none_or(|r| r < 0) {
                state.outcome[j] = Some(DumpOutcome::Retry);
            }
            for stage in 1..=2 {
                let Some(r) = results[3 * j + stage] else {
                    continue;
                };
                if r <= 0 {
                    continue; // EAGAIN: nothing was queued for this receive
                }
                let r = r as usize;
                if r > BUF {
                    // A truncated datagram: some reply is lost.
                    state.give_up();
                    continue;
                }
                let off = (2 * j + stage - 1) * BUF;
                let data = self.rbufs[off..off + r].to_vec();
                state.absorb(&data)?;
            }
        }

        // Dumps still running need more receives to finish.
        let mut buf = Vec::with_capacity(BUF);
        while state.open() > 0 {
            buf.clear();
            counters.recvs += 1;
            match self.sock.recv(&mut buf, libc::MSG_TRUNC) {
                Ok(len) if len > BUF => state.give_up(),
                Ok(_) => state.absorb(&buf)?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tracing::warn!("IPVS destination dump did not finish; using the plain socket");
                    self.broken = true;
                    state.give_up();
                }
                Err(e) => return Err(IpvsError::Io(e)),
            }
        }
        Ok(state.finish())
    }
}

/// A zeroed buffer whose pages are already mapped: page faults are paid
/// once here, not on the first read (they are dear in a UML guest).
fn touched(len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.resize(len, 1u8);
    v.fill(0);
    v
}

fn reap(ring: &mut IoUring, results: &mut [Option<i32>]) {
    for cqe in ring.completion() {
        if let Some(slot) = results.get_mut(cqe.user_data() as usize) {
            *slot = Some(cqe.result());
        }
    }
}

/// Replies of one round, attributed to their dumps by sequence number.
struct RoundState<'a> {
    base: u32,
    keys: &'a [ServiceKey],
    dests: Vec<Vec<(Dest, DestConns)>>,
    outcome: Vec<Option<DumpOutcome>>,
}

impl<'a> RoundState<'a> {
    fn new(base: u32, keys: &'a [ServiceKey]) -> Self {
        RoundState {
            base,
            keys,
            dests: vec![Vec::new(); keys.len()],
            outcome: (0..keys.len()).map(|_| None).collect(),
        }
    }

    fn open(&self) -> usize {
        self.outcome.iter().filter(|o| o.is_none()).count()
    }

    fn give_up(&mut self) {
        for o in &mut self.outcome {
            if o.is_none() {
                *o = Some(DumpOutcome::Retry);
            }
        }
    }

    fn absorb(&mut self, datagram: &[u8]) -> Result<(), IpvsError> {
        for frame in Frames::new(datagram) {
            let frame = frame?;
            let j = frame.seq.wrapping_sub(self.base) as usize;
            let Some(key) = self.keys.get(j) else {
                continue;
            };
            if self.outcome[j].is_some() {
                continue;
            }
            match frame.kind {
                FrameKind::Genl { cmd, attrs } => {
                    let ctx = ReplyContext {
                        service_family: key.family(),
                    };
                    if let Reply::Dest(d, c) = Reply::parse(cmd, attrs, ctx)? {
                        self.dests[j].push((d, c));
                    }
                }
                FrameKind::Done | FrameKind::Ack { code: 0, .. } => {
                    self.outcome[j] = Some(DumpOutcome::Done(std::mem::take(&mut self.dests[j])));
                }
                FrameKind::Ack { code, .. } if -code == libc::EBUSY => {
                    self.outcome[j] = Some(DumpOutcome::Retry);
                }
                FrameKind::Ack { code, message } => {
                    self.outcome[j] = Some(DumpOutcome::Failed {
                        errno: -code,
                        detail: message,
                    });
                }
                FrameKind::Skip => {}
            }
        }
        Ok(())
    }

    fn finish(self) -> Vec<DumpOutcome> {
        self.outcome
            .into_iter()
            .map(|o| o.unwrap_or(DumpOutcome::Retry))
            .collect()
    }
}
