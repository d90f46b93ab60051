//! The failover benchmark's harness itself, run once per implementation at
//! 10 ms adverts: it must measure what the RFC timers predict, so the
//! numbers in BENCHMARKS.md can be trusted (and the harness does not rot).

use std::time::Duration;

use belay_tests::failover::{
    BACKUP_PRIORITY, DeathSample, HEALTH_MASTER_PRIORITY, HEALTH_WEIGHT, HealthSpec, Impl, MODES,
    Sample, run_failover, run_service_death,
};
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
    unstalled(
        imp,
        |s: &Sample| s.max_probe_gap_ms,
        || run_failover(imp, &MODES[2]),
    )
}

/// Runs a scenario up to 3 times until the prober's longest gap is ≤ 5 ms.
fn unstalled<S: std::fmt::Debug>(imp: Impl, gap: impl Fn(&S) -> f64, run: impl Fn() -> S) -> S {
    let mut last = None;
    for _ in 0..3 {
        let s = run();
        if gap(&s) <= 5.0 {
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

/// The service-death scenario at 10 ms adverts, against what the RFC and the
/// check configuration predict for each implementation.
fn check_death(imp: Impl, s: &DeathSample) {
    let adv = MODES[2].advert.as_secs_f64() * 1e3;
    let md = master_down(MODES[2].advert).as_secs_f64() * 1e3;
    let skew = md - 3.0 * adv;
    let h = HealthSpec::bench();
    let slack = 25.0;
    let ctx = format!("{}: {s:?}", imp.name());
    let lowered_at = s
        .lowered_advert_ms
        .expect("r1 lowered its priority on the wire");
    let after_lowered = s.takeover_ms - lowered_at;
    match imp {
        Impl::Belay => {
            // Resigns: priority 0 within one check interval (a refused
            // connection fails at once), then the backup waits its skew time.
            assert_eq!(s.lowered_advert_priority, Some(0), "{ctx}");
            let detect = h.interval.as_secs_f64() * 1e3 * f64::from(h.fall);
            assert!(
                lowered_at <= detect + slack,
                "detection beyond {detect} ms; {ctx}"
            );
            assert!(
                after_lowered >= skew - 1.0 && after_lowered <= skew + slack,
                "priority 0 → takeover should be ≈ skew time {skew:.1} ms; {ctx}"
            );
        }
        Impl::Keepalived => {
            // Lowers its priority (150 − 60) and keeps advertising; the
            // backup ignores lower-priority adverts (preempt) and takes over
            // a master-down interval after the last full-priority one.
            let low = (i32::from(HEALTH_MASTER_PRIORITY) + HEALTH_WEIGHT) as u8;
            assert_eq!(s.lowered_advert_priority, Some(low), "{ctx}");
            let detect = h.keepalived_interval_s() as f64 * 1e3 + adv;
            assert!(
                lowered_at <= detect + slack,
                "detection beyond {detect} ms; {ctx}"
            );
            assert!(
                after_lowered >= md - adv - 1.0 && after_lowered <= md + slack,
                "lowered advert → takeover should be ≈ master-down {md:.1} ms; {ctx}"
            );
        }
    }
    let lost = s.lost as f64;
    assert!(
        (lost - s.takeover_ms).abs() <= 5.0 + 0.05 * s.takeover_ms,
        "lost probes {lost} do not match a {:.1} ms outage; {ctx}",
        s.takeover_ms
    );
}

fn healthy_death_sample(imp: Impl) -> DeathSample {
    unstalled(
        imp,
        |s: &DeathSample| s.max_probe_gap_ms,
        || run_service_death([imp, imp], &MODES[2]),
    )
}

#[test]
fn harness_measures_service_death_keepalived_as_predicted() {
    if !require_root("harness_measures_service_death_keepalived_as_predicted") {
        return;
    }
    check_death(Impl::Keepalived, &healthy_death_sample(Impl::Keepalived));
}

#[test]
fn harness_measures_service_death_belay_as_predicted() {
    if !require_root("harness_measures_service_death_belay_as_predicted") {
        return;
    }
    check_death(Impl::Belay, &healthy_death_sample(Impl::Belay));
}
