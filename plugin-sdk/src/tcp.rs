//! Outbound TCP with deadlines, straight on `wasi:sockets` (no wasi-libc
//! socket emulation): every step is bounded by a timeout, and errors keep the
//! host's error code, so "connection refused" and "denied by host policy" are
//! told apart.
//!
//! `std::net::TcpStream` also works on wasm32-wasip2, but it goes through
//! wasi-libc, has no connect timeout there, and turns name lookups into
//! `wasi:sockets/ip-name-lookup` imports, which this world does not grant.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

use crate::Target;
use crate::report::quote;
use crate::time::{Deadline, Stopwatch};

/// Bytes of response kept while looking for an expected string.
pub const MAX_RESPONSE: usize = 64 * 1024;
/// Bytes of response shown in a "not found" reason.
const SHOWN: usize = 64;

/// Why a TCP step failed; `Display` is the reason an operator sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    /// The target host is a name, not an address.
    NotAnAddress(String),
    Refused,
    /// The host's sandbox did not allow this address.
    Denied(SocketAddr),
    ConnectTimeout(Duration),
    Unreachable,
    Reset,
    /// The peer closed before the operation finished.
    Closed,
    SendTimeout,
    ReadTimeout,
    /// The expected bytes were not in the response.
    NotFound {
        expected: Vec<u8>,
        got: Vec<u8>,
    },
    Other(String),
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::NotAnAddress(h) => write!(
                f,
                "target host '{h}' is not an IP address (plugins cannot resolve names)"
            ),
            NetError::Refused => f.write_str("connection refused"),
            NetError::Denied(a) => write!(f, "connection to {a} denied by host policy"),
            NetError::ConnectTimeout(t) => write!(f, "connect timed out after {}ms", t.as_millis()),
            NetError::Unreachable => f.write_str("host unreachable"),
            NetError::Reset => f.write_str("connection reset by peer"),
            NetError::Closed => f.write_str("connection closed by peer"),
            NetError::SendTimeout => f.write_str("timed out sending request"),
            NetError::ReadTimeout => f.write_str("timed out waiting for response"),
            NetError::NotFound { expected, got } => write!(
                f,
                "expected '{}' not found in response (got {} bytes: '{}')",
                quote(expected, SHOWN),
                got.len(),
                quote(got, SHOWN)
            ),
            NetError::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for NetError {}

fn from_code(code: ErrorCode, addr: SocketAddr, timeout: Duration) -> NetError {
    match code {
        ErrorCode::ConnectionRefused => NetError::Refused,
        ErrorCode::AccessDenied => NetError::Denied(addr),
        ErrorCode::Timeout => NetError::ConnectTimeout(timeout),
        ErrorCode::RemoteUnreachable => NetError::Unreachable,
        ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted => NetError::Reset,
        other => NetError::Other(format!("socket error: {other:?}")),
    }
}

fn from_stream(e: StreamError) -> NetError {
    match e {
        StreamError::Closed => NetError::Closed,
        // `network-error-code` is unstable in WASI 0.2, so the host's text is
        // the best detail available; resets are common enough to recognise.
        StreamError::LastOperationFailed(err) => {
            let text = err.to_debug_string();
            if text.to_ascii_lowercase().contains("reset") {
                NetError::Reset
            } else {
                NetError::Other(format!("stream error: {text}"))
            }
        }
    }
}

/// The target as a socket address. Accepts "192.0.2.1", "2001:db8::1" and
/// "[2001:db8::1]".
pub fn target_addr(target: &Target) -> Result<SocketAddr, NetError> {
    let host = target.host.trim();
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, target.port))
        .map_err(|_| NetError::NotAnAddress(host.to_owned()))
}

/// What a host-run [`probe`] measured and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// Set once connected.
    pub connect_ms: Option<f64>,
    /// Set when a response was waited for (found or not).
    pub response_ms: Option<f64>,
    pub error: Option<NetError>,
}

/// Connects to the check's target, optionally sends `send` and waits for
/// `expect` (empty: any byte), each step within `timeout`, all run by the
/// host in one call (`belay:check/tcp-probe`). Much cheaper than
/// [`connect`] + [`Conn::send`] + [`Conn::expect`], with the same errors; use
/// [`connect`] when a check needs a conversation.
pub fn probe(
    target: &Target,
    timeout: Duration,
    send: Option<&[u8]>,
    expect: Option<&[u8]>,
) -> Probed {
    use crate::bindings::belay::check::tcp_probe::{self as host, ProbeError};
    let request = host::Request {
        timeout_ms: u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX),
        send: send.map(<[u8]>::to_vec),
        expect: expect.map(<[u8]>::to_vec),
    };
    let out = host::probe(target, &request);
    let denied_addr =
        || target_addr(target).unwrap_or(SocketAddr::from(([0, 0, 0, 0], target.port)));
    let error = out.error.map(|e| match e {
        ProbeError::NotAnAddress(h) => NetError::NotAnAddress(h),
        ProbeError::Refused => NetError::Refused,
        ProbeError::Denied => NetError::Denied(denied_addr()),
        ProbeError::ConnectTimeout => NetError::ConnectTimeout(timeout),
        ProbeError::Unreachable => NetError::Unreachable,
        ProbeError::Reset => NetError::Reset,
        ProbeError::Closed => NetError::Closed,
        ProbeError::SendTimeout => NetError::SendTimeout,
        ProbeError::ReadTimeout => NetError::ReadTimeout,
        ProbeError::NotFound(got) => NetError::NotFound {
            expected: expect.unwrap_or_default().to_vec(),
            got,
        },
        ProbeError::Other(s) => NetError::Other(s),
    });
    Probed {
        connect_ms: out.connect_ms,
        response_ms: out.response_ms,
        error,
    }
}

/// Connects to the check's target within `timeout`.
pub fn connect(target: &Target, timeout: Duration) -> Result<Conn, NetError> {
    connect_addr(target_addr(target)?, timeout)
}

/// Connects to `addr` within `timeout`. The host only allows the addresses
/// its configuration names; others fail with [`NetError::Denied`].
pub fn connect_addr(addr: SocketAddr, timeout: Duration) -> Result<Conn, NetError> {
    let watch = Stopwatch::start();
    let deadline = Deadline::after(timeout);
    let code = |c| from_code(c, addr, timeout);
    let family = match addr {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    };
    let socket = create_tcp_socket(family).map_err(code)?;
    let network = instance_network();
    socket
        .start_connect(&network, to_wasi(addr))
        .map_err(code)?;
    let (input, output) = {
        let ready = socket.subscribe();
        loop {
            match socket.finish_connect() {
                Ok(streams) => break streams,
                Err(ErrorCode::WouldBlock) => {
                    if !deadline.wait(&ready) {
                        return Err(NetError::ConnectTimeout(timeout));
                    }
                }
                Err(c) => return Err(code(c)),
            }
        }
    };
    Ok(Conn {
        input,
        output,
        socket,
        peer: addr,
        connect_time: watch.elapsed(),
    })
}

fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => {
            let [a0, a1, a2, a3] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port: a.port(),
                address: (a0, a1, a2, a3),
            })
        }
        SocketAddr::V6(a) => {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s0, s1, s2, s3, s4, s5, s6, s7),
                scope_id: a.scope_id(),
            })
        }
    }
}

/// An open connection. Streams are dropped before the socket (WASI requires
/// children to go first), which the field order guarantees.
pub struct Conn {
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
    peer: SocketAddr,
    connect_time: Duration,
}

impl Conn {
    /// The socket, for options the helpers do not cover (keep-alive,
    /// shutdown, ...).
    pub fn socket(&self) -> &TcpSocket {
        &self.socket
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// How long the connect took.
    pub fn connect_time(&self) -> Duration {
        self.connect_time
    }

    /// Connect time in (fractional) milliseconds, for a `connect_ms` metric.
    pub fn connect_ms(&self) -> f64 {
        self.connect_time.as_secs_f64() * 1e3
    }

    /// Writes all of `bytes` and flushes, within `timeout`.
    pub fn send(&self, bytes: &[u8], timeout: Duration) -> Result<(), NetError> {
        let deadline = Deadline::after(timeout);
        let ready = self.output.subscribe();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = self.output.check_write().map_err(from_stream)?;
            if n == 0 {
                if !deadline.wait(&ready) {
                    return Err(NetError::SendTimeout);
                }
                continue;
            }
            let n = rest.len().min(usize::try_from(n).unwrap_or(usize::MAX));
            self.output.write(&rest[..n]).map_err(from_stream)?;
            rest = &rest[n..];
        }
        self.output.flush().map_err(from_stream)?;
        // A flush is done when writing is possible again.
        while self.output.check_write().map_err(from_stream)? == 0 {
            if !deadline.wait(&ready) {
                return Err(NetError::SendTimeout);
            }
        }
        Ok(())
    }

    /// Reads what is available (waiting up to the deadline for the first
    /// byte); `Ok(None)` at end of stream.
    pub fn read_some(&self, deadline: Deadline) -> Result<Option<Vec<u8>>, NetError> {
        let ready = self.input.subscribe();
        loop {
            match self.input.read(16 * 1024) {
                Ok(chunk) if !chunk.is_empty() => return Ok(Some(chunk)),
                Ok(_) => {
                    if !deadline.wait(&ready) {
                        return Err(NetError::ReadTimeout);
                    }
                }
                Err(StreamError::Closed) => return Ok(None),
                Err(e) => return Err(from_stream(e)),
            }
        }
    }

    /// Reads until `expected` appears in the response (returning everything
    /// read), the peer closes, [`MAX_RESPONSE`] bytes arrived, or `timeout`
    /// passes. An empty `expected` waits for any byte.
    pub fn expect(&self, expected: &[u8], timeout: Duration) -> Result<Vec<u8>, NetError> {
        let deadline = Deadline::after(timeout);
        let mut got = Vec::new();
        let not_found = |got: Vec<u8>| NetError::NotFound {
            expected: expected.to_vec(),
            got,
        };
        loop {
            if (expected.is_empty() && !got.is_empty()) || contains(&got, expected) {
                return Ok(got);
            }
            if got.len() >= MAX_RESPONSE {
                return Err(not_found(got));
            }
            match self.read_some(deadline) {
                Ok(Some(chunk)) => got.extend_from_slice(&chunk),
                Ok(None) => return Err(not_found(got)),
                Err(NetError::ReadTimeout) if !got.is_empty() => return Err(not_found(got)),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether `needle` occurs in `haystack` (an empty needle always does).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str) -> Target {
        Target {
            host: host.into(),
            port: 80,
        }
    }

    #[test]
    fn target_addresses() {
        assert_eq!(
            target_addr(&target("192.0.2.1")).unwrap(),
            "192.0.2.1:80".parse().unwrap()
        );
        assert_eq!(
            target_addr(&target("[2001:db8::1]")).unwrap(),
            "[2001:db8::1]:80".parse().unwrap()
        );
        assert_eq!(
            target_addr(&target("2001:db8::1")).unwrap(),
            "[2001:db8::1]:80".parse().unwrap()
        );
        assert_eq!(
            target_addr(&target("db.example")).unwrap_err().to_string(),
            "target host 'db.example' is not an IP address (plugins cannot resolve names)"
        );
    }

    #[test]
    fn reasons() {
        let e = NetError::NotFound {
            expected: b"+PONG".to_vec(),
            got: b"-ERR\r\n".to_vec(),
        };
        assert_eq!(
            e.to_string(),
            "expected '+PONG' not found in response (got 6 bytes: '-ERR\\r\\n')"
        );
        assert_eq!(NetError::Refused.to_string(), "connection refused");
        assert_eq!(
            NetError::ReadTimeout.to_string(),
            "timed out waiting for response"
        );
    }

    #[test]
    fn substring() {
        assert!(contains(b"hello world", b"o w"));
        assert!(!contains(b"hello", b"hello!"));
        assert!(contains(b"", b""));
    }
}
