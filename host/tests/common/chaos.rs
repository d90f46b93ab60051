//! Drives one VRRP instance with an arbitrary byte string read as a script of
//! events (startup, shutdown, time passing, well-formed and malformed
//! packets, priority changes, faults) and checks invariants after each:
//!
//! - nothing panics;
//! - actions are coherent: VIPs are added only when not held, removed only
//!   when held, announced only while held; held ⇔ Master;
//! - every advert the instance asks for can be emitted;
//! - a running instance always has a timer in the future (no busy loop,
//!   no stall); Initialize and Fault have none;
//! - every packet is either counted as received or counted as a drop under
//!   the reason returned.
//!
//! Shared by the fuzz target `fuzz/fuzz_targets/instance.rs` and the
//! randomized test in `vrrp_conformance.rs`; `super::vrrp` is the core.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::vrrp::wire::{MULTICAST_V4, MULTICAST_V6};
use super::vrrp::{
    Action, AdvertInterval, Auth, FaultSource, GarpConfig, Instance, InstanceConfig, Received,
    State, Version, VrrpRepr,
};

/// Reads the script; past its end every read is zero.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.u8()).collect()
    }
    fn done(&self) -> bool {
        self.0.is_empty()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("literal address")
}

fn config(s: &mut Script<'_>) -> InstanceConfig {
    let version = if s.bool() { Version::V3 } else { Version::V2 };
    let v6 = version == Version::V3 && s.bool();
    let (primary, vips) = if v6 {
        (
            ip("fe80::5"),
            ["2001:db8::100", "2001:db8::101", "2001:db8::102"],
        )
    } else {
        (
            ip("192.0.2.5"),
            ["192.0.2.100", "192.0.2.101", "192.0.2.102"],
        )
    };
    let n = 1 + usize::from(s.u8() % 3);
    let vips = vips[..n].iter().map(|a| ip(a)).collect();
    let mut c = InstanceConfig::new("chaos", 51, version, primary, vips);
    c.priority = s.u8().max(1);
    c.advert_interval = match version {
        Version::V2 => AdvertInterval::from_secs(1 + s.u8() % 3),
        Version::V3 => AdvertInterval::from_centis(1 + u16::from(s.u8()) % 300),
    }
    .expect("in range");
    c.preempt = s.bool();
    c.preempt_delay = Duration::from_millis(u64::from(s.u8() % 4) * 700);
    c.accept_mode = s.bool();
    c.check_ttl = !s.u8().is_multiple_of(4);
    if version == Version::V2 && s.bool() {
        c.auth = Auth::simple("pw").expect("short");
    }
    c.garp = GarpConfig {
        delay: Duration::from_millis(u64::from(s.u8() % 3) * 900),
        repeat: u32::from(s.u8() % 6),
        refresh: s
            .bool()
            .then(|| Duration::from_millis(500 + u64::from(s.u8()) * 10)),
        refresh_repeat: u32::from(s.u8() % 3),
        interval: Duration::from_millis(u64::from(s.u8() % 3) * 20),
    };
    c.garp_lower_prio_repeat = u32::from(s.u8() % 4);
    c.garp_lower_prio_delay = Duration::from_millis(u64::from(s.u8() % 3) * 800);
    c.higher_prio_send_advert = s.bool();
    c
}

struct Checker {
    inst: Instance,
    now: Instant,
    state: State,
    holding: bool,
    delivered: u64,
}

impl Checker {
    fn group(&self) -> IpAddr {
        match self.inst.config().primary_address {
            IpAddr::V4(_) => IpAddr::V4(MULTICAST_V4),
            IpAddr::V6(_) => IpAddr::V6(MULTICAST_V6),
        }
    }

    fn drain(&mut self) {
        let primary = self.inst.config().primary_address;
        let group = self.group();
        while let Some(a) = self.inst.poll_action() {
            match a {
                Action::StateChange { from, to, .. } => {
                    assert_eq!(from, self.state, "state change from a state we were not in");
                    assert_ne!(from, to, "state change to the same state");
                    self.state = to;
                }
                Action::SendAdvert(r) => {
                    r.to_bytes(primary, group)
                        .expect("advert must be emittable");
                }
                Action::AddAddresses(_) => {
                    assert!(!self.holding, "VIPs added twice");
                    self.holding = true;
                }
                Action::RemoveAddresses(_) => {
                    assert!(self.holding, "VIPs removed while not held");
                    self.holding = false;
                }
                Action::Announce { addresses, .. } => {
                    assert!(self.holding, "announcing VIPs we do not hold");
                    assert!(!addresses.is_empty());
                }
            }
        }
        assert_eq!(self.inst.state(), self.state);
        assert_eq!(
            self.holding,
            self.state == State::Master,
            "VIPs held ⇔ Master"
        );
        match (self.state, self.inst.poll_timeout()) {
            (State::Master | State::Backup, Some(t)) => {
                assert!(t > self.now, "timer not in the future in {:?}", self.state)
            }
            (State::Master | State::Backup, None) => panic!("{:?} without a timer", self.state),
            (State::Initialize | State::Fault, t) => assert_eq!(t, None),
        }
        let c = self.inst.counters();
        assert_eq!(c.adverts_received + c.drops.total(), self.delivered);
    }

    fn deliver(&mut self, rx: Received, bytes: &[u8]) {
        self.delivered += 1;
        let before = self.inst.counters().drops.clone();
        if let Err(reason) = self.inst.handle_packet(self.now, &rx, bytes) {
            assert_eq!(
                self.inst.counters().drops.get(reason),
                before.get(reason) + 1
            );
        }
    }
}

/// Runs one script. Panics if an invariant breaks.
pub fn run(data: &[u8]) {
    let mut s = Script(data);
    let config = config(&mut s);
    let version = config.version;
    let v6 = config.primary_address.is_ipv6();
    let auth = config.auth;
    let interval = config.advert_interval;
    let mut ch = Checker {
        inst: Instance::new(config).expect("generated configs are valid"),
        now: Instant::now(),
        state: State::Initialize,
        holding: false,
        delivered: 0,
    };
    let peers: [IpAddr; 3] = if v6 {
        [ip("fe80::3"), ip("fe80::9"), ip("fe80::5")]
    } else {
        [ip("192.0.2.3"), ip("192.0.2.9"), ip("192.0.2.5")]
    };
    let mut steps = 0;
    ch.inst.startup(ch.now);
    ch.drain();
    while !s.done() && steps < 2_000 {
        steps += 1;
        match s.u8() % 16 {
            0 => ch.inst.shutdown(ch.now),
            1 => ch.inst.startup(ch.now),
            2..=5 => {
                // Time passes; timers fire in order.
                let end = ch.now + Duration::from_micros(u64::from(s.u16()) * 64);
                while let Some(t) = ch.inst.poll_timeout().filter(|t| *t <= end) {
                    assert!(t >= ch.now, "timer in the past");
                    ch.now = t;
                    ch.inst.handle_timeout(t);
                    ch.drain();
                }
                ch.now = end;
            }
            6..=9 => {
                let src = peers[usize::from(s.u8() % 3)];
                let r = VrrpRepr {
                    version: if s.u8() % 8 == 0 {
                        match version {
                            Version::V2 => Version::V3,
                            Version::V3 => Version::V2,
                        }
                    } else {
                        version
                    },
                    vrid: if s.u8() % 8 == 0 { s.u8() } else { 51 },
                    priority: s.u8(),
                    interval: if s.u8() % 4 == 0 {
                        AdvertInterval::from_centis(100 * (1 + u16::from(s.u8() % 3)))
                            .expect("in range")
                    } else {
                        interval
                    },
                    auth: if s.u8() % 8 == 0 { Auth::None } else { auth },
                    addresses: ch.inst.config().virtual_addresses.clone(),
                };
                let dst = ch.group();
                if let Ok(bytes) = r.to_bytes(src, dst) {
                    let ttl = if s.u8() % 8 == 0 { s.u8() } else { 255 };
                    ch.deliver(Received { src, dst, ttl }, &bytes);
                }
            }
            10 => {
                let src = peers[usize::from(s.u8() % 2)];
                let len = usize::from(s.u8() % 64);
                let bytes = s.bytes(len);
                let dst = ch.group();
                ch.deliver(Received { src, dst, ttl: 255 }, &bytes);
            }
            11 => ch.inst.set_priority(s.u8(), ch.now),
            12 => ch.inst.interface_down(ch.now),
            13 => ch.inst.interface_up(ch.now),
            14 => ch.inst.set_fault(FaultSource::Tracking, s.bool(), ch.now),
            _ => ch.inst.handle_timeout(ch.now),
        }
        ch.drain();
    }
}
