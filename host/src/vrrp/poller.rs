//! The driver's wait: level-triggered epoll over a handful of fds, and the
//! control channel other threads use to reach a running driver.
//!
//! Each instance runs on its own thread, like Keepalived's single loop: one
//! `epoll_wait` per event, no runtime scheduling in between. Level-triggered
//! means one datagram per wake-up, without the extra read that would only
//! learn the queue is empty.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// An epoll instance; tokens are the caller's small integers.
pub struct Poller {
    ep: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: plain epoll_create1(2); the fd is owned right after.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Poller {
            // SAFETY: `raw` is a fresh fd nothing else owns.
            ep: unsafe { OwnedFd::from_raw_fd(raw) },
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 8],
        })
    }

    /// Watches `fd` for readability, reporting `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: valid epoll fd and event struct.
        let rc = unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Waits for readiness; calls `on(token)` for each ready fd.
    pub fn wait(&mut self, mut on: impl FnMut(u64)) -> io::Result<()> {
        // SAFETY: the buffer holds `len` events and outlives the call.
        let n = unsafe {
            libc::epoll_wait(
                self.ep.as_raw_fd(),
                self.events.as_mut_ptr(),
                self.events.len() as i32,
                -1,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        for ev in &self.events[..n as usize] {
            on(ev.u64);
        }
        Ok(())
    }
}

/// Requests from the rest of the daemon (health-check tracking, issue 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Set the effective priority (configured ± track weights).
    SetPriority(u8),
    /// A tracked check with weight 0 failed (true) or recovered (false).
    SetTrackingFault(bool),
}

/// Reaches a driver thread: commands and the stop request, signalled
/// through an eventfd the driver polls. Cheap to share (`Arc<Control>`).
pub struct Control {
    efd: OwnedFd,
    inner: Mutex<ControlState>,
}

#[derive(Default)]
struct ControlState {
    stop: bool,
    commands: VecDeque<Command>,
}

impl Control {
    pub fn new() -> io::Result<Control> {
        // SAFETY: plain eventfd(2); the fd is owned right after.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Control {
            // SAFETY: `raw` is a fresh fd nothing else owns.
            efd: unsafe { OwnedFd::from_raw_fd(raw) },
            inner: Mutex::new(ControlState::default()),
        })
    }

    /// Asks the driver to stop (priority 0, VIPs released) and return.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.kick();
    }

    /// Queues a command for the driver.
    pub fn send(&self, command: Command) {
        self.lock().commands.push_back(command);
        self.kick();
    }

    pub fn raw_fd(&self) -> RawFd {
        self.efd.as_raw_fd()
    }

    /// For the driver: clears the wake-up and returns (stop, commands).
    pub fn take(&self, commands: &mut Vec<Command>) -> bool {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live buffer; EAGAIN is fine.
        let _ = unsafe { libc::read(self.efd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        let mut st = self.lock();
        commands.extend(st.commands.drain(..));
        st.stop
    }

    pub fn stopping(&self) -> bool {
        self.lock().stop
    }

    fn kick(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd.
        let _ = unsafe { libc::write(self.efd.as_raw_fd(), one.as_ptr().cast(), 8) };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ControlState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
