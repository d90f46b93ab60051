//! The failover benchmark's harness itself, run once per implementation at
//! 10 ms adverts: it must measure what the RFC timers predict, so the
//! numbers in BENCHMARKS.md can be trusted (and the harness does not rot).

use std::time::Duration;

use belay_tests::failover::{BACKUP_PRIORITY, Impl, MODES, Sample, run_failover};
use belay_tests::require_root;

/// Master_Down_Interval of the backup at `advert`.
fn master_down(advert: Duration) -> Duration {
    advert * 3 + advert * (256 - u32::from(BACKUP_PRIORITY)) / 256
}

fn check(imp: Impl, s: &Sample) {
    let mode = MODES[2];
    let md = master_down(mode.advert).as_secs_f64() * 1e3;
    let adv = mode.advert.as_secs_f64() * 1e3;
    let skew = md - 3.0 * adv;
    // Scheduling on a loaded 2-core machine adds milliseconds; the RFC
    // bounds are what the harness must see.
    let slack = 25.0;
    let ctx = format!("{}: {s:?}", imp.name());
    // A kill lands somewhere in the advert interval: takeover is
    // master-down minus that phase.
    assert!(
        s.kill9_takeover_ms >= md - adv - 1.0 && s.kill9_takeover_ms <= md + slack,
        "kill -9 takeover outside [{:.1}, {:.1}] ms; {ctx}",
        md - adv,
        md + slack
    );
    let after_advert = s.kill9_after_last_advert_ms.expect("adverts were sniffed");
    assert!(
        after_advert >= md - 1.0 && after_advert <= md + slack,
        "last advert → takeover should be ≈ master-down {md:.1} ms; {ctx}"
    );
    // Lost probes ≈ takeover in ms at one probe per ms.
    let lost = s.kill9_lost as f64;
    assert!(
        (lost - s.kill9_takeover_ms).abs() <= 5.0 + 0.05 * s.kill9_takeover_ms,
        "lost probes {lost} do not match a {:.1} ms outage; {ctx}",
        s.kill9_takeover_ms
    );
    // Priority 0: the backup waits only its skew time.
    assert!(
        s.term_handover_ms >= skew - 1.0 && s.term_handover_ms <= skew + slack,
        "SIGTERM handover should be ≈ skew time {skew:.1} ms; {ctx}"
    );
    assert!(
        s.preempt_lost <= 5,
        "preemption back lost {} probes; {ctx}",
        s.preempt_lost
    );
}

/// Runs the scenario until the instrument itself was healthy (no probe gap
/// over 5 ms: on this shared VM a stolen time slice stalls every process,
/// the prober included, and such a sample says nothing about the harness).
fn healthy_sample(imp: Impl) -> Sample {
    let mut last = None;
    for _ in 0..3 {
        let s = run_failover(imp, &MODES[2]);
        if s.max_probe_gap_ms <= 5.0 {
            return s;
        }
        eprintln!("{}: instrument stalled, retrying: {s:?}", imp.name());
        last = Some(s);
    }
    last.expect("at least one run")
}

#[test]
fn harness_measures_keepalived_as_the_rfc_predicts() {
    if !require_root("harness_measures_keepalived_as_the_rfc_predicts") {
        return;
    }
    check(Impl::Keepalived, &healthy_sample(Impl::Keepalived));
}

#[test]
fn harness_measures_belay_as_the_rfc_predicts() {
    if !require_root("harness_measures_belay_as_the_rfc_predicts") {
        return;
    }
    check(Impl::Belay, &healthy_sample(Impl::Belay));
}
