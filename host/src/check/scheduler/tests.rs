//! Scheduler semantics on tokio's paused clock: exact tick times, retries,
//! rise/fall events, timeouts and overruns. The probe here is scripted on
//! purpose — what is under test is the schedule, not a plugin.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::check::{Health, Probe, Report};

#[derive(Clone, Debug)]
enum Step {
    Ok,
    Fail,
    Hang,
    Weight(i32),
    Take(Duration, bool),
}

struct Scripted {
    steps: Mutex<VecDeque<Step>>,
    then: Step,
    calls: Mutex<Vec<Instant>>,
}

impl Scripted {
    fn new(steps: &[Step], then: Step) -> Arc<Scripted> {
        Arc::new(Scripted {
            steps: Mutex::new(steps.iter().cloned().collect()),
            then,
            calls: Mutex::new(Vec::new()),
        })
    }

    /// Call times in ms since `t0`.
    fn call_ms(&self, t0: Instant) -> Vec<u64> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|t| (*t - t0).as_millis() as u64)
            .collect()
    }
}

fn healthy(weight: Option<i32>) -> Report {
    Report {
        health: Health::Healthy,
        weight,
        metrics: Vec::new(),
        message: None,
        latency: Duration::ZERO,
    }
}

impl Probe for Scripted {
    fn probe(&self, _timeout: Duration) -> Pin<Box<dyn Future<Output = Report> + Send + '_>> {
        self.calls.lock().unwrap().push(Instant::now());
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| self.then.clone());
        Box::pin(async move {
            match step {
                Step::Ok => healthy(None),
                Step::Fail => Report::failed("scripted failure", Duration::ZERO),
                Step::Hang => std::future::pending().await,
                Step::Weight(w) => healthy(Some(w)),
                Step::Take(d, ok) => {
                    tokio::time::sleep(d).await;
                    if ok {
                        healthy(None)
                    } else {
                        Report::failed("slow failure", d)
                    }
                }
            }
        })
    }
}

fn schedule(interval_ms: u64) -> Schedule {
    Schedule {
        interval: Duration::from_millis(interval_ms),
        timeout: Duration::from_millis(50),
        rise: 1,
        fall: 1,
        retry: 0,
        delay_before_retry: Duration::from_millis(30),
        warmup: Duration::ZERO,
    }
}

/// Lets the paused clock run `ms` milliseconds of check activity.
async fn run_for(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn drain(rx: &mut broadcast::Receiver<CheckEvent>) -> Vec<(CheckState, CheckState, Option<i32>)> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        if let CheckEvent::Changed {
            from, to, weight, ..
        } = ev
        {
            out.push((from, to, weight));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn ticks_are_fixed_rate() {
    let s = Scheduler::new();
    let p = Scripted::new(&[], Step::Take(Duration::from_millis(7), true));
    let t0 = Instant::now();
    s.add("c", schedule(100), p.clone()).unwrap();
    run_for(450).await;
    // A 7 ms attempt does not push the schedule: ticks stay on the 100 ms grid.
    assert_eq!(p.call_ms(t0), vec![0, 100, 200, 300, 400]);
}

/// retry, steps, expected call times in ms, expected state, attempts, failed attempts.
type RetryCase = (u32, &'static [Step], &'static [u64], CheckState, u64, u64);

#[tokio::test(start_paused = true)]
async fn retry_table() {
    use CheckState::{Down, Up};
    use Step::{Fail, Ok};
    let cases: &[RetryCase] = &[
        // Two failures then a success within one attempt: healthy, no failed attempt.
        (2, &[Fail, Fail, Ok], &[0, 30, 60, 100], Up, 2, 0),
        // Retries exhausted: the attempt fails (first result decides: down);
        // the next tick is not retried because the check is already down.
        (1, &[Fail, Fail, Fail], &[0, 30, 100], Down, 2, 2),
        // While down, a failure is not retried (it cannot change anything).
        (
            3,
            &[Fail, Fail, Fail, Fail, Fail],
            &[0, 30, 60, 90, 100],
            Down,
            2,
            2,
        ),
        // No retry configured: one try per tick.
        (0, &[Fail, Ok], &[0, 100], Up, 2, 1),
    ];
    for (retry, steps, calls, state, attempts, failed) in cases {
        let s = Scheduler::new();
        let p = Scripted::new(steps, Ok);
        let mut sch = schedule(100);
        sch.retry = *retry;
        let t0 = Instant::now();
        s.add("c", sch, p.clone()).unwrap();
        let ticks = calls.len() as u64;
        run_for(calls[calls.len() - 1] + 1).await;
        let st = s.status("c").unwrap();
        assert_eq!(p.call_ms(t0), *calls, "retry={retry} steps={steps:?}");
        assert_eq!(st.state, *state, "retry={retry} steps={steps:?}");
        assert_eq!(
            (st.attempts, st.failed_attempts),
            (*attempts, *failed),
            "retry={retry} steps={steps:?} ({ticks} calls)"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn rise_fall_transitions_are_published_once() {
    use CheckState::{Down, Unknown, Up};
    use Step::{Fail, Ok};
    let s = Scheduler::new();
    let mut rx = s.subscribe();
    let p = Scripted::new(&[Ok, Fail, Ok, Fail, Fail, Fail, Ok, Ok], Ok);
    let mut sch = schedule(100);
    sch.rise = 2;
    sch.fall = 2;
    s.add("c", sch, p).unwrap();
    run_for(850).await;
    assert_eq!(
        drain(&mut rx),
        vec![(Unknown, Up, None), (Up, Down, None), (Down, Up, None)]
    );
    let st = s.status("c").unwrap();
    // Down at tick 4 (second consecutive failure), up at tick 7 (second success).
    assert_eq!(st.state, Up);
    assert_eq!(st.attempts, 9);
}

#[tokio::test(start_paused = true)]
async fn a_hung_probe_times_out_and_the_schedule_goes_on() {
    let s = Scheduler::new();
    let mut reports = s.subscribe_reports();
    let p = Scripted::new(&[Step::Hang], Step::Ok);
    let t0 = Instant::now();
    s.add("c", schedule(100), p.clone()).unwrap();
    let first = reports.recv().await.unwrap();
    assert_eq!(
        Instant::now() - t0,
        Duration::from_millis(50) + BACKSTOP_GRACE
    );
    match &first.report.health {
        Health::Unhealthy(reason) => assert!(reason.contains("timeout"), "{reason}"),
        h => panic!("expected a timeout, got {h:?}"),
    }
    let second = reports.recv().await.unwrap();
    assert!(second.report.health.is_healthy());
    assert_eq!(p.call_ms(t0), vec![0, 100]);
}

#[tokio::test(start_paused = true)]
async fn an_overrun_pushes_the_next_tick_instead_of_bursting() {
    let s = Scheduler::new();
    let p = Scripted::new(&[], Step::Take(Duration::from_millis(250), true));
    let mut sch = schedule(100);
    sch.timeout = Duration::from_millis(400);
    let t0 = Instant::now();
    s.add("c", sch, p.clone()).unwrap();
    run_for(720).await;
    assert_eq!(p.call_ms(t0), vec![0, 350, 700]);
}

#[tokio::test(start_paused = true)]
async fn dynamic_weight_changes_are_published() {
    use CheckState::{Unknown, Up};
    use Step::Weight;
    let s = Scheduler::new();
    let mut rx = s.subscribe();
    let p = Scripted::new(&[Weight(10), Weight(10), Weight(20)], Step::Weight(20));
    s.add("c", schedule(100), p).unwrap();
    run_for(450).await;
    assert_eq!(
        drain(&mut rx),
        vec![(Unknown, Up, Some(10)), (Up, Up, Some(20))]
    );
}

#[tokio::test(start_paused = true)]
async fn removing_a_check_stops_it_and_announces_it() {
    let s = Scheduler::new();
    let mut rx = s.subscribe();
    let p = Scripted::new(&[], Step::Ok);
    let t0 = Instant::now();
    s.add("c", schedule(100), p.clone()).unwrap();
    run_for(150).await;
    assert!(s.remove("c"));
    assert!(!s.remove("c"));
    run_for(500).await;
    assert_eq!(p.call_ms(t0), vec![0, 100]);
    let events: Vec<CheckEvent> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert!(matches!(events.last(), Some(CheckEvent::Removed { name }) if &**name == "c"));
    assert!(s.is_empty());
}

#[tokio::test(start_paused = true)]
async fn duplicate_names_are_rejected() {
    let s = Scheduler::new();
    s.add("c", schedule(100), Scripted::new(&[], Step::Ok))
        .unwrap();
    let err = s
        .add("c", schedule(100), Scripted::new(&[], Step::Ok))
        .unwrap_err();
    assert_eq!(err.to_string(), "check `c` is already scheduled");
}

#[tokio::test(start_paused = true)]
async fn checks_stop_when_the_scheduler_is_dropped() {
    let s = Scheduler::new();
    let p = Scripted::new(&[], Step::Ok);
    let t0 = Instant::now();
    s.add("c", schedule(100), p.clone()).unwrap();
    run_for(150).await;
    drop(s);
    run_for(500).await;
    assert_eq!(p.call_ms(t0), vec![0, 100]);
}

#[test]
fn start_times_spread_evenly_over_the_warmup_window() {
    let window = Duration::from_secs(1);
    let mut buckets = [0u32; 10];
    for i in 0..10_000 {
        let off = spread_offset(&format!("web{i}"), window);
        assert!(off < window);
        buckets[(off.as_millis() / 100) as usize] += 1;
    }
    for (i, n) in buckets.iter().enumerate() {
        assert!(
            (800..1200).contains(n),
            "bucket {i} has {n} of 10000 starts: {buckets:?}"
        );
    }
    assert_eq!(spread_offset("x", Duration::ZERO), Duration::ZERO);
    assert_eq!(
        spread_offset("x", window),
        spread_offset("x", window),
        "stable across calls"
    );
}
