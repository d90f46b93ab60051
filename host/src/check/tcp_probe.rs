//! `belay:check/tcp-probe`: connect, send and expect run natively for a
//! plugin, in one host call, under the check's network policy.
//!
//! Why it exists: through `wasi:sockets` a plain connect check is a dozen
//! host calls (socket, connect, pollables, timers, streams and their
//! shutdowns) and costs ~2.6x a native connect; here it costs the sandbox
//! plus a native connect. Every step is bounded by the request's timeout and
//! the whole call by the check's wall-clock timeout (the runtime drops it).

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::bindings::belay::check::tcp_probe::{Host, Outcome, ProbeError, Request};
use super::bindings::belay::check::types::Target;
use super::labels::Labels;
use super::policy::NetPolicy;
use super::sandbox::Sandbox;

/// Response bytes kept while looking for the expected ones (as the SDK's
/// `wasi:sockets` path).
pub const MAX_RESPONSE: usize = 64 * 1024;

impl Host for Sandbox {
    async fn probe(&mut self, target: Target, request: Request) -> wasmtime::Result<Outcome> {
        Ok(probe(&self.hooks.policy, &self.labels, &target, request).await)
    }
}

/// Runs one probe; never fails, every problem is an [`Outcome::error`].
pub async fn probe(
    policy: &NetPolicy,
    labels: &Labels,
    target: &Target,
    request: Request,
) -> Outcome {
    let mut outcome = Outcome {
        connect_ms: None,
        response_ms: None,
        error: None,
    };
    outcome.error = run(policy, labels, target, request, &mut outcome)
        .await
        .err();
    outcome
}

async fn run(
    policy: &NetPolicy,
    labels: &Labels,
    target: &Target,
    request: Request,
    outcome: &mut Outcome,
) -> Result<(), ProbeError> {
    let addr = target_addr(target)?;
    if !policy.connect_allowed(addr) {
        tracing::warn!(
            check = %labels.check, plugin = %labels.plugin, target = %labels.target, %addr,
            "plugin network access denied: not a configured target"
        );
        return Err(ProbeError::Denied);
    }
    let timeout = Duration::from_millis(u64::from(request.timeout_ms));
    let start = Instant::now();
    let mut stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => return Err(ProbeError::ConnectTimeout),
        Ok(Err(e)) => return Err(connect_error(&e)),
        Ok(Ok(s)) => s,
    };
    outcome.connect_ms = Some(ms(start));
    if let Some(bytes) = &request.send {
        match tokio::time::timeout(timeout, stream.write_all(bytes)).await {
            Err(_) => return Err(ProbeError::SendTimeout),
            Ok(Err(e)) => return Err(stream_error(&e)),
            Ok(Ok(())) => {}
        }
    }
    let Some(expected) = &request.expect else {
        return Ok(());
    };
    let start = Instant::now();
    let result = expect(&mut stream, expected, timeout).await;
    outcome.response_ms = Some(ms(start));
    result
}

/// Reads until `expected` occurs (an empty `expected`: any byte), the peer
/// closes, [`MAX_RESPONSE`] bytes arrived or `timeout` passes.
async fn expect(
    stream: &mut TcpStream,
    expected: &[u8],
    timeout: Duration,
) -> Result<(), ProbeError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if (expected.is_empty() && !got.is_empty()) || contains(&got, expected) {
            return Ok(());
        }
        if got.len() >= MAX_RESPONSE {
            return Err(ProbeError::NotFound(got));
        }
        let room = buf.len().min(MAX_RESPONSE - got.len());
        match tokio::time::timeout_at(deadline, stream.read(&mut buf[..room])).await {
            Err(_) if got.is_empty() => return Err(ProbeError::ReadTimeout),
            Err(_) | Ok(Ok(0)) => return Err(ProbeError::NotFound(got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return Err(stream_error(&e)),
        }
    }
}

/// The target as a socket address: "192.0.2.1", "2001:db8::1" or
/// "[2001:db8::1]" (plugins do no DNS; the host resolved names already).
fn target_addr(target: &Target) -> Result<SocketAddr, ProbeError> {
    let host = target.host.trim();
    super::target::unbracket(host)
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, target.port))
        .map_err(|_| ProbeError::NotAnAddress(host.to_owned()))
}

fn connect_error(e: &std::io::Error) -> ProbeError {
    match e.kind() {
        ErrorKind::ConnectionRefused => ProbeError::Refused,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => ProbeError::Unreachable,
        ErrorKind::TimedOut => ProbeError::ConnectTimeout,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => ProbeError::Reset,
        _ => ProbeError::Other(format!("socket error: {e}")),
    }
}

fn stream_error(e: &std::io::Error) -> ProbeError {
    match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => ProbeError::Reset,
        ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => ProbeError::Closed,
        _ => ProbeError::Other(format!("stream error: {e}")),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::policy::Grant;
    use tokio::net::TcpListener;

    async fn listener() -> (TcpListener, Target, NetPolicy) {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let policy = NetPolicy::new(vec![Grant {
            host: addr.ip().to_string(),
            port: addr.port(),
            addrs: vec![addr.ip()],
        }]);
        let target = Target {
            host: addr.ip().to_string(),
            port: addr.port(),
        };
        (l, target, policy)
    }

    fn request(ms: u32, expect: &[u8]) -> Request {
        Request {
            timeout_ms: ms,
            send: Some(b"PING\r\n".to_vec()),
            expect: Some(expect.to_vec()),
        }
    }

    fn labels() -> Labels {
        Labels::new("c", "tcp", "t")
    }

    /// Serves one connection: writes `chunks` then holds it open `hold`.
    fn serve(l: TcpListener, chunks: Vec<Vec<u8>>, hold: Duration) {
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.expect("accept");
            for c in chunks {
                s.write_all(&c).await.expect("write");
                s.flush().await.expect("flush");
            }
            tokio::time::sleep(hold).await;
        });
    }

    #[tokio::test]
    async fn an_address_outside_the_policy_is_denied_without_connecting() {
        let (_l, target, _) = listener().await;
        let out = probe(
            &NetPolicy::deny_all(),
            &labels(),
            &target,
            request(500, b"x"),
        )
        .await;
        assert!(matches!(out.error, Some(ProbeError::Denied)), "{out:?}");
        assert_eq!(out.connect_ms, None);
    }

    #[tokio::test]
    async fn expected_bytes_split_across_reads_are_found() {
        let (l, target, policy) = listener().await;
        serve(
            l,
            vec![b"+PO".to_vec(), b"NG\r\n".to_vec()],
            Duration::from_secs(5),
        );
        let out = probe(&policy, &labels(), &target, request(2000, b"+PONG")).await;
        assert!(out.error.is_none(), "{out:?}");
        assert!(
            out.connect_ms.is_some() && out.response_ms.is_some(),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn partial_response_then_silence_is_not_found_with_what_came() {
        let (l, target, policy) = listener().await;
        serve(l, vec![b"-ERR".to_vec()], Duration::from_secs(5));
        let out = probe(&policy, &labels(), &target, request(300, b"+PONG")).await;
        assert!(
            matches!(&out.error, Some(ProbeError::NotFound(got)) if got == b"-ERR"),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn silence_is_a_read_timeout() {
        let (l, target, policy) = listener().await;
        serve(l, vec![], Duration::from_secs(5));
        let out = probe(&policy, &labels(), &target, request(200, b"+PONG")).await;
        assert!(
            matches!(out.error, Some(ProbeError::ReadTimeout)),
            "{out:?}"
        );
    }

    #[tokio::test]
    async fn a_response_is_kept_to_the_cap() {
        let (l, target, policy) = listener().await;
        serve(
            l,
            vec![vec![b'a'; 3 * MAX_RESPONSE]],
            Duration::from_secs(5),
        );
        let out = probe(&policy, &labels(), &target, request(2000, b"+PONG")).await;
        match out.error {
            Some(ProbeError::NotFound(got)) => assert_eq!(got.len(), MAX_RESPONSE),
            other => panic!("expected not-found at the cap, got {other:?}"),
        }
    }
}
