//! Encoding and decoding without a kernel: round trips, kernel-shaped
//! replies, and malformed input that must be an error, never a panic.

use std::net::SocketAddr;

use super::attr::{AttrSink, SliceWriter};
use super::consts::*;
use super::*;
use crate::ipvs::{
    Dest, Family, Forward, Protocol, Scheduler, Service, ServiceFlags, ServiceKey, Tunnel,
    TunnelKind,
};

const FAMILY: u16 = 0x1c;

fn attrs(f: impl Fn(&mut SliceWriter<'_>)) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = SliceWriter::new(&mut buf);
    f(&mut w);
    let n = w.position();
    buf.truncate(n);
    buf
}

fn nl_msg(ty: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut m = Vec::with_capacity(len + 3);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

fn genl(cmd: u8, attrs: &[u8]) -> Vec<u8> {
    let mut p = vec![cmd, 1, 0, 0];
    p.extend_from_slice(attrs);
    p
}

fn key4() -> ServiceKey {
    ServiceKey::Inet {
        protocol: Protocol::Tcp,
        addr: "192.0.2.1:80".parse().unwrap(),
    }
}

/// A service as the kernel dumps it: 16-byte address, HASHED flag with a
/// full mask, statistics, and an attribute from a newer kernel.
fn kernel_service_attrs() -> Vec<u8> {
    attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_SERVICE);
        w.put_u16(IPVS_SVC_ATTR_AF, libc::AF_INET as u16);
        w.put_u16(IPVS_SVC_ATTR_PROTOCOL, libc::IPPROTO_TCP as u16);
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[192, 0, 2, 1]);
        w.put(IPVS_SVC_ATTR_ADDR, &addr);
        w.put_be16(IPVS_SVC_ATTR_PORT, 80);
        w.put_str(IPVS_SVC_ATTR_SCHED_NAME, "wrr");
        let mut flags = [0u8; 8];
        flags[..4]
            .copy_from_slice(&(ServiceFlags::HASHED | ServiceFlags::PERSISTENT).to_ne_bytes());
        flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        w.put(IPVS_SVC_ATTR_FLAGS, &flags);
        w.put_u32(IPVS_SVC_ATTR_TIMEOUT, 300);
        w.put(IPVS_SVC_ATTR_NETMASK, &[255, 255, 255, 0]);
        let s = w.begin_nested(IPVS_SVC_ATTR_STATS);
        w.put_u32(1, 42);
        w.end_nested(s);
        w.put_u32(99, 1); // unknown to us
        w.end_nested(n);
    })
}

fn kernel_dest_attrs() -> Vec<u8> {
    attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_DEST);
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[198, 51, 100, 7]);
        w.put(IPVS_DEST_ATTR_ADDR, &addr);
        w.put_be16(IPVS_DEST_ATTR_PORT, 0);
        w.put_u32(IPVS_DEST_ATTR_FWD_METHOD, 2 | 0x0080); // tunnel | NOOUTPUT
        w.put_u32(IPVS_DEST_ATTR_WEIGHT, 2);
        w.put_u8(IPVS_DEST_ATTR_TUN_TYPE, 1);
        w.put_be16(IPVS_DEST_ATTR_TUN_PORT, 6080);
        w.put_u16(IPVS_DEST_ATTR_TUN_FLAGS, 1);
        w.put_u32(IPVS_DEST_ATTR_U_THRESH, 100);
        w.put_u32(IPVS_DEST_ATTR_L_THRESH, 10);
        w.put_u32(IPVS_DEST_ATTR_ACTIVE_CONNS, 3);
        w.put_u32(IPVS_DEST_ATTR_INACT_CONNS, 4);
        w.put_u32(IPVS_DEST_ATTR_PERSIST_CONNS, 5);
        w.put_u16(IPVS_DEST_ATTR_ADDR_FAMILY, libc::AF_INET as u16);
        w.end_nested(n);
    })
}

/// A dump reply datagram: two services, a destination, DONE.
fn dump_datagram() -> Vec<u8> {
    let mut d = nl_msg(
        FAMILY,
        2,
        7,
        &genl(IPVS_CMD_NEW_SERVICE, &kernel_service_attrs()),
    );
    d.extend(nl_msg(
        FAMILY,
        2,
        7,
        &genl(IPVS_CMD_NEW_SERVICE, &kernel_service_attrs()),
    ));
    d.extend(nl_msg(
        FAMILY,
        2,
        7,
        &genl(IPVS_CMD_NEW_DEST, &kernel_dest_attrs()),
    ));
    d.extend(nl_msg(3, 2, 7, &0i32.to_ne_bytes()));
    d
}

fn ctx() -> ReplyContext {
    ReplyContext {
        service_family: Family::Ipv4,
    }
}

/// Parses everything in a datagram the way the client does; the result
/// does not matter, only that it returns.
fn parse_all(buf: &[u8]) -> Vec<Result<Option<Reply>, WireError>> {
    Frames::new(buf)
        .map(|f| {
            f.and_then(|f| match f.kind {
                FrameKind::Genl { cmd, attrs } => Reply::parse(cmd, attrs, ctx()).map(Some),
                _ => Ok(None),
            })
        })
        .collect()
}

#[test]
fn requests_round_trip_through_the_kernel_format() {
    let mut svc = Service::new(
        ServiceKey::Inet {
            protocol: Protocol::Sctp,
            addr: "[2001:db8::1]:3868".parse().unwrap(),
        },
        Scheduler::Mh,
    );
    svc.flags = ServiceFlags(ServiceFlags::MH_PORT | ServiceFlags::PERSISTENT);
    svc.timeout = 60;
    svc.netmask = 64;
    svc.pe_name = Some("sip".into());
    let mut out = Vec::new();
    Request::NewService(&svc).frame(FAMILY, 9, true, &mut out);
    assert_eq!(out.len() % 4, 0);
    let frames: Vec<_> = Frames::new(&out).collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].seq, 9);
    assert_eq!(frames[0].flags, 0x01 | 0x04, "REQUEST | ACK");
    let FrameKind::Genl { cmd, attrs } = frames[0].kind else {
        panic!("not genl: {:?}", frames[0].kind)
    };
    assert_eq!(cmd, IPVS_CMD_NEW_SERVICE);
    // The service attribute parses back to the same service.
    let Reply::Service(back) = Reply::parse(cmd, attrs, ctx()).unwrap() else {
        panic!("not a service")
    };
    assert_eq!(back, svc);

    for fwd in [
        Forward::Masq,
        Forward::Route,
        Forward::Tunnel(Tunnel::IPIP),
        Forward::Tunnel(Tunnel {
            kind: TunnelKind::Gre,
            port: 0,
            flags: Tunnel::FLAG_REMCSUM,
        }),
    ] {
        let mut d = Dest::new("[2001:db8::7]:443".parse().unwrap(), fwd, 5);
        d.upper_threshold = 9;
        d.lower_threshold = 2;
        let mut out = Vec::new();
        Request::NewDest(&key4(), &d).frame(FAMILY, 1, false, &mut out);
        let f = Frames::new(&out).next().unwrap().unwrap();
        let FrameKind::Genl { attrs, .. } = f.kind else {
            panic!()
        };
        // Replies carry no service attribute; parse as NEW_DEST anyway:
        // the destination attribute is what matters.
        let Reply::Dest(back, _) = Reply::parse(IPVS_CMD_NEW_DEST, attrs, ctx()).unwrap() else {
            panic!()
        };
        assert_eq!(back, d);
    }
}

#[test]
fn dumps_are_framed_as_dumps() {
    let mut out = Vec::new();
    Request::DumpServices.frame(FAMILY, 3, false, &mut out);
    let f = Frames::new(&out).next().unwrap().unwrap();
    assert_eq!(f.flags, 0x01 | 0x300, "REQUEST | DUMP");
    assert!(!Request::DumpServices.is_write());
    assert!(Request::Flush.is_write());
}

#[test]
fn kernel_shaped_replies_parse() {
    let got = parse_all(&dump_datagram());
    assert_eq!(got.len(), 4);
    let Ok(Some(Reply::Service(s))) = &got[0] else {
        panic!("{:?}", got[0])
    };
    assert_eq!(s.key, key4());
    assert_eq!(s.scheduler, Scheduler::Wrr);
    assert_eq!(
        s.flags,
        ServiceFlags(ServiceFlags::PERSISTENT),
        "HASHED dropped"
    );
    assert_eq!(s.timeout, 300);
    assert_eq!(s.netmask, 0xffff_ff00);
    assert_eq!(s.netmask_prefix(), Some(24));
    let Ok(Some(Reply::Dest(d, c))) = &got[2] else {
        panic!("{:?}", got[2])
    };
    let want_addr: SocketAddr = "198.51.100.7:0".parse().unwrap();
    assert_eq!(d.addr, want_addr);
    assert_eq!(
        d.forward,
        Forward::Tunnel(Tunnel {
            kind: TunnelKind::Gue,
            port: 6080,
            flags: Tunnel::FLAG_CSUM
        })
    );
    assert_eq!(
        (d.weight, d.upper_threshold, d.lower_threshold),
        (2, 100, 10)
    );
    assert_eq!((c.active, c.inactive, c.persistent), (3, 4, 5));
    assert!(matches!(got[3], Ok(None)));
    let d = dump_datagram();
    let frames: Vec<_> = Frames::new(&d).map(Result::unwrap).collect();
    assert_eq!(frames[3].kind, FrameKind::Done);
}

#[test]
fn errors_carry_errno_and_extended_ack_text() {
    // nlmsgerr: error, original header (capped), then NLMSGERR_ATTR_MSG.
    let mut p = (-libc::EEXIST).to_ne_bytes().to_vec();
    p.extend_from_slice(&nl_msg(FAMILY, 5, 11, &[])[..16]);
    p.extend(attrs(|w| w.put_str(1, "service already exists")));
    let msg = nl_msg(2, 0x100 | 0x200, 11, &p);
    let f = Frames::new(&msg).next().unwrap().unwrap();
    assert_eq!(
        f.kind,
        FrameKind::Ack {
            code: -libc::EEXIST,
            message: Some("service already exists".into())
        }
    );
    // A plain ACK.
    let mut p = 0i32.to_ne_bytes().to_vec();
    p.extend_from_slice(&[0u8; 16]);
    let m = nl_msg(2, 0x100, 1, &p);
    let f = Frames::new(&m).next().unwrap().unwrap();
    assert_eq!(
        f.kind,
        FrameKind::Ack {
            code: 0,
            message: None
        }
    );
}

#[test]
fn bad_lengths_are_errors() {
    // A port of 4 bytes.
    let a = attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_SERVICE);
        w.put_u16(IPVS_SVC_ATTR_AF, libc::AF_INET as u16);
        w.put_u16(IPVS_SVC_ATTR_PROTOCOL, 6);
        w.put(IPVS_SVC_ATTR_ADDR, &[192, 0, 2, 1]);
        w.put_u32(IPVS_SVC_ATTR_PORT, 80);
        w.put_str(IPVS_SVC_ATTR_SCHED_NAME, "rr");
        w.end_nested(n);
    });
    let e = Reply::parse(IPVS_CMD_NEW_SERVICE, &a, ctx()).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::BadLength {
                attr: "port",
                len: 4,
                ..
            }
        ),
        "{e:?}"
    );
    // An IPv6 service with a 4-byte address.
    let a = attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_SERVICE);
        w.put_u16(IPVS_SVC_ATTR_AF, libc::AF_INET6 as u16);
        w.put_u16(IPVS_SVC_ATTR_PROTOCOL, 6);
        w.put(IPVS_SVC_ATTR_ADDR, &[192, 0, 2, 1]);
        w.put_be16(IPVS_SVC_ATTR_PORT, 80);
        w.put_str(IPVS_SVC_ATTR_SCHED_NAME, "rr");
        w.end_nested(n);
    });
    let e = Reply::parse(IPVS_CMD_NEW_SERVICE, &a, ctx()).unwrap_err();
    assert!(
        matches!(e, WireError::BadLength { attr: "addr", .. }),
        "{e:?}"
    );
    // Missing the scheduler.
    let a = attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_SERVICE);
        w.put_u16(IPVS_SVC_ATTR_AF, libc::AF_INET as u16);
        w.put_u32(IPVS_SVC_ATTR_FWMARK, 3);
        w.end_nested(n);
    });
    let e = Reply::parse(IPVS_CMD_NEW_SERVICE, &a, ctx()).unwrap_err();
    assert_eq!(e.to_string(), "service lacks attribute `sched_name`");
    // An attribute whose length runs past its parent.
    let mut a = kernel_service_attrs();
    a[4..6].copy_from_slice(&2000u16.to_ne_bytes());
    assert!(Reply::parse(IPVS_CMD_NEW_SERVICE, &a, ctx()).is_err());
    // An attribute length below its own header.
    let mut a = kernel_service_attrs();
    a[4..6].copy_from_slice(&2u16.to_ne_bytes());
    assert!(Reply::parse(IPVS_CMD_NEW_SERVICE, &a, ctx()).is_err());
    // A netlink length beyond the datagram, and one below the header.
    let mut d = dump_datagram();
    d[0..4].copy_from_slice(&100_000u32.to_ne_bytes());
    assert!(Frames::new(&d).next().unwrap().is_err());
    d[0..4].copy_from_slice(&8u32.to_ne_bytes());
    assert!(Frames::new(&d).next().unwrap().is_err());
    // A genl message too short for its header.
    let m = nl_msg(FAMILY, 0, 1, &[1, 1]);
    assert!(Frames::new(&m).next().unwrap().is_err());
    // An error message too short for its code.
    let m = nl_msg(2, 0, 1, &[1, 2]);
    assert!(Frames::new(&m).next().unwrap().is_err());
}

#[test]
fn unknown_values_do_not_break_a_dump_of_foreign_services() {
    let a = attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_SERVICE);
        w.put_u16(IPVS_SVC_ATTR_AF, libc::AF_INET as u16);
        w.put_u32(IPVS_SVC_ATTR_FWMARK, 3);
        w.put_str(IPVS_SVC_ATTR_SCHED_NAME, "fancy");
        w.put(IPVS_SVC_ATTR_NETMASK, &[255, 0, 255, 0]);
        w.end_nested(n);
    });
    let Reply::Service(s) = Reply::parse(IPVS_CMD_NEW_SERVICE, &a, ctx()).unwrap() else {
        panic!()
    };
    assert_eq!(s.scheduler, Scheduler::Other("fancy".into()));
    assert_eq!(s.netmask_prefix(), None);
    // Unknown forwarding code, unknown command.
    let d = attrs(|w| {
        let n = w.begin_nested(IPVS_CMD_ATTR_DEST);
        w.put(IPVS_DEST_ATTR_ADDR, &[198, 51, 100, 1]);
        w.put_be16(IPVS_DEST_ATTR_PORT, 1);
        w.put_u32(IPVS_DEST_ATTR_FWD_METHOD, 4);
        w.put_u32(IPVS_DEST_ATTR_WEIGHT, 1);
        w.end_nested(n);
    });
    let Reply::Dest(dest, _) = Reply::parse(IPVS_CMD_NEW_DEST, &d, ctx()).unwrap() else {
        panic!()
    };
    assert_eq!(dest.forward, Forward::Other(4));
    assert_eq!(
        Reply::parse(42, &d, ctx()).unwrap(),
        Reply::Other { cmd: 42 }
    );
}

#[test]
fn every_truncation_is_survived() {
    let d = dump_datagram();
    for cut in 0..d.len() {
        let _ = parse_all(&d[..cut]);
    }
    // A cut inside the first message is an error, not a short success.
    let r = parse_all(&d[..40]);
    assert!(r[0].is_err(), "{r:?}");
}

#[test]
fn every_corrupted_byte_is_survived() {
    let d = dump_datagram();
    for i in 0..d.len() {
        for v in [0x00, 0x01, 0x03, 0x04, 0x7f, 0x80, 0xfe, 0xff] {
            let mut c = d.clone();
            c[i] = v;
            let _ = parse_all(&c);
        }
    }
}

#[test]
fn random_garbage_is_survived() {
    // xorshift: deterministic, no dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = dump_datagram();
    for _ in 0..20_000 {
        let len = (next() % 300) as usize;
        let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the time, start from a valid header so parsing goes deeper.
        if next() % 2 == 0 && len >= 20 {
            buf[..20].copy_from_slice(&base[..20]);
            let l = (next() % (len as u64 + 8)) as u32;
            buf[..4].copy_from_slice(&l.to_ne_bytes());
        }
        let _ = parse_all(&buf);
    }
}
