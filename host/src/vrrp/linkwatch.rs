//! Link and address change notifications (rtnetlink multicast groups), so an
//! instance enters Fault the moment its interface goes down, and learns when
//! its primary address appears or disappears.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

use super::rtnl::{IfAddr, Link, addr_from, link_from_message};

const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;

/// One change on the watched link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    Link(Link),
    /// The link was deleted.
    Gone,
    AddrAdded(IfAddr),
    AddrRemoved(IfAddr),
}

/// Notifications for one interface index.
pub struct LinkWatch {
    sock: Socket,
    ifindex: u32,
    buf: Vec<u8>,
}

impl LinkWatch {
    /// Subscribes to link and address changes (non-blocking socket).
    pub fn open(ifindex: u32) -> io::Result<LinkWatch> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(
            0,
            RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
        ))?;
        sock.set_non_blocking(true)?;
        Ok(LinkWatch {
            sock,
            ifindex,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// The fd to wait on (readable: a notification is queued).
    pub fn raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// Reads one queued datagram of notifications, if any, and appends those
    /// about our link to `out`; `Ok(false)` when nothing was queued. A lost
    /// notification (ENOBUFS) is an error: the caller re-reads the link.
    pub fn try_next(&mut self, out: &mut Vec<LinkEvent>) -> io::Result<bool> {
        loop {
            self.buf.clear();
            match self.sock.recv(&mut self.buf, 0) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let mut off = 0;
        while off < self.buf.len() {
            let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..])
            else {
                break;
            };
            let len = msg.header.length as usize;
            if len == 0 {
                break;
            }
            off += (len + 3) & !3;
            let NetlinkPayload::InnerMessage(m) = msg.payload else {
                continue;
            };
            match m {
                RouteNetlinkMessage::NewLink(l) if l.header.index == self.ifindex => {
                    out.push(LinkEvent::Link(link_from_message(&l)))
                }
                RouteNetlinkMessage::DelLink(l) if l.header.index == self.ifindex => {
                    out.push(LinkEvent::Gone)
                }
                RouteNetlinkMessage::NewAddress(a) if a.header.index == self.ifindex => {
                    if let Some(a) = addr_from(&a) {
                        out.push(LinkEvent::AddrAdded(a));
                    }
                }
                RouteNetlinkMessage::DelAddress(a) if a.header.index == self.ifindex => {
                    if let Some(a) = addr_from(&a) {
                        out.push(LinkEvent::AddrRemoved(a));
                    }
                }
                _ => {}
            }
        }
        Ok(true)
    }
}
