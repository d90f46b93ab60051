//! The driver's wait: level-triggered epoll over a handful of fds, and the
//! control channel other threads use to reach a running driver.
//!
//! Each instance runs on its own thread, like Keepalived's single loop: one
//! `epoll_pwait2` per event, whose nanosecond timeout is the core's next
//! deadline, and no runtime scheduling in between. Level-triggered means one
//! datagram per wake-up, without the extra read that would only learn the
//! queue is empty.
//!
//! Deadlines further away than [`TIMERFD_ABOVE`] go to a `timerfd` instead:
//! the kernel lets an epoll timeout fire late by 0.1 % of its length
//! (3.6 ms on a 3.6 s master-down timer), a timerfd by its ~50 µs slack.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Deadlines at most this far away use the epoll timeout (its slack, 0.1 %,
/// is at most 50 µs here); later ones arm the timerfd.
pub const TIMERFD_ABOVE: Duration = Duration::from_millis(50);

/// The timerfd's token; callers' tokens are small integers.
const TIMER_TOKEN: u64 = u64::MAX;

/// An epoll instance with a deadline; tokens are the caller's small integers.
pub struct Poller {
    ep: OwnedFd,
    events: Vec<libc::epoll_event>,
    /// `epoll_pwait2` exists (Linux ≥ 5.11).
    pwait2: bool,
    /// Precise wake-up for far deadlines (see the module docs).
    timer: OwnedFd,
    /// The deadline the timerfd is armed for, if any.
    armed: Option<Instant>,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: plain epoll_create1(2); the fd is owned right after.
        let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd nothing else owns.
        let ep = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: plain timerfd_create(2); the fd is owned right after.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        let poller = Poller {
            ep,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 8],
            pwait2: true,
            // SAFETY: `raw` is a fresh fd nothing else owns.
            timer: unsafe { OwnedFd::from_raw_fd(raw) },
            armed: None,
        };
        poller.add(poller.timer.as_raw_fd(), TIMER_TOKEN)?;
        Ok(poller)
    }

    /// Arms the timerfd for `deadline` (relative to now), or disarms it.
    fn arm(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        if self.armed == deadline {
            return Ok(());
        }
        let left = deadline.map_or(Duration::ZERO, |d| {
            // A zero it_value disarms: keep an armed timer at least 1 ns.
            d.saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1))
        });
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: left.as_secs() as libc::time_t,
                tv_nsec: left.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: valid timerfd and a live itimerspec; old value not wanted.
        let rc = unsafe {
            libc::timerfd_settime(self.timer.as_raw_fd(), 0, &spec, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = deadline;
        Ok(())
    }

    /// Clears a fired timerfd (level-triggered: unread, it stays ready).
    fn drain_timer(&mut self) {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live buffer; EAGAIN is fine.
        let _ = unsafe { libc::read(self.timer.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        self.armed = None;
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

    /// Waits for readiness or until `deadline` (nanosecond resolution with
    /// `epoll_pwait2` for near deadlines, the timerfd for far ones); calls
    /// `on(token)` for each ready fd. May return early with nothing ready:
    /// callers loop on their deadline.
    pub fn wait(&mut self, deadline: Option<Instant>, mut on: impl FnMut(u64)) -> io::Result<()> {
        let mut left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l > TIMERFD_ABOVE) {
            self.arm(deadline)?;
            left = None;
        } else if self.armed.is_some() {
            self.arm(None)?;
        }
        let timeout = left.map(|l| libc::timespec {
            tv_sec: l.as_secs() as libc::time_t,
            tv_nsec: l.subsec_nanos() as libc::c_long,
        });
        let n = if self.pwait2 {
            let ts = timeout.as_ref().map_or(std::ptr::null(), |t| t as *const _);
            // SAFETY: the buffer holds `len` events and outlives the call; `ts`
            // is null or points at a live timespec.
            let n = unsafe {
                libc::epoll_pwait2(
                    self.ep.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    self.events.len() as i32,
                    ts,
                    std::ptr::null(),
                )
            };
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                // Kernels before 5.11: millisecond timeouts, rounded up.
                self.pwait2 = false;
                return Ok(());
            }
            n
        } else {
            let ms = left.map_or(-1, |l| {
                let ms = l.as_nanos().div_ceil(1_000_000);
                i32::try_from(ms).unwrap_or(i32::MAX)
            });
            // SAFETY: the buffer holds `len` events and outlives the call.
            unsafe {
                libc::epoll_wait(
                    self.ep.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    self.events.len() as i32,
                    ms,
                )
            }
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(e)
            };
        }
        let mut timer_fired = false;
        for ev in &self.events[..n as usize] {
            if ev.u64 == TIMER_TOKEN {
                timer_fired = true;
            } else {
                on(ev.u64);
            }
        }
        if timer_fired {
            self.drain_timer();
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
    /// Sync group: hold the instance (a due takeover only signals a wish).
    SetHold(bool),
    /// Sync group: another member lost its election; step down with priority 0.
    StepDown,
    /// Sync group: another member is in Fault.
    SetGroupFault(bool),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times_out_at_the_deadline_not_before() {
        let mut p = Poller::new().unwrap();
        let c = Control::new().unwrap();
        p.add(c.raw_fd(), 7).unwrap();
        let start = Instant::now();
        let deadline = start + Duration::from_millis(15);
        let mut woke = Vec::new();
        while Instant::now() < deadline {
            p.wait(Some(deadline), |t| woke.push(t)).unwrap();
        }
        let took = start.elapsed();
        assert!(woke.is_empty(), "nothing was ready: {woke:?}");
        assert!(took >= Duration::from_millis(15), "{took:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
    }

    #[test]
    fn a_far_deadline_uses_the_timerfd_and_wakes_on_time() {
        let mut p = Poller::new().unwrap();
        let start = Instant::now();
        let deadline = start + TIMERFD_ABOVE + Duration::from_millis(30);
        let mut woke = Vec::new();
        while Instant::now() < deadline {
            p.wait(Some(deadline), |t| woke.push(t)).unwrap();
        }
        assert!(woke.is_empty(), "the timer's token is internal: {woke:?}");
        assert!(p.armed.is_none(), "a fired timer is drained");
        // Drained: a short wait now times out instead of spinning on it.
        let again = Instant::now() + Duration::from_millis(5);
        p.wait(Some(again), |t| woke.push(t)).unwrap();
        assert!(woke.is_empty());
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1000), "{took:?}");
    }

    #[test]
    fn control_wakes_the_poller_and_carries_commands_and_stop() {
        let mut p = Poller::new().unwrap();
        let c = Control::new().unwrap();
        p.add(c.raw_fd(), 3).unwrap();
        c.send(Command::SetPriority(42));
        let mut woke = Vec::new();
        p.wait(Some(Instant::now() + Duration::from_secs(5)), |t| {
            woke.push(t)
        })
        .unwrap();
        assert_eq!(woke, vec![3]);
        let mut cmds = Vec::new();
        assert!(!c.take(&mut cmds));
        assert_eq!(cmds, vec![Command::SetPriority(42)]);
        // Level-triggered: once taken, the eventfd no longer wakes us.
        woke.clear();
        p.wait(Some(Instant::now() + Duration::from_millis(10)), |t| {
            woke.push(t)
        })
        .unwrap();
        assert!(woke.is_empty());
        c.stop();
        assert!(c.take(&mut cmds) && c.stopping());
    }
}
