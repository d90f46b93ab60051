//! The raw IP socket for protocol 112, one per instance and family.
//!
//! Sending: IPv4 writes its own header (`IP_HDRINCL`) so the source address is
//! the one the v3 checksum was computed over, with TTL 255 and DSCP CS6 like
//! Keepalived; IPv6 sets the source per packet with `IPV6_PKTINFO` and hop
//! limit 255. Receiving: the TTL / hop limit and destination address come from
//! control messages (`IP_RECVTTL`, `IP_PKTINFO`, `IPV6_RECVHOPLIMIT`,
//! `IPV6_RECVPKTINFO`), so the caller can enforce TTL 255 and build the
//! checksum pseudo-header. The socket is bound to its interface
//! (`SO_BINDTODEVICE`) and, in multicast mode, joins 224.0.0.18 / ff02::12 there
//! only (`IP_MULTICAST_ALL` off). The receive path does not allocate.

use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::config::vrrp::Family;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// The VRRP IPv4 multicast group.
pub const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group (link-local scope).
pub const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// RFC 5798 §5.1.1.3 / §5.1.2.3: adverts are sent with TTL / hop limit 255 and
/// a receiver drops anything else (it proves the sender is on the link).
pub const VRRP_TTL: u8 = 255;
/// Traffic class / TOS of adverts: DSCP CS6 (network control), as Keepalived sends.
pub const TOS_CS6: u8 = 0xc0;
/// Length of the IPv4 header we write (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// Receive buffer of the VRRP socket.
const RCVBUF: i32 = 1 << 20;
/// Largest VRRP packet we handle: 255 IPv6 addresses + header; anything longer is not VRRP.
pub const MAX_PACKET: usize = 8 + 255 * 16 + 16;

/// Where adverts go: the VRRP group, or a list of unicast peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destinations {
    Multicast,
    Unicast(Vec<IpAddr>),
}

/// How to open the socket.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub interface: String,
    pub ifindex: u32,
    pub family: Family,
    pub destinations: Destinations,
    /// In unicast mode, receive only packets addressed to this source (bind).
    pub unicast_src: Option<IpAddr>,
}

/// What the kernel told us about one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    pub src: IpAddr,
    /// The packet's destination (for the v3 checksum pseudo-header).
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit; `None` if the kernel did not say (treated as bad).
    pub ttl: Option<u8>,
    pub ifindex: u32,
    /// Datagrams the kernel dropped on this socket's full receive queue so
    /// far (`SO_RXQ_OVFL`, cumulative), when it said.
    pub queue_drops: Option<u32>,
}

/// A received datagram: where its VRRP bytes are in the buffer, plus metadata.
/// (A range rather than a slice, so the buffer can be reborrowed at once.)
#[derive(Debug, Clone)]
pub struct Datagram {
    pub meta: RecvMeta,
    /// The VRRP packet in the receive buffer (for IPv4, after the IP header).
    pub vrrp: std::ops::Range<usize>,
    /// For IPv4, the total length field of the IP header claims this many VRRP bytes.
    pub ip_payload_len: usize,
}

/// Why a datagram could not even be handed to the VRRP decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    #[error("IPv4 header truncated or malformed")]
    BadIpHeader,
    #[error("datagram larger than any VRRP packet")]
    Oversize,
}

/// The raw VRRP socket of one instance.
pub struct VrrpSocket {
    sock: Socket,
    family: Family,
    ifindex: u32,
    destinations: Destinations,
}

impl VrrpSocket {
    /// Opens (non-blocking), binds to the interface and joins the group.
    pub fn open(cfg: &SocketConfig) -> io::Result<VrrpSocket> {
        let domain = match cfg.family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))?;
        sock.set_nonblocking(true)?;
        sock.bind_device(Some(cfg.interface.as_bytes()))?;
        let fd = sock.as_raw_fd();
        // Room for bursts (a flood must not starve real adverts), beyond
        // rmem_max when we may; and the kernel tells us what it still drops.
        if setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, RCVBUF).is_err() {
            let _ = sock.set_recv_buffer_size(RCVBUF as usize);
        }
        setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1)?;
        match cfg.family {
            Family::Ipv4 => {
                sock.set_header_included_v4(true)?;
                sock.set_multicast_loop_v4(false)?;
                sock.set_multicast_ttl_v4(u32::from(VRRP_TTL))?;
                sock.set_ttl_v4(u32::from(VRRP_TTL))?;
                sock.set_multicast_all_v4(false)?;
                setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)?;
                setsockopt_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)?;
                if cfg.destinations == Destinations::Multicast {
                    sock.join_multicast_v4_n(
                        &GROUP_V4,
                        &socket2::InterfaceIndexOrAddress::Index(cfg.ifindex),
                    )?;
                }
                if let Some(IpAddr::V4(src)) = cfg.unicast_src {
                    sock.bind(&SockAddr::from(SocketAddrV4::new(src, 0)))?;
                }
            }
            Family::Ipv6 => {
                sock.set_multicast_loop_v6(false)?;
                sock.set_multicast_hops_v6(u32::from(VRRP_TTL))?;
                sock.set_unicast_hops_v6(u32::from(VRRP_TTL))?;
                sock.set_multicast_if_v6(cfg.ifindex)?;
                sock.set_multicast_all_v6(false)?;
                sock.set_tclass_v6(u32::from(TOS_CS6))?;
                sock.set_recv_hoplimit_v6(true)?;
                setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)?;
                if cfg.destinations == Destinations::Multicast {
                    sock.join_multicast_v6(&GROUP_V6, cfg.ifindex)?;
                }
                if let Some(IpAddr::V6(src)) = cfg.unicast_src {
                    let scope = if src.is_unicast_link_local() {
                        cfg.ifindex
                    } else {
                        0
                    };
                    sock.bind(&SockAddr::from(SocketAddrV6::new(src, 0, 0, scope)))?;
                }
            }
        }
        Ok(VrrpSocket {
            sock,
            family: cfg.family,
            ifindex: cfg.ifindex,
            destinations: cfg.destinations.clone(),
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    /// Where adverts go: the group, or each unicast peer (each needs its own
    /// checksum, since the pseudo-header holds the destination).
    pub fn destinations(&self) -> &[IpAddr] {
        static V4: [IpAddr; 1] = [IpAddr::V4(GROUP_V4)];
        static V6: [IpAddr; 1] = [IpAddr::V6(GROUP_V6)];
        match (&self.destinations, self.family) {
            (Destinations::Unicast(peers), _) => peers,
            (Destinations::Multicast, Family::Ipv4) => &V4,
            (Destinations::Multicast, Family::Ipv6) => &V6,
        }
    }

    /// The fd to wait on (readable: a datagram is queued).
    pub fn raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Reads one queued datagram, if any, and splits it into metadata and
    /// VRRP bytes. `Ok(None)`: nothing queued. The inner `Result` says
    /// whether the datagram was well-formed enough to look at.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<Result<Datagram, RecvError>>> {
        loop {
            match recv_raw(self.sock.as_raw_fd(), self.family, buf) {
                Ok((n, meta, truncated)) => return Ok(Some(self.split(buf, n, meta, truncated))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    fn split(
        &self,
        buf: &[u8],
        n: usize,
        mut meta: RecvMeta,
        truncated: bool,
    ) -> Result<Datagram, RecvError> {
        if truncated {
            return Err(RecvError::Oversize);
        }
        let data = &buf[..n];
        if meta.ifindex == 0 {
            meta.ifindex = self.ifindex;
        }
        match self.family {
            Family::Ipv6 => Ok(Datagram {
                meta,
                vrrp: 0..n,
                ip_payload_len: n,
            }),
            Family::Ipv4 => {
                // Raw IPv4 sockets deliver the IP header; the kernel has checked
                // its checksum and lengths, but we never trust an index blindly.
                let first = *data.first().ok_or(RecvError::BadIpHeader)?;
                let ihl = usize::from(first & 0x0f) * 4;
                if first >> 4 != 4 || ihl < IPV4_HEADER_LEN || data.len() < ihl {
                    return Err(RecvError::BadIpHeader);
                }
                let total = usize::from(u16::from_be_bytes([data[2], data[3]]));
                let payload_len = total.saturating_sub(ihl);
                // The header is authoritative for the TTL when no cmsg came.
                if meta.ttl.is_none() {
                    meta.ttl = Some(data[8]);
                }
                Ok(Datagram {
                    meta,
                    vrrp: ihl..n,
                    ip_payload_len: payload_len,
                })
            }
        }
    }

    /// Sends one VRRP packet (checksum already computed for `src` → `dst`).
    /// `scratch` must hold at least `vrrp.len() + 20` bytes (IPv4 header room).
    pub fn send(
        &self,
        src: IpAddr,
        dst: IpAddr,
        vrrp: &[u8],
        scratch: &mut [u8],
        ip_id: u16,
    ) -> io::Result<()> {
        let sock = &self.sock;
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let len = IPV4_HEADER_LEN + vrrp.len();
                let pkt = scratch.get_mut(..len).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "scratch too small")
                })?;
                write_ipv4_header(pkt, s, d, ip_id);
                pkt[IPV4_HEADER_LEN..].copy_from_slice(vrrp);
                sock.send_to(pkt, &SockAddr::from(SocketAddrV4::new(d, 0)))?;
                Ok(())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => send_v6(sock.as_raw_fd(), s, d, self.ifindex, vrrp),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "source and destination of different families",
            )),
        }
    }
}

/// The 20-byte IPv4 header of an advert: TOS CS6, no fragmentation, TTL 255.
/// The kernel always fills in the header checksum (raw(7)), and the ID when it is 0.
pub fn write_ipv4_header(pkt: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, id: u16) {
    let total = u16::try_from(pkt.len()).unwrap_or(u16::MAX);
    pkt[0] = 0x45;
    pkt[1] = TOS_CS6;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[4..6].copy_from_slice(&id.to_be_bytes());
    pkt[6..8].copy_from_slice(&[0, 0]);
    pkt[8] = VRRP_TTL;
    pkt[9] = IPPROTO_VRRP as u8;
    pkt[10..12].copy_from_slice(&[0, 0]);
    pkt[12..16].copy_from_slice(&src.octets());
    pkt[16..20].copy_from_slice(&dst.octets());
}

fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passes a pointer to a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Control-message buffer with room for TTL/hop limit and pktinfo, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct CmsgBuf([u8; 128]);

/// `recvmsg` with control messages, no allocation. Returns the length, the
/// metadata, and whether the datagram was cut (longer than `buf`).
fn recv_raw(fd: RawFd, family: Family, buf: &mut [u8]) -> io::Result<(usize, RecvMeta, bool)> {
    let mut name = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut cbuf = CmsgBuf([0; 128]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = name.as_mut_ptr().cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.0.len() as _;
    // SAFETY: every pointer in msg refers to a live buffer of the stated length.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    let truncated = msg.msg_flags & libc::MSG_TRUNC != 0;

    // SAFETY: the kernel wrote a sockaddr of msg_namelen bytes into `name`.
    let src = unsafe { sockaddr_ip(name.as_ptr(), msg.msg_namelen) };
    let mut meta = RecvMeta {
        src: src.unwrap_or(match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        }),
        dst: match family {
            Family::Ipv4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Ipv6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        },
        ttl: None,
        ifindex: 0,
        queue_drops: None,
    };

    // SAFETY: CMSG_* walk the control buffer the kernel filled, bounded by
    // msg_controllen; each payload is read unaligned with its documented type.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let data = libc::CMSG_DATA(cmsg);
            match (c.cmsg_level, c.cmsg_type) {
                (libc::IPPROTO_IP, libc::IP_TTL) => {
                    let v = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    meta.ttl = u8::try_from(v).ok();
                }
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let pi = std::ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                    meta.dst = IpAddr::V4(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr)));
                    meta.ifindex = pi.ipi_ifindex as u32;
                }
                (libc::SOL_SOCKET, libc::SO_RXQ_OVFL) => {
                    meta.queue_drops = Some(std::ptr::read_unaligned(data.cast::<u32>()));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                    let v = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    meta.ttl = u8::try_from(v).ok();
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    let pi = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    meta.dst = IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr));
                    meta.ifindex = pi.ipi6_ifindex;
                }
                _ => {}
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n, meta, truncated))
}

/// Reads an IPv4/IPv6 address out of a kernel-filled sockaddr.
///
/// # Safety
/// `sa` must point to at least `len` initialised bytes of a sockaddr.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr_storage, len: libc::socklen_t) -> Option<IpAddr> {
    // SAFETY: the caller guarantees `len` bytes; each cast is checked against it.
    unsafe {
        match i32::from((*sa).ss_family) {
            libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
                let sin = &*sa.cast::<libc::sockaddr_in>();
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))))
            }
            libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
                let sin6 = &*sa.cast::<libc::sockaddr_in6>();
                Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

/// `sendmsg` with `IPV6_PKTINFO` choosing the source address and interface.
fn send_v6(
    fd: RawFd,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ifindex: u32,
    payload: &[u8],
) -> io::Result<()> {
    let scope = if dst.is_unicast_link_local() || dst.is_multicast() {
        ifindex
    } else {
        0
    };
    let to: SockAddr = SocketAddr::V6(SocketAddrV6::new(dst, 0, 0, scope)).into();
    let mut cbuf = CmsgBuf([0; 128]);
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid starting value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = to.as_ptr() as *mut libc::c_void;
    msg.msg_namelen = to.len();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.0.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) } as usize;
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is aligned and larger than `space`; we write
    // exactly one cmsg header and its in6_pktinfo payload inside it.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::IPPROTO_IPV6;
        (*cmsg).cmsg_type = libc::IPV6_PKTINFO;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as _;
        let pi = libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: src.octets(),
            },
            ipi6_ifindex: ifindex,
        };
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::in6_pktinfo>(), pi);
    }
    // SAFETY: msg points at live buffers for the duration of the call.
    let rc = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_matches_keepalived_capture() {
        // Frame 1 of shared/reference/pcaps/vrrp-v3.pcap: 10.99.0.11 → 224.0.0.18,
        // TOS 0xc0, ID 1, TTL 255, proto 112, total 32 (the kernel adds the checksum).
        let mut pkt = [0u8; 32];
        write_ipv4_header(&mut pkt, Ipv4Addr::new(10, 99, 0, 11), GROUP_V4, 1);
        assert_eq!(
            &pkt[..20],
            &[
                0x45, 0xc0, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0, 0, 10, 99, 0, 11,
                224, 0, 0, 18
            ]
        );
    }
}
