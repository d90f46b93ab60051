//! The instance's one timer, as a `timerfd` on the monotonic clock.
//!
//! It fires at the nanosecond deadline (a runtime's timer wheel rounds to the
//! millisecond: 10 % jitter at 10 ms adverts) and is one more fd in the
//! driver's poll set.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// A one-shot timer that can be re-armed to any instant.
pub struct Timer {
    fd: OwnedFd,
    armed: Option<Instant>,
}

impl Timer {
    /// A disarmed, non-blocking timer.
    pub fn new() -> io::Result<Timer> {
        // SAFETY: plain timerfd_create(2); the fd is owned right after.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(Timer { fd, armed: None })
    }

    /// The deadline the timer is set to.
    pub fn armed(&self) -> Option<Instant> {
        self.armed
    }

    /// Arms the timer for `deadline` (in the past: fires at once), or
    /// disarms it with `None`. A no-op when nothing changes.
    pub fn set(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        if deadline == self.armed {
            return Ok(());
        }
        let value = match deadline {
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            Some(d) => {
                // std's Instant is CLOCK_MONOTONIC on Linux, but opaque: go
                // through the distance from now.
                let now = Instant::now();
                let mono = monotonic_now()?;
                let delta = d.saturating_duration_since(now);
                // 0 would disarm: a past deadline fires after 1 ns instead.
                let total = mono.as_nanos() + delta.as_nanos().max(1);
                libc::timespec {
                    tv_sec: (total / 1_000_000_000) as libc::time_t,
                    tv_nsec: (total % 1_000_000_000) as libc::c_long,
                }
            }
        };
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: value,
        };
        // SAFETY: valid fd and a fully initialised itimerspec.
        let rc = unsafe {
            libc::timerfd_settime(
                self.fd.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        self.armed = deadline;
        Ok(())
    }

    /// The fd to wait on (readable: the deadline passed).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Consumes an expiry; true if the timer had fired (it is then disarmed).
    pub fn consume(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 8];
        // SAFETY: reads at most 8 bytes into a live 8-byte buffer.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
                _ => Err(e),
            };
        }
        self.armed = None;
        Ok(true)
    }
}

fn monotonic_now() -> io::Result<std::time::Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes into a live timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(std::time::Duration::new(
        ts.tv_sec as u64,
        ts.tv_nsec as u32,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Waits up to `ms` for the timer's fd to become readable.
    fn fired_within(t: &Timer, ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: t.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) == 1 }
    }

    #[test]
    fn fires_at_the_deadline_not_before() {
        let mut t = Timer::new().unwrap();
        let start = Instant::now();
        t.set(Some(start + Duration::from_millis(15))).unwrap();
        assert!(fired_within(&t, 1000));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(15), "fired early: {took:?}");
        assert!(t.consume().unwrap());
        assert_eq!(t.armed(), None);
        assert!(!t.consume().unwrap(), "a second consume finds nothing");
    }

    #[test]
    fn a_past_deadline_fires_at_once_and_disarming_stops_it() {
        let mut t = Timer::new().unwrap();
        t.set(Some(Instant::now() + Duration::from_secs(60)))
            .unwrap();
        assert!(!fired_within(&t, 5));
        t.set(Some(Instant::now() - Duration::from_millis(1)))
            .unwrap();
        assert!(fired_within(&t, 1000), "a past deadline must fire");
        assert!(t.consume().unwrap());
        t.set(Some(Instant::now() + Duration::from_millis(10)))
            .unwrap();
        t.set(None).unwrap();
        assert!(!fired_within(&t, 30), "a disarmed timer fired");
    }
}
