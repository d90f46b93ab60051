//! The IPVS generic netlink wire format, without I/O: requests are framed
//! into bytes, received bytes are split into frames and parsed into
//! replies. Malformed input is a [`WireError`], never a panic.

pub mod attr;
pub mod codec;
pub mod consts;
pub mod frame;
pub mod message;

pub use codec::{DestConns, Info};
pub use frame::{Frame, FrameKind, Frames};
pub use message::{Reply, ReplyContext, Request};

/// Bytes that do not form what the kernel should have sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("{what} lacks attribute `{attr}`")]
    Missing {
        what: &'static str,
        attr: &'static str,
    },
    #[error("{what} attribute `{attr}` has bad length {len}")]
    BadLength {
        what: &'static str,
        attr: &'static str,
        len: usize,
    },
    #[error("{what} attribute `{attr}`: {detail}")]
    BadValue {
        what: &'static str,
        attr: &'static str,
        detail: String,
    },
}

#[cfg(test)]
mod tests;
