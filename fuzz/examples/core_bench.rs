//! Cost of the VRRP core per advert, in release mode, without the daemon:
//! decode, encode, a backup accepting an advert, a master's advert timer,
//! and the whole exchange (master emits → bytes → backup accepts).
//!
//!     cargo run --release --manifest-path fuzz/Cargo.toml --example core_bench
//!
//! Prints the median of 21 batches per operation, and what one advert
//! every 10 ms costs as a share of one core.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use belay_fuzz::vrrp::wire::MULTICAST_V4;
use belay_fuzz::vrrp::{
    Action, AdvertInterval, Auth, Instance, InstanceConfig, Received, Version, VrrpRepr,
};

const BATCH: u32 = 100_000;

fn median_ns(mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..21)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn main() {
    let src = ip("192.0.2.9");
    let dst = IpAddr::V4(MULTICAST_V4);
    let advert = VrrpRepr {
        version: Version::V3,
        vrid: 51,
        priority: 150,
        interval: AdvertInterval::from_centis(1).unwrap(),
        auth: Auth::None,
        addresses: vec![ip("192.0.2.100")],
    };
    let bytes = advert.to_bytes(src, dst).unwrap();
    let rx = Received { src, dst, ttl: 255 };

    let decode = median_ns(|| {
        black_box(VrrpRepr::parse_bytes(black_box(&bytes), src, dst).unwrap());
    });
    let mut buf = [0u8; 64];
    let encode = median_ns(|| {
        black_box(advert.emit(black_box(&mut buf), src, dst).unwrap());
    });

    let mut config = InstanceConfig::new(
        "b",
        51,
        Version::V3,
        ip("192.0.2.5"),
        vec![ip("192.0.2.100")],
    );
    config.advert_interval = AdvertInterval::from_centis(1).unwrap();
    let t0 = Instant::now();
    let mut backup = Instance::new(config.clone()).unwrap();
    backup.startup(t0);
    while backup.poll_action().is_some() {}
    let mut now = t0;
    let accept = median_ns(|| {
        now += Duration::from_millis(10);
        backup.handle_packet(now, &rx, black_box(&bytes)).unwrap();
    });

    config.priority = 255;
    let mut master = Instance::new(config).unwrap();
    master.startup(t0);
    while master.poll_action().is_some() {}
    let timer = median_ns(|| {
        let t = master.poll_timeout().unwrap();
        master.handle_timeout(t);
        while let Some(a) = master.poll_action() {
            black_box(a);
        }
    });

    let mut peer = Instance::new({
        let mut c = InstanceConfig::new("p", 51, Version::V3, src, vec![ip("192.0.2.100")]);
        c.advert_interval = AdvertInterval::from_centis(1).unwrap();
        c
    })
    .unwrap();
    peer.startup(t0);
    while peer.poll_action().is_some() {}
    let mut master2 = Instance::new({
        let mut c = InstanceConfig::new(
            "m",
            51,
            Version::V3,
            ip("192.0.2.200"),
            vec![ip("192.0.2.100")],
        );
        c.advert_interval = AdvertInterval::from_centis(1).unwrap();
        c.priority = 255;
        c
    })
    .unwrap();
    master2.startup(t0);
    while master2.poll_action().is_some() {}
    let from = Received {
        src: ip("192.0.2.200"),
        dst,
        ttl: 255,
    };
    let exchange = median_ns(|| {
        let t = master2.poll_timeout().unwrap();
        master2.handle_timeout(t);
        while let Some(a) = master2.poll_action() {
            if let Action::SendAdvert(r) = a {
                let n = r.emit(&mut buf, from.src, dst).unwrap();
                peer.handle_packet(t, &from, &buf[..n]).unwrap();
            }
        }
    });

    println!("VRRP core, median of 21 × {BATCH} (ns per operation):");
    println!("  decode v3 advert (parse + checksum)      {decode:8.1}");
    println!("  encode v3 advert (emit + checksum)       {encode:8.1}");
    println!("  backup accepts an advert (handle_packet) {accept:8.1}");
    println!("  master advert timer (timeout + actions)  {timer:8.1}");
    println!("  master → bytes → backup, one advert      {exchange:8.1}");
    println!(
        "  share of one core at 10 ms adverts: master {:.5}%, backup {:.5}%",
        (timer + encode) / 10e6 * 100.0,
        accept / 10e6 * 100.0
    );
}
