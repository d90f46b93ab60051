//! IPVS generic netlink messages: requests we send and replies we parse,
//! framed by `netlink-packet-generic` / `netlink-packet-core`.

use std::net::SocketAddr;

use netlink_packet_core::{
    Emitable, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};

use super::WireError;
use super::attr::{AttrSink, AttrTable, LenCounter, SliceWriter};
use super::codec::{self, DestConns, Info};
use super::consts::*;
use crate::ipvs::{Dest, Family, Service, ServiceKey};

/// A request to the kernel. Borrowing keeps large batches cheap to frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    NewService(&'a Service),
    SetService(&'a Service),
    DelService(&'a ServiceKey),
    NewDest(&'a ServiceKey, &'a Dest),
    SetDest(&'a ServiceKey, &'a Dest),
    DelDest(&'a ServiceKey, &'a SocketAddr),
    /// Dump of every service (with `NLM_F_DUMP`).
    DumpServices,
    /// Dump of one service's destinations (with `NLM_F_DUMP`).
    DumpDests(&'a ServiceKey),
    GetInfo,
    /// Removes every service, ours or not: tests and benchmarks only.
    Flush,
}

impl Request<'_> {
    pub fn cmd(&self) -> u8 {
        match self {
            Request::NewService(_) => IPVS_CMD_NEW_SERVICE,
            Request::SetService(_) => IPVS_CMD_SET_SERVICE,
            Request::DelService(_) => IPVS_CMD_DEL_SERVICE,
            Request::NewDest(..) => IPVS_CMD_NEW_DEST,
            Request::SetDest(..) => IPVS_CMD_SET_DEST,
            Request::DelDest(..) => IPVS_CMD_DEL_DEST,
            Request::DumpServices => IPVS_CMD_GET_SERVICE,
            Request::DumpDests(_) => IPVS_CMD_GET_DEST,
            Request::GetInfo => IPVS_CMD_GET_INFO,
            Request::Flush => IPVS_CMD_FLUSH,
        }
    }

    /// Whether the request changes kernel state (counted as a write).
    pub fn is_write(&self) -> bool {
        !matches!(
            self,
            Request::DumpServices | Request::DumpDests(_) | Request::GetInfo
        )
    }

    pub fn is_dump(&self) -> bool {
        matches!(self, Request::DumpServices | Request::DumpDests(_))
    }

    fn emit_attrs<S: AttrSink>(&self, s: &mut S) {
        let service = |s: &mut S, f: &dyn Fn(&mut S)| {
            let n = s.begin_nested(IPVS_CMD_ATTR_SERVICE);
            f(s);
            s.end_nested(n);
        };
        let dest = |s: &mut S, f: &dyn Fn(&mut S)| {
            let n = s.begin_nested(IPVS_CMD_ATTR_DEST);
            f(s);
            s.end_nested(n);
        };
        match self {
            Request::NewService(svc) | Request::SetService(svc) => {
                service(s, &|s| codec::emit_service(svc, s))
            }
            Request::DelService(key) | Request::DumpDests(key) => {
                service(s, &|s| codec::emit_service_key(key, s))
            }
            Request::NewDest(key, d) | Request::SetDest(key, d) => {
                service(s, &|s| codec::emit_service_key(key, s));
                dest(s, &|s| codec::emit_dest(d, s));
            }
            Request::DelDest(key, addr) => {
                service(s, &|s| codec::emit_service_key(key, s));
                dest(s, &|s| codec::emit_dest_key(addr, s));
            }
            Request::DumpServices | Request::GetInfo | Request::Flush => {}
        }
    }

    /// Frames the request as a complete netlink message into `out`
    /// (appended, 4-byte aligned) and returns its length.
    pub fn frame(&self, family_id: u16, seq: u32, ack: bool, out: &mut Vec<u8>) -> usize {
        let mut flags = NLM_F_REQUEST;
        if self.is_dump() {
            flags |= NLM_F_DUMP;
        }
        if ack {
            flags |= NLM_F_ACK;
        }
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = seq;
        let genl = GenlMessage::new(
            GenlHeader {
                cmd: self.cmd(),
                version: IPVS_GENL_VERSION,
            },
            *self,
            family_id,
        );
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(genl));
        msg.finalize();
        let len = msg.buffer_len();
        let start = out.len();
        out.resize(start + len, 0);
        msg.serialize(&mut out[start..]);
        len
    }
}

impl GenlFamily for Request<'_> {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }
    fn command(&self) -> u8 {
        self.cmd()
    }
    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for Request<'_> {
    fn buffer_len(&self) -> usize {
        let mut c = LenCounter::default();
        self.emit_attrs(&mut c);
        c.0
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.emit_attrs(&mut SliceWriter::new(buffer));
    }
}

/// A message from the kernel in the IPVS family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// One service of a dump (command `NEW_SERVICE`).
    Service(Service),
    /// One destination of a dump (command `NEW_DEST`), with its
    /// destination family resolved against `service_family` if needed.
    Dest(Dest, DestConns),
    Info(Info),
    /// A command we do not read (kept so a stray message is not an error).
    Other {
        cmd: u8,
    },
}

/// What parsing needs beyond the bytes: the family of the service whose
/// destinations are being dumped (older kernels omit it per destination).
#[derive(Debug, Clone, Copy)]
pub struct ReplyContext {
    pub service_family: Family,
}

impl Reply {
    /// Parses the generic netlink payload (after the `genlmsghdr`).
    pub fn parse(cmd: u8, attrs: &[u8], ctx: ReplyContext) -> Result<Reply, WireError> {
        let t: AttrTable<'_, { IPVS_CMD_ATTR_MAX + 1 }> = AttrTable::parse(attrs, "message")?;
        match cmd {
            IPVS_CMD_NEW_SERVICE => Ok(Reply::Service(codec::parse_service(
                t.required(IPVS_CMD_ATTR_SERVICE, "service")?,
            )?)),
            IPVS_CMD_NEW_DEST => {
                let (d, c) =
                    codec::parse_dest(t.required(IPVS_CMD_ATTR_DEST, "dest")?, ctx.service_family)?;
                Ok(Reply::Dest(d, c))
            }
            // The info reply carries its attributes at the top level.
            IPVS_CMD_SET_INFO => Ok(Reply::Info(codec::parse_info(attrs)?)),
            cmd => Ok(Reply::Other { cmd }),
        }
    }
}
