//! Runs every check on its own schedule and publishes what it learns.
//!
//! One tokio task per check: wait for the next tick, run one attempt (a try
//! plus up to `retry` retries), feed the result to rise/fall, publish. Ticks
//! are fixed-rate from a start time spread over the warmup window (so 10,000
//! checks don't fire in the same millisecond); an attempt that overruns its
//! interval pushes the next tick out instead of causing a burst.
//!
//! Consumers (VRRP tracker, IPVS reconciler, status) either subscribe to
//! changes — state transitions and dynamic-weight changes, rare — or to every
//! report. A consumer that lags behind the broadcast re-reads `statuses()`.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::rise_fall::{CheckState, RiseFall};
use super::{Probe, Report};
use crate::config::CheckConfig;

/// Slack past `timeout` before the scheduler gives up on a probe that did not
/// bound itself (the runtime should always return first).
const BACKSTOP_GRACE: Duration = Duration::from_millis(25);
const CHANGES_CAPACITY: usize = 4096;
const REPORTS_CAPACITY: usize = 16384;

/// When and how often a check runs, and how results turn into a state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub retry: u32,
    pub delay_before_retry: Duration,
    /// First runs are spread over `[0, warmup)`; zero starts at once.
    pub warmup: Duration,
}

impl Schedule {
    pub fn from_config(c: &CheckConfig) -> Schedule {
        Schedule {
            interval: c.interval.get(),
            timeout: c.timeout.get(),
            rise: c.rise,
            fall: c.fall,
            retry: c.retry,
            delay_before_retry: c.delay_before_retry.get(),
            warmup: c.warmup.unwrap_or(c.interval).get(),
        }
    }
}

/// The latest known condition of one check.
#[derive(Debug, Clone)]
pub struct CheckStatus {
    pub name: Arc<str>,
    pub state: CheckState,
    pub last_report: Option<Arc<Report>>,
    /// Attempts completed (an attempt includes its retries).
    pub attempts: u64,
    pub failed_attempts: u64,
    pub last_attempt: Option<Instant>,
    pub last_change: Option<Instant>,
}

/// A change worth acting on.
#[derive(Debug, Clone)]
pub enum CheckEvent {
    /// The state changed, or the plugin's dynamic weight did.
    Changed {
        name: Arc<str>,
        from: CheckState,
        to: CheckState,
        weight: Option<i32>,
        report: Arc<Report>,
    },
    /// The check no longer runs (removed from config, or its plugin was removed).
    Removed { name: Arc<str> },
}

impl CheckEvent {
    pub fn name(&self) -> &Arc<str> {
        match self {
            CheckEvent::Changed { name, .. } | CheckEvent::Removed { name } => name,
        }
    }
}

/// Every completed attempt, for status, metrics and tests.
#[derive(Debug, Clone)]
pub struct ReportEvent {
    pub name: Arc<str>,
    pub state: CheckState,
    pub report: Arc<Report>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("check `{0}` is already scheduled")]
    Duplicate(String),
}

/// Handle to the running checks; cheap to clone. Checks stop when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

struct Shared {
    checks: Mutex<HashMap<Arc<str>, Running>>,
    changes: broadcast::Sender<CheckEvent>,
    reports: broadcast::Sender<ReportEvent>,
}

struct Running {
    task: JoinHandle<()>,
    status: watch::Receiver<CheckStatus>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let checks = self
            .checks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, running) in checks.drain() {
            running.task.abort();
        }
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler {
            shared: Arc::new(Shared {
                checks: Mutex::new(HashMap::new()),
                changes: broadcast::channel(CHANGES_CAPACITY).0,
                reports: broadcast::channel(REPORTS_CAPACITY).0,
            }),
        }
    }

    /// Starts running a check. Must be called inside a tokio runtime.
    pub fn add(
        &self,
        name: &str,
        schedule: Schedule,
        probe: Arc<dyn Probe>,
    ) -> Result<(), SchedulerError> {
        let mut checks = self.lock();
        if checks.contains_key(name) {
            return Err(SchedulerError::Duplicate(name.to_owned()));
        }
        let name: Arc<str> = Arc::from(name);
        let (status_tx, status_rx) = watch::channel(CheckStatus {
            name: name.clone(),
            state: CheckState::Unknown,
            last_report: None,
            attempts: 0,
            failed_attempts: 0,
            last_attempt: None,
            last_change: None,
        });
        let first = Instant::now() + spread_offset(&name, schedule.warmup);
        let task = tokio::spawn(run_check(CheckTask {
            name: name.clone(),
            schedule,
            probe,
            status: status_tx,
            changes: self.shared.changes.clone(),
            reports: self.shared.reports.clone(),
            first,
        }));
        checks.insert(
            name,
            Running {
                task,
                status: status_rx,
            },
        );
        Ok(())
    }

    /// Stops a check (an attempt in flight is dropped) and announces it.
    /// Returns false when no such check ran.
    pub fn remove(&self, name: &str) -> bool {
        let Some(running) = self.lock().remove(name) else {
            return false;
        };
        running.task.abort();
        let _ = self.shared.changes.send(CheckEvent::Removed {
            name: running.status.borrow().name.clone(),
        });
        true
    }

    /// State changes and dynamic-weight changes of every check.
    pub fn subscribe(&self) -> broadcast::Receiver<CheckEvent> {
        self.shared.changes.subscribe()
    }

    /// Every completed attempt of every check.
    pub fn subscribe_reports(&self) -> broadcast::Receiver<ReportEvent> {
        self.shared.reports.subscribe()
    }

    /// A watch on one check's status (follows every attempt).
    pub fn watch(&self, name: &str) -> Option<watch::Receiver<CheckStatus>> {
        self.lock().get(name).map(|r| r.status.clone())
    }

    pub fn status(&self, name: &str) -> Option<CheckStatus> {
        self.lock().get(name).map(|r| r.status.borrow().clone())
    }

    /// Status of every check, sorted by name.
    pub fn statuses(&self) -> Vec<CheckStatus> {
        let mut all: Vec<CheckStatus> = self
            .lock()
            .values()
            .map(|r| r.status.borrow().clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Running>> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (each operation is a single insert/remove), so poisoning is ignored.
        self.shared
            .checks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stable offset in `[0, window)` derived from the name, so restarts keep
/// the same spread and tests are deterministic.
fn spread_offset(name: &str, window: Duration) -> Duration {
    let window_ns = window.as_nanos() as u64;
    if window_ns == 0 {
        return Duration::ZERO;
    }
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    Duration::from_nanos(h.finish() % window_ns)
}

struct CheckTask {
    name: Arc<str>,
    schedule: Schedule,
    probe: Arc<dyn Probe>,
    status: watch::Sender<CheckStatus>,
    changes: broadcast::Sender<CheckEvent>,
    reports: broadcast::Sender<ReportEvent>,
    first: Instant,
}

async fn run_check(task: CheckTask) {
    let CheckTask {
        name,
        schedule,
        probe,
        status,
        changes,
        reports,
        first,
    } = task;
    let mut rise_fall = RiseFall::new(schedule.rise, schedule.fall);
    let mut last_weight: Option<i32> = None;
    let mut next = first;
    loop {
        tokio::time::sleep_until(next).await;
        let report = Arc::new(attempt(&*probe, &schedule, rise_fall.state()).await);
        let now = Instant::now();
        let from = rise_fall.state();
        let changed_state = rise_fall.observe(report.health.is_healthy()).is_some();
        let to = rise_fall.state();
        let changed_weight = report.weight != last_weight;
        last_weight = report.weight;

        status.send_modify(|s| {
            s.state = to;
            s.attempts += 1;
            s.failed_attempts += u64::from(!report.health.is_healthy());
            s.last_attempt = Some(now);
            if changed_state {
                s.last_change = Some(now);
            }
            s.last_report = Some(report.clone());
        });
        if changed_state {
            log_change(&name, from, to, &report);
        }
        if changed_state || changed_weight {
            let _ = changes.send(CheckEvent::Changed {
                name: name.clone(),
                from,
                to,
                weight: report.weight,
                report: report.clone(),
            });
        }
        let _ = reports.send(ReportEvent {
            name: name.clone(),
            state: to,
            report,
        });

        next += schedule.interval;
        if next <= now {
            // Overran the interval: start again one interval from now rather
            // than firing the missed ticks back to back.
            next = now + schedule.interval;
        }
    }
}

/// One attempt: a try, plus retries while a failure would count against an
/// up (or not yet known) check.
async fn attempt(probe: &dyn Probe, schedule: &Schedule, state: CheckState) -> Report {
    let mut retries_left = schedule.retry;
    loop {
        let report = bounded_try(probe, schedule.timeout).await;
        if report.health.is_healthy() || state == CheckState::Down || retries_left == 0 {
            return report;
        }
        retries_left -= 1;
        debug!(reason = ?report.health, retries_left, "check failed, retrying");
        tokio::time::sleep(schedule.delay_before_retry).await;
    }
}

async fn bounded_try(probe: &dyn Probe, timeout: Duration) -> Report {
    let started = Instant::now();
    match tokio::time::timeout(timeout + BACKSTOP_GRACE, probe.probe(timeout)).await {
        Ok(report) => report,
        Err(_) => Report::failed(format!("timeout after {timeout:?}"), started.elapsed()),
    }
}

fn log_change(name: &str, from: CheckState, to: CheckState, report: &Report) {
    match &report.health {
        super::Health::Healthy => info!(check = name, %from, %to, "check is up"),
        super::Health::Unhealthy(reason) => {
            warn!(check = name, %from, %to, reason = reason.as_str(), "check is down")
        }
    }
}

#[cfg(test)]
mod tests;
