//! The instance's one timer, as a `timerfd` on the monotonic clock.
//!
//! tokio's timer wheel rounds deadlines up to the millisecond and wakes its
//! driver through an eventfd whenever a timer is re-armed, i.e. twice per
//! advert; at 10 ms adverts both the jitter (10 %) and the wake-ups show. A
//! timerfd fires at the nanosecond deadline and costs one read to consume.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// A one-shot timer that can be re-armed to any instant.
pub struct Timer {
    fd: AsyncFd<OwnedFd>,
    armed: Option<Instant>,
}

impl Timer {
    /// Must run inside a tokio runtime (the fd is registered with its reactor).
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
        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the OwnedFd keeps the fd open until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register_with_interest(owned, Interest::READABLE)? };
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
                self.fd.get_ref().as_raw_fd(),
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

    /// Waits until the armed deadline passes (forever when disarmed); the
    /// timer is disarmed once it fired.
    pub async fn wait(&mut self) -> io::Result<()> {
        if self.armed.is_none() {
            return std::future::pending().await;
        }
        loop {
            let mut guard = self.fd.readable().await?;
            let mut buf = [0u8; 8];
            match guard.try_io(|fd| {
                // SAFETY: reads 8 bytes into a live 8-byte buffer.
                let n = unsafe { libc::read(fd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }) {
                Ok(Ok(())) => {
                    // One read drains every expiration: no need to read again
                    // just to learn it would block.
                    guard.clear_ready();
                    self.armed = None;
                    return Ok(());
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
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

    #[tokio::test]
    async fn fires_at_the_deadline_not_before() {
        let mut t = Timer::new().unwrap();
        let start = Instant::now();
        t.set(Some(start + Duration::from_millis(15))).unwrap();
        t.wait().await.unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(15), "fired early: {took:?}");
        assert!(took < Duration::from_millis(500), "fired late: {took:?}");
    }

    #[tokio::test]
    async fn a_past_deadline_fires_at_once_and_rearming_moves_it() {
        let mut t = Timer::new().unwrap();
        t.set(Some(Instant::now() + Duration::from_secs(60)))
            .unwrap();
        t.set(Some(Instant::now() - Duration::from_millis(1)))
            .unwrap();
        tokio::time::timeout(Duration::from_secs(1), t.wait())
            .await
            .expect("a past deadline must fire")
            .unwrap();
        t.set(None).unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(30), t.wait())
                .await
                .is_err(),
            "a disarmed timer fired"
        );
    }
}
