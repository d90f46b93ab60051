//! A runaway plugin (an infinite loop) must be cut off at its timeout while
//! other checks keep their schedule. Alone in its own test binary: it measures
//! scheduling, which other tests in the same process would disturb.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use belay::check::{Limits, Probe};
use belay_tests::checks::{CheckLab, assert_healthy, reason};
use belay_tests::{TestServer, build_test_plugin, build_versioned_plugin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out_while_other_checks_stay_on_schedule() {
    let lab = CheckLab::new();
    lab.load("loop", &build_test_plugin("loop-forever"));
    lab.load("ok", &build_versioned_plugin("v1"));
    let server = TestServer::accept_close();

    // A healthy check every 10 ms for the whole test, like a scheduler would.
    let stop = Arc::new(AtomicBool::new(false));
    let healthy_probe = Arc::new(lab.probe(lab.spec("ok", &server.target(), &[])));
    let ticker = {
        let (stop, probe) = (stop.clone(), healthy_probe.clone());
        tokio::spawn(async move {
            let mut done = Vec::new();
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                interval.tick().await;
                let r = probe.probe(Duration::from_secs(1)).await;
                done.push((Instant::now(), r));
            }
            done
        })
    };
    // Warm up, then start more loopers than there are worker threads.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let timeout = Duration::from_millis(300);
    let started = Instant::now();
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let mut spec = lab.spec("loop", &server.target(), &[]);
            spec.limits = Limits {
                cpu: timeout,
                ..spec.limits
            };
            let probe = lab.probe(spec);
            tokio::spawn(async move { probe.probe(timeout).await })
        })
        .collect();
    for l in loops {
        let r = l.await.expect("loop task");
        assert!(reason(&r).contains("timeout"), "{r:?}");
        assert!(
            r.latency <= timeout + Duration::from_millis(50),
            "reported after {:?}, limit {:?}",
            r.latency,
            timeout + Duration::from_millis(50)
        );
    }
    let loops_done = Instant::now();
    assert!(loops_done - started <= timeout + Duration::from_millis(100));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let done = ticker.await.expect("ticker task");

    // While the loops spun, the healthy check kept its 10 ms schedule.
    let during: Vec<_> = done
        .iter()
        .filter(|(t, _)| *t >= started && *t <= loops_done)
        .collect();
    for (_, r) in &during {
        assert_healthy(r);
    }
    let expected = (loops_done - started).as_millis() as usize / 10;
    assert!(
        during.len() * 2 >= expected,
        "only {} healthy checks completed in {:?} (schedule: {expected})",
        during.len(),
        loops_done - started
    );
    let max_gap = during
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    assert!(
        max_gap < Duration::from_millis(100),
        "a healthy check waited {max_gap:?} behind the loops"
    );
}
