//! Sending hand-made IP packets from inside a namespace (an attacker or a
//! broken peer on the LAN), with full control of the IPv4 header.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::Netns;

/// Runs `f` on a thread that has entered `ns`'s network namespace.
pub fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
    .join()
    .expect("netns thread panicked")
}

/// Sends IPv4 packets of protocol `proto` out of `dev` with our own header
/// (TTL, addresses); the payloads go as given, corrupt or not.
pub fn send_ipv4(
    ns: &Netns,
    dev: &str,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    proto: u8,
    payloads: Vec<Vec<u8>>,
) {
    let dev = dev.to_owned();
    in_netns(ns, move || {
        let s = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(proto))),
        )
        .expect("raw socket");
        s.set_header_included_v4(true).expect("IP_HDRINCL");
        s.bind_device(Some(dev.as_bytes()))
            .expect("SO_BINDTODEVICE");
        s.set_multicast_if_v4(&src).expect("IP_MULTICAST_IF");
        for p in payloads {
            let mut pkt = vec![0u8; 20 + p.len()];
            let total = pkt.len() as u16;
            pkt[0] = 0x45;
            pkt[1] = 0xc0;
            pkt[2..4].copy_from_slice(&total.to_be_bytes());
            pkt[8] = ttl;
            pkt[9] = proto;
            pkt[12..16].copy_from_slice(&src.octets());
            pkt[16..20].copy_from_slice(&dst.octets());
            pkt[20..].copy_from_slice(&p);
            s.send_to(&pkt, &SockAddr::from(SocketAddrV4::new(dst, 0)))
                .unwrap_or_else(|e| panic!("send on fd {}: {e}", s.as_raw_fd()));
        }
    })
}
