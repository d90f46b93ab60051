//! Link and address change notifications (rtnetlink multicast groups), so an
//! instance enters Fault the moment its interface goes down, and learns when
//! its primary address appears or disappears.

use std::io;
use std::os::fd::AsRawFd;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

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
    fd: AsyncFd<Socket>,
    ifindex: u32,
    buf: Vec<u8>,
}

impl LinkWatch {
    /// Subscribes to link and address changes; must run inside a tokio runtime.
    pub fn open(ifindex: u32) -> io::Result<LinkWatch> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(
            0,
            RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
        ))?;
        sock.set_non_blocking(true)?;
        // SAFETY: the Socket owns its fd and keeps it open until the AsyncFd drops it.
        let fd = unsafe { AsyncFd::register_with_interest(sock, Interest::READABLE)? };
        Ok(LinkWatch {
            fd,
            ifindex,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Waits for notifications and appends those about our link to `out`.
    /// A lost notification (ENOBUFS) is reported as an error so the caller can
    /// re-read the link state.
    pub async fn next(&mut self, out: &mut Vec<LinkEvent>) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            self.buf.clear();
            let buf = &mut self.buf;
            match guard.try_io(|s| s.get_ref().recv(buf, 0)) {
                Ok(Ok(_)) => break,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
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
        Ok(())
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }
}
