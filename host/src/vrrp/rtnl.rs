//! A small synchronous rtnetlink client: links and addresses.
//!
//! Requests are local and answered in microseconds, so the driver calls them
//! inline rather than through a connection task: on a takeover the VIPs are
//! added before anything else is awaited. Each driver owns one `Rtnl`.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
    State,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// What went wrong talking to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum RtnlError {
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    #[error("kernel refused {what}: {source}")]
    Refused {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("undecodable netlink reply: {0}")]
    Decode(String),
}

impl RtnlError {
    /// The errno the kernel answered with, if it refused.
    pub fn errno(&self) -> Option<i32> {
        match self {
            RtnlError::Refused { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The facts about a link the driver needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// Administratively up (IFF_UP).
    pub admin_up: bool,
    /// Able to pass packets: IFF_RUNNING (carrier) and not operationally down.
    pub running: bool,
    /// `macvlan`, `veth`, ... when the kernel says.
    pub kind: Option<String>,
    /// For stacked links (macvlan), the index of the lower link.
    pub parent: Option<u32>,
}

/// One address on a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix: u8,
    pub label: Option<String>,
    pub secondary: bool,
    /// IPv6 tentative (DAD in progress) or failed.
    pub tentative: bool,
}

/// A route netlink socket plus a reusable receive buffer.
pub struct Rtnl {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

const RECV_BUF: usize = 64 * 1024;

impl Rtnl {
    pub fn open() -> Result<Rtnl, RtnlError> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Report errors with the request's sequence number, and ignore NLM_F_DUMP_INTR
        // subtleties: our dumps are small and retried by the next reconcile.
        let _ = sock.set_ext_ack(true);
        Ok(Rtnl {
            sock,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32, RtnlError> {
        let seq = self.next_seq();
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        nl.finalize();
        let mut out = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock.send(&out, 0)?;
        Ok(seq)
    }

    /// Sends a request and waits for its ack; `Ok` unless the kernel refused.
    fn request(
        &mut self,
        what: &'static str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<(), RtnlError> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        let mut result = None;
        self.read_replies(seq, |payload| {
            if let NetlinkPayload::Error(e) = payload {
                result = Some(match e.code {
                    None => Ok(()),
                    Some(_) => Err(RtnlError::Refused {
                        what,
                        source: e.to_io(),
                    }),
                });
                return false;
            }
            true
        })?;
        result.unwrap_or(Ok(()))
    }

    /// Sends a dump request and collects every inner message.
    fn dump(
        &mut self,
        what: &'static str,
        msg: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, RtnlError> {
        let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP)?;
        let mut out = Vec::new();
        let mut err = None;
        self.read_replies(seq, |payload| match payload {
            NetlinkPayload::InnerMessage(m) => {
                out.push(m);
                true
            }
            NetlinkPayload::Error(e) if e.code.is_some() => {
                err = Some(RtnlError::Refused {
                    what,
                    source: e.to_io(),
                });
                false
            }
            NetlinkPayload::Done(_) | NetlinkPayload::Error(_) => false,
            _ => true,
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Reads datagrams until `on` returns false for a message with `seq`.
    fn read_replies(
        &mut self,
        seq: u32,
        mut on: impl FnMut(NetlinkPayload<RouteNetlinkMessage>) -> bool,
    ) -> Result<(), RtnlError> {
        loop {
            self.buf.clear();
            match self.sock.recv(&mut self.buf, 0) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            let mut off = 0;
            while off < self.buf.len() {
                let bytes = &self.buf[off..];
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                    .map_err(|e| RtnlError::Decode(e.to_string()))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Err(RtnlError::Decode("zero-length netlink message".into()));
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue; // a stale reply to an earlier, abandoned request
                }
                if !on(msg.payload) {
                    return Ok(());
                }
            }
        }
    }

    /// Looks a link up by name; `None` if it does not exist.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>, RtnlError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        self.get_link(msg)
    }

    /// Looks a link up by index; `None` if it does not exist.
    pub fn link_by_index(&mut self, index: u32) -> Result<Option<Link>, RtnlError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.get_link(msg)
    }

    fn get_link(&mut self, msg: LinkMessage) -> Result<Option<Link>, RtnlError> {
        let seq = self.send(RouteNetlinkMessage::GetLink(msg), NLM_F_REQUEST)?;
        let mut found = None;
        let mut err = None;
        self.read_replies(seq, |payload| {
            match payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    found = Some(link_from(&l))
                }
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    let io = e.to_io();
                    if io.raw_os_error() != Some(libc::ENODEV) {
                        err = Some(RtnlError::Refused {
                            what: "link lookup",
                            source: io,
                        });
                    }
                }
                _ => {}
            }
            false
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    /// Addresses of one family on a link.
    pub fn addresses(
        &mut self,
        index: u32,
        family: AddressFamily,
    ) -> Result<Vec<IfAddr>, RtnlError> {
        let mut msg = AddressMessage::default();
        msg.header.family = family;
        msg.header.index = index;
        let replies = self.dump("address dump", RouteNetlinkMessage::GetAddress(msg))?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => addr_from(a),
                _ => None,
            })
            .collect())
    }

    /// Adds an address. `Ok(false)` if it was already there (idempotent).
    pub fn add_address(
        &mut self,
        index: u32,
        addr: IpAddr,
        prefix: u8,
        label: Option<&str>,
    ) -> Result<bool, RtnlError> {
        let msg = address_message(index, addr, prefix, label, true);
        match self.request(
            "address add",
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes an address. `Ok(false)` if it was not there (idempotent).
    pub fn del_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> Result<bool, RtnlError> {
        let msg = address_message(index, addr, prefix, None, false);
        match self.request("address delete", RouteNetlinkMessage::DelAddress(msg), 0) {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.errno(),
                    Some(libc::EADDRNOTAVAIL | libc::ENOENT | libc::ENODEV)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a macvlan on `parent` with a fixed MAC, mode private (the
    /// VRRP virtual MAC must not answer for the parent's own addresses).
    pub fn add_macvlan(&mut self, parent: u32, name: &str, mac: [u8; 6]) -> Result<(), RtnlError> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        msg.attributes.push(LinkAttribute::Link(parent));
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Private,
            )])),
        ]));
        self.request(
            "macvlan create",
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Sets a link administratively up or down.
    pub fn set_link_up(&mut self, index: u32, up: bool) -> Result<(), RtnlError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.change_mask = LinkFlags::Up;
        if up {
            msg.header.flags = LinkFlags::Up;
        }
        self.request("link set", RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// Deletes a link; `Ok(false)` if it was already gone.
    pub fn del_link(&mut self, index: u32) -> Result<bool, RtnlError> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        match self.request("link delete", RouteNetlinkMessage::DelLink(msg), 0) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn address_message(
    index: u32,
    addr: IpAddr,
    prefix: u8,
    label: Option<&str>,
    adding: bool,
) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = prefix;
    match addr {
        IpAddr::V4(_) => {
            msg.header.family = AddressFamily::Inet;
            msg.attributes.push(AddressAttribute::Local(addr));
            msg.attributes.push(AddressAttribute::Address(addr));
            if let Some(l) = label {
                msg.attributes.push(AddressAttribute::Label(l.to_owned()));
            }
        }
        IpAddr::V6(_) => {
            msg.header.family = AddressFamily::Inet6;
            msg.attributes.push(AddressAttribute::Address(addr));
            if adding {
                // A VIP is already in use elsewhere the moment it moves: DAD would
                // only delay it (or fail it) for a second or more.
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
    }
    msg
}

fn link_from(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        mac: None,
        admin_up: l.header.flags.contains(LinkFlags::Up),
        running: l.header.flags.contains(LinkFlags::Up)
            && l.header.flags.contains(LinkFlags::Running),
        kind: None,
        parent: None,
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Address(m) => link.mac = <[u8; 6]>::try_from(m.as_slice()).ok(),
            LinkAttribute::OperState(State::Down | State::LowerLayerDown | State::NotPresent) => {
                link.running = false
            }
            LinkAttribute::Link(p) => link.parent = Some(*p),
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        link.kind = Some(k.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    link
}

/// Parses an address message; public so the link monitor can reuse it.
pub fn addr_from(a: &AddressMessage) -> Option<IfAddr> {
    let mut local = None;
    let mut address = None;
    let mut label = None;
    let mut flags = AddressFlags::from_bits_retain(u32::from(a.header.flags.bits()));
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Flags(f) => flags = *f,
            _ => {}
        }
    }
    Some(IfAddr {
        addr: local.or(address)?,
        prefix: a.header.prefix_len,
        label,
        secondary: flags.contains(AddressFlags::Secondary),
        tentative: flags.intersects(AddressFlags::Tentative | AddressFlags::Dadfailed),
    })
}

/// Parses a link message; public so the link monitor can reuse it.
pub fn link_from_message(l: &LinkMessage) -> Link {
    link_from(l)
}
