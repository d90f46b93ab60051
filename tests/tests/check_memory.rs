//! A memory bomb against the real runtime: it must trap at its cap, and the
//! process's RSS must stay bounded and fall back afterwards. Alone in its own
//! test binary, so no other test shares (and disturbs) the measured process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use belay::check::{Limits, Probe};
use belay_tests::checks::{CheckLab, reason};
use belay_tests::{TestServer, build_test_plugin};

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bomb_traps_at_the_cap_and_rss_stays_bounded() {
    const CAP: usize = 32 << 20;
    const CONCURRENT: usize = 4;
    let lab = CheckLab::new();
    lab.load("bomb", &build_test_plugin("memory-bomb"));
    let server = TestServer::accept_close();
    let baseline = rss_bytes();

    // Sample RSS while bombs go off.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_bytes());
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        })
    };
    for _round in 0..3 {
        let bombs: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let mut spec = lab.spec("bomb", &server.target(), &[]);
                spec.limits = Limits {
                    memory: CAP,
                    ..spec.limits
                };
                let probe = lab.probe(spec);
                tokio::spawn(async move { probe.probe(Duration::from_secs(5)).await })
            })
            .collect();
        for b in bombs {
            let r = b.await.expect("bomb task");
            let why = reason(&r);
            assert!(why.starts_with("memory limit exceeded"), "{r:?}");
            assert!(why.contains("cap is 32 MiB"), "{r:?}");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let peak = sampler.join().expect("sampler");
    let after = rss_bytes();
    eprintln!(
        "RSS MiB: baseline {}, peak {}, after {}",
        baseline >> 20,
        peak >> 20,
        after >> 20
    );
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    // At most the caps of the bombs running at once, plus slack for the host.
    let bound = (CONCURRENT * CAP) as u64 + (48 << 20);
    assert!(
        peak.saturating_sub(baseline) <= bound,
        "RSS grew {:.1} MiB at peak (bound {:.1} MiB)",
        mib(peak.saturating_sub(baseline)),
        mib(bound)
    );
    // And the memory is given back once they are gone.
    assert!(
        after.saturating_sub(baseline) <= 24 << 20,
        "RSS still {:.1} MiB above baseline after the bombs",
        mib(after.saturating_sub(baseline))
    );
}
