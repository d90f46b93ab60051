//! Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6),
//! sent through a packet socket so the frames are exactly ours: Keepalived's
//! shape (ARP request, sender = target = VIP, target MAC broadcast; NA with
//! Override set, to ff02::1, from the link-local address).
//!
//! Frames are built once per VIP when the sender is created, so a takeover
//! only copies nothing and calls `sendto`.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::vrrp::wire::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV6};
use crate::vrrp::wire::{ArpRepr, MacAddr, NaRepr, WireError};

/// The frames for one VIP.
#[derive(Debug, Clone)]
struct Frame {
    addr: IpAddr,
    bytes: Vec<u8>,
    dst: MacAddr,
    ethertype: u16,
}

/// Sends announcements for a fixed set of VIPs out of one interface.
#[derive(Debug)]
pub struct GarpSender {
    fd: OwnedFd,
    ifindex: u32,
    frames: Vec<Frame>,
}

impl GarpSender {
    /// Opens a send-only packet socket on `ifindex` and prebuilds a frame per VIP.
    /// `link_local` is the IPv6 source of NAs (the VIP itself when there is none).
    pub fn new(
        ifindex: u32,
        mac: MacAddr,
        link_local: Option<Ipv6Addr>,
        vips: &[IpAddr],
    ) -> io::Result<GarpSender> {
        let frames = vips
            .iter()
            .map(|vip| build_frame(mac, link_local, *vip))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // Protocol 0: this socket never receives, so it costs nothing on the rx path.
        // SAFETY: plain socket(2) call; the fd is owned right after.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(GarpSender {
            fd,
            ifindex,
            frames,
        })
    }

    /// Rebuilds the NA frames with `link_local` as their IPv6 source (it may
    /// not have existed yet, DAD pending, when the sender was made).
    pub fn set_link_local(&mut self, mac: MacAddr, link_local: Ipv6Addr) -> io::Result<()> {
        for f in &mut self.frames {
            if f.addr.is_ipv6() {
                *f = build_frame(mac, Some(link_local), f.addr)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            }
        }
        Ok(())
    }

    /// Sends `repeat` announcements for each of `addrs` (those we have frames
    /// for), back to back; returns how many frames went out.
    pub fn announce(&self, addrs: &[IpAddr], repeat: u32) -> io::Result<usize> {
        let mut sent = 0;
        let mut first_err = None;
        for frame in self.frames.iter().filter(|f| addrs.contains(&f.addr)) {
            for _ in 0..repeat {
                match self.send(frame) {
                    Ok(()) => sent += 1,
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) if sent == 0 => Err(e),
            _ => Ok(sent),
        }
    }

    fn send(&self, frame: &Frame) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = frame.ethertype.to_be();
        sll.sll_ifindex = self.ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame.dst.0);
        // SAFETY: the buffer and the sockaddr are live and their lengths exact.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.bytes.as_ptr().cast(),
                frame.bytes.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

fn build_frame(
    mac: MacAddr,
    link_local: Option<Ipv6Addr>,
    vip: IpAddr,
) -> Result<Frame, WireError> {
    Ok(match vip {
        IpAddr::V4(v4) => Frame {
            addr: vip,
            bytes: ArpRepr::gratuitous(mac, v4).to_frame().to_vec(),
            dst: MacAddr::BROADCAST,
            ethertype: ETHERTYPE_ARP,
        },
        IpAddr::V6(v6) => {
            let src = link_local.unwrap_or(v6);
            let frame = NaRepr::unsolicited(mac, v6, false).to_frame(mac, src)?;
            Frame {
                addr: vip,
                dst: MacAddr([frame[0], frame[1], frame[2], frame[3], frame[4], frame[5]]),
                bytes: frame.to_vec(),
                ethertype: ETHERTYPE_IPV6,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn arp_frame_matches_keepalived_capture() {
        // Frame 2 of shared/reference/pcaps/vrrp-v3.pcap, byte for byte.
        let want: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x99, 0x00, 0x11, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x99, 0x00, 0x11,
            0x0a, 0x63, 0x00, 0x32, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0x63, 0x00, 0x32,
        ];
        let mac = MacAddr([0x02, 0x00, 0x00, 0x99, 0x00, 0x11]);
        let f = build_frame(mac, None, IpAddr::V4(Ipv4Addr::new(10, 99, 0, 50))).unwrap();
        assert_eq!(f.bytes, want);
        assert_eq!(f.dst, MacAddr::BROADCAST);
    }

    #[test]
    fn na_frame_is_unsolicited_override_to_all_nodes() {
        let mac = MacAddr([0x02, 0, 0, 0, 0, 1]);
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
        let f = build_frame(mac, Some(ll), IpAddr::V6(vip)).unwrap();
        let b = &f.bytes;
        assert_eq!(&b[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(&b[12..14], &[0x86, 0xdd]);
        assert_eq!(b[14 + 7], 255, "hop limit");
        assert_eq!(&b[14 + 8..14 + 24], &ll.octets());
        let icmp = &b[54..];
        assert_eq!(icmp[0], 136);
        assert_eq!(icmp[4], 0x20, "override only");
        assert_eq!(&icmp[8..24], &vip.octets());
        assert_eq!(&icmp[24..32], &[2, 1, 0x02, 0, 0, 0, 0, 1]);
        // The codec's parser checks the checksum.
        NaRepr::parse(icmp, ll, "ff02::1".parse().unwrap()).unwrap();
    }
}
