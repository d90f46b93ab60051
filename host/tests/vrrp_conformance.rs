//! RFC 5798 / RFC 9568 §6.4 conformance of the sans-IO VRRP instance, with a
//! simulated clock in microseconds: events in, actions out, at exact times.
//!
//! Each case is a table: the instance's config, the events at their times,
//! and the complete list of actions expected up to the end time (timers
//! fire as the clock advances, before an event at the same instant). Peer
//! adverts go through the real codec (`to_bytes` + `handle_packet`), so
//! checksums and validation are exercised too.

mod common;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use belay::vrrp::wire::{MULTICAST_V4, MULTICAST_V6};
use belay::vrrp::{
    Action, AdvertInterval, Auth, DropReason, FaultSource, Instance, InstanceConfig, Received,
    Resign, State, StateChangeReason as R, Version, VrrpRepr,
};

const OURS: &str = "192.0.2.5";
const HIGHER_ADDR: &str = "192.0.2.9";
const LOWER_ADDR: &str = "192.0.2.3";
const VIP: &str = "192.0.2.100";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cs(c: u16) -> AdvertInterval {
    AdvertInterval::from_centis(c).unwrap()
}

/// v2, priority 100, 1 s adverts, preempt on: the RFC defaults.
fn v2() -> InstanceConfig {
    InstanceConfig::new("VI_1", 51, Version::V2, ip(OURS), vec![ip(VIP)])
}

fn v3() -> InstanceConfig {
    InstanceConfig::new("VI_1", 51, Version::V3, ip(OURS), vec![ip(VIP)])
}

fn with(mut c: InstanceConfig, f: impl FnOnce(&mut InstanceConfig)) -> InstanceConfig {
    f(&mut c);
    c
}

/// What happens, compactly.
#[derive(Debug, Clone, PartialEq)]
enum Out {
    State(State, State, R),
    Advert(u8),
    Add,
    Remove,
    Announce(u32),
    Want(bool),
}
use Out::*;

#[derive(Debug, Clone)]
enum Ev {
    Startup,
    Shutdown,
    /// A well-formed advert from a peer: (source, priority, interval).
    Advert(&'static str, u8, AdvertInterval),
    /// Raw bytes from a source with a TTL; expect this drop reason.
    Bad(&'static str, u8, Vec<u8>, DropReason),
    SetPriority(u8),
    IfDown,
    IfUp,
    Track(bool),
    /// Sync group: hold / release, step down, a group member's fault.
    Hold(bool),
    StepDown,
    GroupFault(bool),
}

struct Sim {
    inst: Instance,
    t0: Instant,
    trace: Vec<(u64, Out)>,
}

impl Sim {
    fn new(config: InstanceConfig) -> Sim {
        Sim {
            inst: Instance::new(config).expect("valid config"),
            t0: Instant::now(),
            trace: Vec::new(),
        }
    }

    fn us(&self, t: Instant) -> u64 {
        (t - self.t0).as_micros() as u64
    }

    fn drain(&mut self, at: u64) {
        while let Some(a) = self.inst.poll_action() {
            let out = match a {
                Action::StateChange { from, to, reason } => State(from, to, reason),
                Action::SendAdvert(r) => {
                    let c = self.inst.config();
                    assert_eq!(r.vrid, c.vrid);
                    assert_eq!(r.version, c.version);
                    assert_eq!(r.interval, c.advert_interval, "adverts carry our interval");
                    assert_eq!(r.addresses, c.virtual_addresses);
                    assert_eq!(r.auth, c.auth);
                    Advert(r.priority)
                }
                Action::AddAddresses(a) => {
                    assert_eq!(a, self.inst.config().virtual_addresses);
                    Add
                }
                Action::RemoveAddresses(a) => {
                    assert_eq!(a, self.inst.config().virtual_addresses);
                    Remove
                }
                Action::Announce { addresses, repeat } => {
                    assert_eq!(addresses, self.inst.config().virtual_addresses);
                    Announce(repeat)
                }
                Action::WantMaster(w) => Want(w),
            };
            self.trace.push((at, out));
        }
    }

    /// Advances the clock to `us`, firing every timer due on the way.
    fn run_until(&mut self, us: u64) {
        let end = self.t0 + Duration::from_micros(us);
        while let Some(t) = self.inst.poll_timeout() {
            if t > end {
                break;
            }
            self.inst.handle_timeout(t);
            let at = self.us(t);
            self.drain(at);
        }
    }

    fn event(&mut self, us: u64, ev: Ev) {
        self.run_until(us);
        let now = self.t0 + Duration::from_micros(us);
        let version = self.inst.config().version;
        match ev {
            Ev::Startup => self.inst.startup(now),
            Ev::Shutdown => self.inst.shutdown(now),
            Ev::Advert(src, priority, interval) => {
                let bytes = advert(version, priority, interval, src);
                let rx = rx(src, 255);
                self.inst
                    .handle_packet(now, &rx, &bytes)
                    .unwrap_or_else(|r| panic!("advert from {src} dropped at {us}: {r}"));
            }
            Ev::Bad(src, ttl, bytes, reason) => {
                let before = self.inst.counters().drops.get(reason);
                let got = self.inst.handle_packet(now, &rx(src, ttl), &bytes);
                assert_eq!(got, Err(reason), "at {us}");
                assert_eq!(self.inst.counters().drops.get(reason), before + 1);
            }
            Ev::SetPriority(p) => self.inst.set_priority(p, now),
            Ev::IfDown => self.inst.interface_down(now),
            Ev::IfUp => self.inst.interface_up(now),
            Ev::Track(f) => self.inst.set_fault(FaultSource::Tracking, f, now),
            Ev::Hold(h) => self.inst.set_hold(h, now),
            Ev::StepDown => self.inst.step_down(now),
            Ev::GroupFault(f) => self.inst.set_fault(FaultSource::SyncGroup, f, now),
        }
        self.drain(us);
    }
}

fn group(src: IpAddr) -> IpAddr {
    match src {
        IpAddr::V4(_) => IpAddr::V4(MULTICAST_V4),
        IpAddr::V6(_) => IpAddr::V6(MULTICAST_V6),
    }
}

fn rx(src: &str, ttl: u8) -> Received {
    Received {
        src: ip(src),
        dst: group(ip(src)),
        ttl,
    }
}

fn advert_repr(version: Version, priority: u8, interval: AdvertInterval) -> VrrpRepr {
    VrrpRepr {
        version,
        vrid: 51,
        priority,
        interval,
        auth: Auth::None,
        addresses: vec![ip(VIP)],
    }
}

fn advert(version: Version, priority: u8, interval: AdvertInterval, src: &str) -> Vec<u8> {
    advert_repr(version, priority, interval)
        .to_bytes(ip(src), group(ip(src)))
        .unwrap()
}

struct Case {
    config: InstanceConfig,
    events: Vec<(u64, Ev)>,
    until: u64,
    expect: Vec<(u64, Out)>,
}

fn run(name: &str, case: Case) -> Sim {
    let mut sim = Sim::new(case.config);
    for (at, ev) in case.events {
        sim.event(at, ev);
    }
    sim.run_until(case.until);
    if sim.trace != case.expect {
        let show = |t: &[(u64, Out)]| {
            t.iter()
                .map(|(at, o)| format!("  {at:>10} µs  {o:?}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{name}: actions differ\nexpected:\n{}\ngot:\n{}",
            show(&case.expect),
            show(&sim.trace)
        );
    }
    sim
}

/// One `#[test]` per row of the table.
macro_rules! conformance {
    ($($name:ident => $case:expr;)*) => {
        $( #[test] fn $name() { run(stringify!($name), $case); } )*
    };
}

// v2, priority 100: Skew_Time = 156/256 s; Master_Down_Interval = 3.609375 s.
const SKEW_100: u64 = 609_375;
const MDI_100: u64 = 3_000_000 + SKEW_100;
const S: u64 = 1_000_000;

/// Becoming master: the state, the VIPs, an advert, then the GARP burst.
fn master_burst(at: u64, from: State, reason: R, prio: u8) -> Vec<(u64, Out)> {
    vec![
        (at, State(from, State::Master, reason)),
        (at, Add),
        (at, Advert(prio)),
        (at, Announce(5)),
    ]
}

fn cat(parts: Vec<Vec<(u64, Out)>>) -> Vec<(u64, Out)> {
    parts.into_iter().flatten().collect()
}

fn adverts(prio: u8, times: impl IntoIterator<Item = u64>) -> Vec<(u64, Out)> {
    times.into_iter().map(|t| (t, Advert(prio))).collect()
}

fn backup_then_master_at(at: u64) -> Vec<(u64, Out)> {
    cat(vec![
        vec![(0, State(State::Initialize, State::Backup, R::Startup))],
        master_burst(at, State::Backup, R::MasterDown, 100),
    ])
}

conformance! {
    // §6.4.1: the owner (255) goes straight to master and adverts at once;
    // adverts every interval, and Keepalived's second GARP burst at +5 s.
    initialize_to_master_as_address_owner => Case {
        config: with(v2(), |c| c.priority = 255),
        events: vec![(0, Ev::Startup)],
        until: 5 * S,
        expect: cat(vec![
            master_burst(0, State::Initialize, R::AddressOwner, 255),
            adverts(255, [S, 2 * S, 3 * S, 4 * S, 5 * S]),
            vec![(5 * S, Announce(5))],
        ]),
    };

    // §6.4.1 → §6.4.2: backup, and master when Master_Down_Timer fires.
    initialize_to_backup_then_master_on_timer => Case {
        config: v2(),
        events: vec![(0, Ev::Startup)],
        until: MDI_100 + S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
        ]),
    };

    // §6.4.2: each advert from a higher priority resets Master_Down_Timer.
    backup_timer_reset_by_adverts => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
            (2 * S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
            (3 * S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
        ],
        until: 3 * S + MDI_100,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(3 * S + MDI_100, State::Backup, R::MasterDown, 100),
        ]),
    };

    // §6.4.2: an equal priority is accepted by a backup whatever the address.
    backup_accepts_equal_priority => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (3 * S, Ev::Advert(LOWER_ADDR, 100, cs(100)))],
        until: 3 * S + MDI_100 - 1,
        expect: vec![(0, State(State::Initialize, State::Backup, R::Startup))],
    };

    // §6.4.2: priority 0 → Master_Down_Timer = Skew_Time (v2: 609.375 ms).
    backup_priority_zero_takes_over_after_skew => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
            (1_500_000, Ev::Advert(HIGHER_ADDR, 0, cs(100))),
        ],
        until: 1_500_000 + SKEW_100,
        expect: backup_then_master_at(1_500_000 + SKEW_100),
    };

    // v3 at 10 ms: skew = 156 × 10 ms / 256 = 6.093 ms (µs-truncated, as
    // Keepalived; the reference capture shows 6.35 ms on the wire).
    backup_priority_zero_skew_v3_10ms => Case {
        config: with(v3(), |c| c.advert_interval = cs(1)),
        events: vec![
            (0, Ev::Startup),
            (10_000, Ev::Advert(HIGHER_ADDR, 150, cs(1))),
            (20_000, Ev::Advert(HIGHER_ADDR, 0, cs(1))),
        ],
        until: 30_000,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(26_093, State::Backup, R::MasterDown, 100),
        ]),
    };

    // §6.4.2 Preempt_Mode true: lower-priority adverts are discarded, so the
    // timer runs out and we take over.
    backup_preempts_lower_priority_master => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Advert(HIGHER_ADDR, 50, cs(100))),
            (2 * S, Ev::Advert(HIGHER_ADDR, 50, cs(100))),
            (3 * S, Ev::Advert(HIGHER_ADDR, 50, cs(100))),
        ],
        until: MDI_100,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(MDI_100, State::Backup, R::Preempt, 100),
        ]),
    };

    // Preempt_Mode false: a lower-priority master is followed.
    backup_nopreempt_follows_lower_priority => Case {
        config: with(v2(), |c| c.preempt = false),
        events: (0..8).map(|i| (i * S, if i == 0 { Ev::Startup } else {
            Ev::Advert(HIGHER_ADDR, 50, cs(100)) })).collect(),
        until: 7 * S + MDI_100,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            // The adverts stop at 7 s: take over after Master_Down_Interval.
            master_burst(7 * S + MDI_100, State::Backup, R::MasterDown, 100),
        ]),
    };

    // Keepalived's preempt_delay: the first lower-priority advert (1 s) arms
    // a 5 s delay; until then adverts are followed; from 6 s they are
    // discarded and the timer (last reset at 5 s) runs out.
    backup_preempt_delay => Case {
        config: with(v2(), |c| c.preempt_delay = Duration::from_secs(5)),
        events: (0..9).map(|i| (i * S, if i == 0 { Ev::Startup } else {
            Ev::Advert(HIGHER_ADDR, 50, cs(100)) })).collect(),
        until: 5 * S + MDI_100,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(5 * S + MDI_100, State::Backup, R::Preempt, 100),
        ]),
    };

    // §6.4.3: a higher priority sends the master back to backup, releasing
    // its VIPs; its Master_Down_Timer is armed.
    master_to_backup_on_higher_priority => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Advert(LOWER_ADDR, 150, cs(100)))],
        until: 4 * S + MDI_100,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![
                (4 * S, State(State::Master, State::Backup, R::HigherPriority)),
                (4 * S, Remove),
            ],
            master_burst(4 * S + MDI_100, State::Backup, R::MasterDown, 100),
        ]),
    };

    // §6.4.3: equal priority from a higher primary address wins.
    master_to_backup_on_tie_with_higher_address => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Advert(HIGHER_ADDR, 100, cs(100)))],
        until: 5 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![
                (4 * S, State(State::Master, State::Backup, R::HigherAddress)),
                (4 * S, Remove),
            ],
        ]),
    };

    // Equal priority from a lower address: we win the tie and re-assert.
    master_wins_tie_with_lower_address => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Advert(LOWER_ADDR, 100, cs(100)))],
        until: 6 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![(4 * S, Advert(100)), (4 * S, Announce(5))],
            adverts(100, [MDI_100 + S, MDI_100 + 2 * S]),
        ]),
    };

    // Keepalived: a master hearing a lower priority adverts at once (its
    // regular adverts stay on their schedule) and re-announces its VIPs,
    // now and 5 s later (garp_lower_prio_repeat / _delay).
    master_reasserts_on_lower_priority => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Advert(HIGHER_ADDR, 50, cs(100)))],
        until: 9 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![(4 * S, Advert(100)), (4 * S, Announce(5))],
            adverts(100, [MDI_100 + S, MDI_100 + 2 * S, MDI_100 + 3 * S, MDI_100 + 4 * S]),
            // The becoming-master second burst, then the lower-priority one.
            vec![(MDI_100 + 5 * S, Advert(100)), (MDI_100 + 5 * S, Announce(5))],
            vec![(9 * S, Announce(5))],
        ]),
    };

    // With the lower-priority knobs at zero, only the advert.
    master_reasserts_without_garp_when_disabled => Case {
        config: with(v2(), |c| c.garp_lower_prio_repeat = 0),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Advert(HIGHER_ADDR, 50, cs(100)))],
        until: 5 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [4 * S, MDI_100 + S]),
        ]),
    };

    // Keepalived's vrrp_higher_prio_send_advert: one last advert with our
    // priority, then backup.
    master_beaten_sends_last_advert_when_asked => Case {
        config: with(v2(), |c| c.higher_prio_send_advert = true),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Advert(LOWER_ADDR, 150, cs(100)))],
        until: 5 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![
                (4 * S, Advert(100)),
                (4 * S, State(State::Master, State::Backup, R::HigherPriority)),
                (4 * S, Remove),
            ],
        ]),
    };

    // §6.4.3: priority 0 → send an advert at once. The schedule is kept, as
    // in Keepalived (the RFC would also reset the Adver_Timer).
    master_answers_priority_zero => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (4_200_000, Ev::Advert(HIGHER_ADDR, 0, cs(100)))],
        until: 5_200_000,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [4_200_000, MDI_100 + S]),
        ]),
    };

    // §6.4.3 Shutdown: priority 0, VIPs released, no more timers.
    master_shutdown_sends_priority_zero => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (4 * S, Ev::Shutdown)],
        until: 20 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![
                (4 * S, State(State::Master, State::Initialize, R::Shutdown)),
                (4 * S, Advert(0)),
                (4 * S, Remove),
            ],
        ]),
    };

    // §6.4.2 Shutdown: a backup just stops.
    backup_shutdown => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (S, Ev::Shutdown)],
        until: 20 * S,
        expect: vec![
            (0, State(State::Initialize, State::Backup, R::Startup)),
            (S, State(State::Backup, State::Initialize, R::Shutdown)),
        ],
    };

    // Fault: a master whose link goes down sends priority 0 (as Keepalived)
    // and releases its VIPs; adverts are ignored; link up → backup again.
    master_fault_enter_and_leave => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (4 * S, Ev::IfDown),
            (5 * S, Ev::Bad(HIGHER_ADDR, 255, advert(Version::V2, 150, cs(100), HIGHER_ADDR),
                DropReason::NotListening)),
            (6 * S, Ev::IfUp),
        ],
        until: 6 * S + MDI_100,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            vec![
                (4 * S, State(State::Master, State::Fault, R::Fault(FaultSource::Interface))),
                (4 * S, Advert(0)),
                (4 * S, Remove),
                (6 * S, State(State::Fault, State::Backup, R::FaultCleared)),
            ],
            master_burst(6 * S + MDI_100, State::Backup, R::MasterDown, 100),
        ]),
    };

    // Fault lasts while any source holds it; a fault set before startup
    // starts the instance in Fault.
    fault_sources_stack => Case {
        config: v2(),
        events: vec![
            (0, Ev::IfDown),
            (0, Ev::Startup),
            (S, Ev::Track(true)),
            (2 * S, Ev::IfUp),
            (3 * S, Ev::Track(false)),
        ],
        until: 3 * S + MDI_100 - 1,
        expect: vec![
            (0, State(State::Initialize, State::Fault, R::Fault(FaultSource::Interface))),
            (3 * S, State(State::Fault, State::Backup, R::FaultCleared)),
        ],
    };

    // The owner leaves Fault straight to master.
    owner_leaves_fault_as_master => Case {
        config: with(v2(), |c| { c.priority = 255; c.garp.delay = Duration::ZERO; }),
        events: vec![(0, Ev::Startup), (S / 2, Ev::Track(true)), (2 * S, Ev::Track(false))],
        until: 2 * S,
        expect: cat(vec![
            master_burst(0, State::Initialize, R::AddressOwner, 255),
            vec![
                (S / 2, State(State::Master, State::Fault, R::Fault(FaultSource::Tracking))),
                (S / 2, Advert(0)),
                (S / 2, Remove),
            ],
            master_burst(2 * S, State::Fault, R::FaultCleared, 255),
        ]),
    };

    // §6.4.2 (v3): a backup adopts the master's advertised interval, so its
    // Master_Down_Interval becomes 3 × 10 ms + 6.093 ms.
    v3_backup_adopts_master_interval => Case {
        config: v3(),
        events: vec![(0, Ev::Startup), (100_000, Ev::Advert(HIGHER_ADDR, 150, cs(1)))],
        until: 136_093,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(136_093, State::Backup, R::MasterDown, 100),
        ]),
    };

    // v3: a master losing to a higher priority adopts its interval too.
    v3_master_to_backup_adopts_interval => Case {
        config: with(v3(), |c| {
            c.priority = 255;
            c.resign = Resign::Never;
        }),
        events: vec![(0, Ev::Startup), (500_000, Ev::SetPriority(10)),
            (600_000, Ev::Advert(HIGHER_ADDR, 200, cs(5)))],
        // 3 × 50 ms + (246 × 50 ms / 256 = 48.046875 ms)
        until: 600_000 + 198_046,
        expect: cat(vec![
            master_burst(0, State::Initialize, R::AddressOwner, 255),
            adverts(10, [500_000]),
            vec![
                (600_000, State(State::Master, State::Backup, R::HigherPriority)),
                (600_000, Remove),
            ],
            master_burst(798_046, State::Backup, R::MasterDown, 10),
        ]),
    };

    // v2 (RFC 3768 §7.1, Keepalived): an advert with another interval is
    // dropped and counted; it does not reset the timer.
    v2_interval_mismatch_dropped => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Bad(HIGHER_ADDR, 255, advert(Version::V2, 150, cs(200), HIGHER_ADDR),
                DropReason::IntervalMismatch)),
        ],
        until: MDI_100,
        expect: backup_then_master_at(MDI_100),
    };

    // Tracking: a master's priority change is advertised at once.
    // (RFC behaviour: `Resign::Never`; resignation has its own cases below.)
    master_priority_change_adverts_at_once => Case {
        config: with(v2(), |c| c.resign = Resign::Never),
        events: vec![(0, Ev::Startup), (4_300_000, Ev::SetPriority(90)),
            (4_400_000, Ev::SetPriority(90)), (4_500_000, Ev::SetPriority(0))],
        until: 5_500_000,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            // 0 is clamped to 1 (0 means "stopping"); an unchanged priority
            // sends nothing.
            vec![(4_300_000, Advert(90)), (4_500_000, Advert(1)), (MDI_100 + S, Advert(1))],
        ]),
    };

    // Tracking raises a backup above the master: it discards the master's
    // (now lower) adverts and preempts when its timer runs out.
    backup_priority_raised_preempts => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
            (2 * S, Ev::SetPriority(200)),
            (2 * S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
            (3 * S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
        ],
        // Last accepted advert at 1 s; skew at priority 100 was armed then.
        until: S + MDI_100,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(S + MDI_100, State::Backup, R::Preempt, 200),
        ]),
    };
}

fn bytes_with(version: Version, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = advert(version, 150, cs(100), HIGHER_ADDR);
    f(&mut b);
    b
}

// Bad packets: dropped, counted by reason, no action, timer not reset.
conformance! {
    drops_are_counted_and_change_nothing => Case {
        config: with(v2(), |c| c.auth = Auth::simple("pw").unwrap()),
        events: vec![
            (0, Ev::Startup),
            (100_000, Ev::Bad(HIGHER_ADDR, 254,
                advert(Version::V2, 150, cs(100), HIGHER_ADDR), DropReason::TtlNot255)),
            (200_000, Ev::Bad(HIGHER_ADDR, 255, vec![0x21, 0x33], DropReason::Truncated)),
            (300_000, Ev::Bad(HIGHER_ADDR, 255,
                bytes_with(Version::V2, |b| b[7] ^= 1), DropReason::BadChecksum)),
            (400_000, Ev::Bad(HIGHER_ADDR, 255,
                bytes_with(Version::V2, |b| b[3] = 3), DropReason::CountMismatch)),
            (500_000, Ev::Bad(HIGHER_ADDR, 255,
                advert(Version::V3, 150, cs(100), HIGHER_ADDR), DropReason::VersionMismatch)),
            (600_000, Ev::Bad(HIGHER_ADDR, 255,
                VrrpRepr { vrid: 52, ..advert_repr(Version::V2, 150, cs(100)) }
                    .to_bytes(ip(HIGHER_ADDR), group(ip(HIGHER_ADDR))).unwrap(),
                DropReason::VridMismatch)),
            // No auth, and the wrong password.
            (700_000, Ev::Bad(HIGHER_ADDR, 255,
                advert(Version::V2, 150, cs(100), HIGHER_ADDR), DropReason::AuthMismatch)),
            (800_000, Ev::Bad(HIGHER_ADDR, 255,
                VrrpRepr { auth: Auth::simple("PW").unwrap(),
                    ..advert_repr(Version::V2, 150, cs(100)) }
                    .to_bytes(ip(HIGHER_ADDR), group(ip(HIGHER_ADDR))).unwrap(),
                DropReason::AuthMismatch)),
            (900_000, Ev::Bad(HIGHER_ADDR, 255,
                bytes_with(Version::V2, |b| { b[4] = 2; }), DropReason::BadChecksum)),
            (1_000_000, Ev::Bad(OURS, 255,
                VrrpRepr { auth: Auth::simple("pw").unwrap(),
                    ..advert_repr(Version::V2, 150, cs(100)) }
                    .to_bytes(ip(OURS), group(ip(OURS))).unwrap(),
                DropReason::OwnAddress)),
        ],
        until: MDI_100,
        expect: backup_then_master_at(MDI_100),
    };
}

#[test]
fn malformed_fields_map_to_their_drop_reasons() {
    let mut sim = Sim::new(v2());
    sim.event(0, Ev::Startup);
    let fixed = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = advert(Version::V2, 150, cs(100), HIGHER_ADDR);
        f(&mut b);
        b[6] = 0;
        b[7] = 0;
        let c = belay::vrrp::wire::checksum::checksum(&b);
        b[6..8].copy_from_slice(&c.to_be_bytes());
        b
    };
    let cases: Vec<(Vec<u8>, DropReason)> = vec![
        (fixed(&|b| b[0] = 0x11), DropReason::BadVersion),
        (fixed(&|b| b[0] = 0x22), DropReason::BadType),
        (fixed(&|b| b[5] = 0), DropReason::BadInterval),
        (fixed(&|b| b[4] = 7), DropReason::UnknownAuth),
        (fixed(&|b| b[4] = 2), DropReason::AuthHeader),
    ];
    for (i, (bytes, reason)) in cases.into_iter().enumerate() {
        sim.event(100 + i as u64, Ev::Bad(HIGHER_ADDR, 255, bytes, reason));
    }
    let total: u64 = sim.inst.counters().drops.total();
    assert_eq!(total, 5);
    assert_eq!(sim.inst.counters().adverts_received, 0);
}

/// RFC 5798 §7.1 MAY: an address-list mismatch is counted, the advert kept.
#[test]
fn address_list_mismatch_is_counted_and_kept() {
    let mut sim = Sim::new(v2());
    sim.event(0, Ev::Startup);
    let other = VrrpRepr {
        addresses: vec![ip("192.0.2.200")],
        ..advert_repr(Version::V2, 150, cs(100))
    };
    let b = other
        .to_bytes(ip(HIGHER_ADDR), group(ip(HIGHER_ADDR)))
        .unwrap();
    let now = sim.t0 + Duration::from_secs(3);
    sim.run_until(3 * S);
    assert_eq!(
        sim.inst.handle_packet(now, &rx(HIGHER_ADDR, 255), &b),
        Ok(())
    );
    assert_eq!(sim.inst.counters().address_list_mismatch, 1);
    assert_eq!(sim.inst.counters().adverts_received, 1);
    // Kept: the timer was reset by it.
    assert_eq!(
        sim.inst.poll_timeout(),
        Some(now + Duration::from_micros(MDI_100))
    );
    assert_eq!(sim.inst.master_address(), Some(ip(HIGHER_ADDR)));
}

/// Keepalived < 2.0 checksummed v3 unicast IPv4 adverts as if sent to
/// 224.0.0.18; we accept those (as Keepalived 2.x does) and count them.
#[test]
fn v3_unicast_old_checksum_is_accepted_and_counted() {
    let mut sim = Sim::new(v3());
    sim.event(0, Ev::Startup);
    let b = advert(Version::V3, 150, cs(100), HIGHER_ADDR); // summed over the group
    let unicast = Received {
        src: ip(HIGHER_ADDR),
        dst: ip(OURS),
        ttl: 255,
    };
    let now = sim.t0 + Duration::from_secs(1);
    assert_eq!(sim.inst.handle_packet(now, &unicast, &b), Ok(()));
    assert_eq!(sim.inst.counters().unicast_checksum_compat, 1);
    // A correct unicast checksum is not counted as compat.
    let good = advert_repr(Version::V3, 150, cs(100))
        .to_bytes(ip(HIGHER_ADDR), ip(OURS))
        .unwrap();
    assert_eq!(sim.inst.handle_packet(now, &unicast, &good), Ok(()));
    assert_eq!(sim.inst.counters().unicast_checksum_compat, 1);
}

/// Unicast peers across routers: with `check_ttl` off, any TTL is accepted.
#[test]
fn ttl_check_can_be_disabled_for_unicast() {
    let mut sim = Sim::new(with(v2(), |c| c.check_ttl = false));
    sim.event(0, Ev::Startup);
    let b = advert(Version::V2, 150, cs(100), HIGHER_ADDR);
    let now = sim.t0 + Duration::from_secs(1);
    assert_eq!(
        sim.inst.handle_packet(now, &rx(HIGHER_ADDR, 64), &b),
        Ok(())
    );
}

/// IPv6 v3: the whole path with link-local sources and ff02::12.
#[test]
fn ipv6_v3_election() {
    let config = InstanceConfig::new(
        "VI_6",
        51,
        Version::V3,
        ip("fe80::5"),
        vec![ip("2001:db8::100")],
    );
    let mut inst = Instance::new(config).unwrap();
    let t0 = Instant::now();
    inst.startup(t0);
    let peer = VrrpRepr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        interval: cs(100),
        auth: Auth::None,
        addresses: vec![ip("2001:db8::100")],
    };
    let src = ip("fe80::9");
    let dst = IpAddr::V6(MULTICAST_V6);
    let b = peer.to_bytes(src, dst).unwrap();
    let rx6 = Received { src, dst, ttl: 255 };
    assert_eq!(
        inst.handle_packet(t0 + Duration::from_secs(1), &rx6, &b),
        Ok(())
    );
    // A priority-0 advert: master after skew.
    let zero = VrrpRepr {
        priority: 0,
        ..peer
    }
    .to_bytes(src, dst)
    .unwrap();
    let t1 = t0 + Duration::from_secs(2);
    assert_eq!(inst.handle_packet(t1, &rx6, &zero), Ok(()));
    assert_eq!(
        inst.poll_timeout(),
        Some(t1 + Duration::from_micros(SKEW_100))
    );
    inst.handle_timeout(t1 + Duration::from_micros(SKEW_100));
    assert_eq!(inst.state(), State::Master);
    // An IPv4 advert to an IPv6 instance is a family mismatch.
    let v4 = advert(Version::V3, 150, cs(100), HIGHER_ADDR);
    assert_eq!(
        inst.handle_packet(t1, &rx(HIGHER_ADDR, 255), &v4),
        Err(DropReason::FamilyMismatch)
    );
}

#[test]
fn counters_and_accessors() {
    let mut sim = run(
        "counters",
        Case {
            config: with(v2(), |c| c.accept_mode = true),
            events: vec![
                (0, Ev::Startup),
                (4 * S, Ev::Advert(LOWER_ADDR, 0, cs(100))),
                (5_500_000, Ev::Shutdown),
            ],
            until: 10 * S,
            expect: cat(vec![
                backup_then_master_at(MDI_100),
                adverts(100, [4 * S, MDI_100 + S]),
                vec![
                    (
                        5_500_000,
                        State(State::Master, State::Initialize, R::Shutdown),
                    ),
                    (5_500_000, Advert(0)),
                    (5_500_000, Remove),
                ],
            ]),
        },
    );
    let c = sim.inst.counters().clone();
    assert_eq!(c.adverts_sent, 4);
    assert_eq!(c.priority_zero_sent, 1);
    assert_eq!(c.priority_zero_received, 1);
    assert_eq!(c.adverts_received, 1);
    assert_eq!(c.became_master, 1);
    assert!(sim.inst.accept_mode());
    assert_eq!(sim.inst.state(), State::Initialize);
    assert_eq!(sim.inst.poll_timeout(), None);
    // Startup again after shutdown works.
    sim.event(11 * S, Ev::Startup);
    assert_eq!(sim.inst.state(), State::Backup);
}

#[test]
fn invalid_configs_are_refused() {
    use belay::vrrp::InstanceConfigError as E;
    let bad = |f: fn(&mut InstanceConfig)| Instance::new(with(v2(), f)).unwrap_err();
    assert_eq!(bad(|c| c.vrid = 0), E::ZeroVrid);
    assert_eq!(bad(|c| c.priority = 0), E::ZeroPriority);
    assert!(matches!(
        bad(|c| c.advert_interval = cs(50)),
        E::Interval { .. }
    ));
    assert_eq!(bad(|c| c.virtual_addresses.clear()), E::NoVirtualAddresses);
    assert!(matches!(
        bad(|c| c.virtual_addresses.push(ip("2001:db8::1"))),
        E::MixedFamilies(_)
    ));
    assert_eq!(bad(|c| c.primary_address = ip("fe80::1")), E::V2OverIpv6);
    let e = Instance::new(with(v3(), |c| c.auth = Auth::simple("x").unwrap())).unwrap_err();
    assert_eq!(e, E::AuthWithV3);
}

/// Random scripts through the chaos driver (the fuzz target's invariants,
/// runnable everywhere without a fuzzer).
#[test]
fn random_event_scripts_keep_invariants() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3_000 {
        let len = 16 + (x % 400) as usize;
        let script: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        common::chaos::run(&script);
    }
}

// Health-driven handover (issue 4): a master that tracking lowers below the
// resign level sends priority 0 and steps down at once; it neither preempts
// back nor resigns again until its priority recovers.

// v2 at priority 60: Master_Down_Interval = 3 s + 196/256 s.
const MDI_60: u64 = 3_000_000 + 765_625;

fn resigned_at(at: u64) -> Vec<(u64, Out)> {
    vec![
        (at, Advert(0)),
        (at, State(State::Master, State::Backup, R::Resigned)),
        (at, Remove),
    ]
}

conformance! {
    resign_below_explicit_level_hands_over_at_once => Case {
        config: with(v2(), |c| c.resign = Resign::Below(80)),
        events: vec![(0, Ev::Startup), (5 * S, Ev::SetPriority(60))],
        until: 5 * S + MDI_60 - 1,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            resigned_at(5 * S),
        ]),
    };

    // Nobody took over: the degraded master takes the VIP back after the
    // master-down interval and keeps it (no resign loop).
    resign_then_retake_when_nobody_answers => Case {
        config: with(v2(), |c| c.resign = Resign::Below(80)),
        events: vec![
            (0, Ev::Startup),
            (5 * S, Ev::SetPriority(60)),
            (5 * S + MDI_60 + 500_000, Ev::SetPriority(50)),
        ],
        until: 5 * S + MDI_60 + 500_000,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            resigned_at(5 * S),
            master_burst(5 * S + MDI_60, State::Backup, R::MasterDown, 60),
            vec![(5 * S + MDI_60 + 500_000, Advert(50))],
        ]),
    };

    // A lower-priority backup took over: no preemption back while degraded;
    // once the priority recovers, preemption works as usual.
    resign_does_not_flap_back_until_recovered => Case {
        config: with(v2(), |c| c.resign = Resign::Below(80)),
        events: vec![
            (0, Ev::Startup),
            (5 * S, Ev::SetPriority(60)),
            (5_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (6_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (7_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (8_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (9 * S, Ev::SetPriority(100)),
            (9_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
        ],
        until: 8_500_000 + MDI_60,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            resigned_at(5 * S),
            master_burst(8_500_000 + MDI_60, State::Backup, R::Preempt, 100),
        ]),
    };

    // Auto: a drop resigns (here below a peer heard at 120).
    // (Priority 128, nopreempt: Skew_Time = 128/256 s.)
    resign_auto_uses_the_priority_heard_from_peers => Case {
        config: with(v2(), |c| {
            c.priority = 128;
            c.preempt = false;
        }),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Advert(HIGHER_ADDR, 120, cs(100))),
            (2 * S, Ev::Advert(HIGHER_ADDR, 0, cs(100))),
            (5 * S, Ev::SetPriority(110)),
        ],
        until: 5 * S,
        expect: cat(vec![
            vec![(0, State(State::Initialize, State::Backup, R::Startup))],
            master_burst(2_500_000, State::Backup, R::MasterDown, 128),
            adverts(128, [3_500_000, 4_500_000]),
            resigned_at(5 * S),
        ]),
    };

    // Auto with no peer ever heard (backups are silent): a drop resigns too.
    resign_auto_without_peers_resigns_on_a_drop => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (5 * S, Ev::SetPriority(60))],
        until: 5 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            resigned_at(5 * S),
        ]),
    };

    // ... and if the router that took over is below us after all, we
    // preempt it back (RFC way).
    resign_auto_without_peers_preempts_back_a_weaker_taker => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (5 * S, Ev::SetPriority(60)),
            (5_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (6_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (7_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
            (8_500_000, Ev::Advert(LOWER_ADDR, 50, cs(100))),
        ],
        until: 5 * S + MDI_60,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            resigned_at(5 * S),
            master_burst(5 * S + MDI_60, State::Backup, R::Preempt, 60),
        ]),
    };

    // Auto, nobody answered the resignation: the degraded master takes the
    // VIP back after the master-down interval and does not resign again.
    resign_auto_without_peers_retakes_once_when_nobody_answers => Case {
        config: v2(),
        events: vec![
            (0, Ev::Startup),
            (5 * S, Ev::SetPriority(60)),
            (5 * S + MDI_60 + 500_000, Ev::SetPriority(50)),
        ],
        until: 5 * S + MDI_60 + 500_000,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            resigned_at(5 * S),
            master_burst(5 * S + MDI_60, State::Backup, R::MasterDown, 60),
            vec![(5 * S + MDI_60 + 500_000, Advert(50))],
        ]),
    };

    resign_never_keeps_rfc_behaviour => Case {
        config: with(v2(), |c| c.resign = Resign::Never),
        events: vec![
            (0, Ev::Startup),
            (S, Ev::Advert(HIGHER_ADDR, 120, cs(100))),
            (2 * S, Ev::Advert(HIGHER_ADDR, 0, cs(100))),
            (5 * S, Ev::SetPriority(60)),
        ],
        until: 5 * S,
        expect: cat(vec![
            backup_then_master_at(2 * S + SKEW_100),
            adverts(100, [3 * S + SKEW_100, 4 * S + SKEW_100]),
            vec![(5 * S, Advert(60))],
        ]),
    };
}

// Sync groups (issue 4): a held member only signals that it wants master;
// the group releases it when every member does.
conformance! {
    held_backup_wants_master_and_waits_for_release => Case {
        config: v2(),
        events: vec![(0, Ev::Hold(true)), (0, Ev::Startup), (8 * S, Ev::Hold(false))],
        until: 8 * S,
        expect: cat(vec![
            vec![
                (0, State(State::Initialize, State::Backup, R::Startup)),
                (MDI_100, Want(true)),
            ],
            master_burst(8 * S, State::Backup, R::SyncGroup, 100),
        ]),
    };

    held_backup_that_hears_a_master_withdraws_its_wish => Case {
        config: v2(),
        events: vec![
            (0, Ev::Hold(true)),
            (0, Ev::Startup),
            (MDI_100 + S, Ev::Advert(HIGHER_ADDR, 150, cs(100))),
            (MDI_100 + 2 * S, Ev::Hold(false)),
        ],
        until: MDI_100 + 2 * S,
        expect: vec![
            (0, State(State::Initialize, State::Backup, R::Startup)),
            (MDI_100, Want(true)),
            (MDI_100 + S, Want(false)),
        ],
    };

    step_down_sends_priority_zero => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (5 * S, Ev::StepDown)],
        until: 5 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            vec![
                (5 * S, Advert(0)),
                (5 * S, State(State::Master, State::Backup, R::SyncGroup)),
                (5 * S, Remove),
            ],
        ]),
    };

    group_fault_faults_the_member_and_clears_with_the_group => Case {
        config: v2(),
        events: vec![(0, Ev::Startup), (5 * S, Ev::GroupFault(true)), (6 * S, Ev::GroupFault(false))],
        until: 6 * S,
        expect: cat(vec![
            backup_then_master_at(MDI_100),
            adverts(100, [MDI_100 + S]),
            vec![
                (5 * S, State(State::Master, State::Fault, R::Fault(FaultSource::SyncGroup))),
                (5 * S, Advert(0)),
                (5 * S, Remove),
                (6 * S, State(State::Fault, State::Backup, R::FaultCleared)),
            ],
        ]),
    };
}
