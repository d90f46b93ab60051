//! Splitting a received datagram into netlink messages, read in place with
//! `netlink-packet-core`'s checked buffer views (no copies, no panics).

use netlink_packet_core::{
    ErrorBuffer, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NetlinkBuffer,
};
use netlink_packet_generic::GenlHeader;

use super::WireError;

/// `NLM_F_MULTI`: part of a multipart (dump) reply.
pub const NLM_F_MULTI: u16 = 0x02;
/// `NLM_F_DUMP_INTR`: the dump was interrupted by a change; redo it.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HDRLEN: usize = 16;

/// What one netlink message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameKind<'a> {
    /// An acknowledgement (`code == 0`) or an error (`code = -errno`), with
    /// the kernel's extended-ack text when it gave one.
    Ack { code: i32, message: Option<String> },
    /// End of a dump.
    Done,
    /// A message of a generic netlink family.
    Genl { cmd: u8, attrs: &'a [u8] },
    /// Something we skip (NOOP, or an unexpected type).
    Skip,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub seq: u32,
    pub port: u32,
    pub flags: u16,
    pub kind: FrameKind<'a>,
}

/// Iterates the messages of one datagram; stops at the first malformed one.
pub struct Frames<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Frames<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Frames { buf, pos: 0 }
    }

    fn next_frame(&mut self) -> Result<Frame<'a>, WireError> {
        let rest = &self.buf[self.pos..];
        let nl = NetlinkBuffer::new_checked(rest).map_err(|e| WireError::Malformed {
            what: "netlink message",
            detail: e.to_string(),
        })?;
        let len = nl.length() as usize;
        self.pos += ((len + 3) & !3).max(NLMSG_HDRLEN);
        let payload = &rest[NLMSG_HDRLEN..len];
        let kind = match nl.message_type() {
            NLMSG_ERROR => parse_ack(payload, nl.flags())?,
            NLMSG_DONE => FrameKind::Done,
            NLMSG_NOOP => FrameKind::Skip,
            NLMSG_OVERRUN => {
                return Err(WireError::Malformed {
                    what: "netlink message",
                    detail: "kernel reported NLMSG_OVERRUN".into(),
                });
            }
            t if t < 16 => FrameKind::Skip, // reserved control types
            _ => {
                let h = GenlHeader::parse(payload).map_err(|e| WireError::Malformed {
                    what: "generic netlink header",
                    detail: e.to_string(),
                })?;
                FrameKind::Genl {
                    cmd: h.cmd,
                    attrs: &payload[4..],
                }
            }
        };
        Ok(Frame {
            seq: nl.sequence_number(),
            port: nl.port_number(),
            flags: nl.flags(),
            kind,
        })
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let r = self.next_frame();
        if r.is_err() {
            self.pos = self.buf.len();
        }
        Some(r)
    }
}

fn parse_ack(payload: &[u8], flags: u16) -> Result<FrameKind<'_>, WireError> {
    let eb = ErrorBuffer::new_checked(payload).map_err(|e| WireError::Malformed {
        what: "netlink error",
        detail: e.to_string(),
    })?;
    let code = eb.code().map_or(0, |c| c.get());
    let mut message = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        // After the code: the original header, plus its payload unless capped.
        let orig = eb.payload();
        let skip = if flags & NLM_F_CAPPED != 0 || orig.len() < NLMSG_HDRLEN {
            NLMSG_HDRLEN
        } else {
            let l = u32::from_ne_bytes([orig[0], orig[1], orig[2], orig[3]]) as usize;
            (l + 3) & !3
        };
        if let Some(tlvs) = orig.get(skip..) {
            for nla in netlink_packet_core::NlasIterator::new(tlvs).flatten() {
                if nla.kind() == NLMSGERR_ATTR_MSG {
                    let v = nla.value();
                    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
                    message = Some(String::from_utf8_lossy(&v[..end]).into_owned());
                }
            }
        }
    }
    Ok(FrameKind::Ack { code, message })
}
