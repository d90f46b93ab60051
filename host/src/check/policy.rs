//! Network policy: a plugin reaches only the targets its configuration names.
//!
//! Enforced at the two doors a plugin has to the network:
//! - `wasi:sockets`: every address a socket binds or connects to goes through
//!   [`NetPolicy::socket_allowed`]; only an implicit wildcard bind and a
//!   connect to a granted address pass. UDP and guest DNS stay disabled (the
//!   host resolves names; the plugin is handed addresses).
//! - `wasi:http`: [`PolicyHooks::send_request`] refuses any authority that is
//!   not a granted target before a connection is made.
//!
//! A denial is an error the plugin sees (`access-denied`,
//! `HTTP-request-denied`) and a warning in the log with check, plugin and target.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::uri::Scheme;
use http::{HeaderName, header};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::{
    Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiHttpHooks,
};

use super::labels::Labels;

/// One granted target: the host as configured and the addresses it resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

/// The network reach of one check: the union of its grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetPolicy {
    grants: Vec<Grant>,
}

impl NetPolicy {
    pub fn new(grants: Vec<Grant>) -> NetPolicy {
        let grants = grants
            .into_iter()
            .map(|mut g| {
                for a in &mut g.addrs {
                    *a = a.to_canonical();
                }
                g
            })
            .collect();
        NetPolicy { grants }
    }

    /// A policy that allows nothing.
    pub fn deny_all() -> NetPolicy {
        NetPolicy::default()
    }

    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Whether `addr` may be used for `usage` by a wasi socket.
    pub fn socket_allowed(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        match usage {
            // Connecting binds implicitly to the wildcard; an explicit bind to
            // the wildcard with an ephemeral port is equally harmless.
            SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
            SocketAddrUse::TcpConnect => self.connect_allowed(addr),
            _ => false,
        }
    }

    /// Whether a TCP connect to `addr` is to a granted target.
    pub fn connect_allowed(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.grants
            .iter()
            .any(|g| g.port == addr.port() && g.addrs.contains(&ip))
    }

    /// Whether an HTTP request to `authority` (with `scheme`'s default port
    /// when none is given) goes to a granted target. The host part must be the
    /// configured name or one of its addresses.
    pub fn authority_allowed(&self, scheme: Option<&Scheme>, authority: &str) -> bool {
        let Ok(auth) = authority.parse::<http::uri::Authority>() else {
            return false;
        };
        let default_port = if scheme == Some(&Scheme::HTTP) {
            80
        } else {
            443
        };
        let port = auth.port_u16().unwrap_or(default_port);
        let host = super::target::unbracket(auth.host());
        let ip = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
        self.grants.iter().any(|g| {
            g.port == port
                && (g.host.eq_ignore_ascii_case(host) || ip.is_some_and(|ip| g.addrs.contains(&ip)))
        })
    }
}

/// The socket check installed in every store's `WasiCtx`.
pub(crate) fn socket_addr_check(
    policy: Arc<NetPolicy>,
    labels: Labels,
) -> impl Fn(SocketAddr, SocketAddrUse) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + Sync>>
+ Send
+ Sync
+ 'static {
    move |addr, usage| {
        let ok = policy.socket_allowed(addr, usage);
        if !ok {
            tracing::warn!(
                check = %labels.check, plugin = %labels.plugin, target = %labels.target,
                %addr, usage = ?usage,
                "plugin network access denied: not a configured target"
            );
        }
        Box::pin(std::future::ready(ok))
    }
}

/// wasi-http hooks: the policy check before sending, a guest-settable `Host`
/// header (virtual hosts, like Keepalived's `virtualhost`), and quiet error
/// mapping (a refused connection is a check result, not a daemon warning).
pub(crate) struct PolicyHooks {
    pub(crate) policy: Arc<NetPolicy>,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) labels: Labels,
}

type SendResult = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for PolicyHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(|name: &HeaderName| {
            *name != header::HOST && wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS.contains(name)
        })
    }

    fn send_request(
        &mut self,
        mut request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendResult {
        drop(fut);
        let uri = request.uri();
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
        if !self.policy.authority_allowed(uri.scheme(), authority) {
            let labels = &self.labels;
            tracing::warn!(
                check = %labels.check, plugin = %labels.plugin, target = %labels.target,
                %authority,
                "plugin HTTP request denied: not a configured target"
            );
            return Box::new(std::future::ready(Err(HttpError::HttpRequestDenied)));
        }
        // The host header set from the authority comes first; a guest-set one
        // (virtual host) is appended after it and wins.
        let hosts: Vec<_> = request
            .headers()
            .get_all(header::HOST)
            .iter()
            .cloned()
            .collect();
        if let Some(last) = hosts.last().cloned()
            && hosts.len() > 1
        {
            request.headers_mut().insert(header::HOST, last);
        }
        Box::new(super::http_send::send(request, options, self.tls.clone()))
    }

    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> ErrorCode {
        tracing::debug!(check = %self.labels.check, error = %err, "plugin HTTP error");
        if err.is_timeout() {
            ErrorCode::ConnectionReadTimeout
        } else if err.is_incomplete_message() {
            ErrorCode::HttpResponseIncomplete
        } else {
            ErrorCode::HttpProtocolError
        }
    }

    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::debug!(check = %self.labels.check, error = %err, "plugin HTTP connect error");
        use std::io::ErrorKind as K;
        match err.kind() {
            K::TimedOut => ErrorCode::ConnectionTimeout,
            K::ConnectionReset | K::ConnectionAborted => ErrorCode::ConnectionTerminated,
            K::HostUnreachable | K::NetworkUnreachable => ErrorCode::DestinationUnavailable,
            _ => ErrorCode::ConnectionRefused,
        }
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::debug!(check = %self.labels.check, error = %err, "plugin TLS error");
        let rustls_error = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(_)) = rustls_error {
            return ErrorCode::TlsCertificateError;
        }
        ErrorCode::TlsProtocolError
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> NetPolicy {
        NetPolicy::new(vec![Grant {
            host: "web.example".into(),
            port: 8080,
            addrs: vec![
                "192.0.2.10".parse().unwrap(),
                "2001:db8::10".parse().unwrap(),
            ],
        }])
    }

    #[test]
    fn sockets_reach_only_the_target() {
        let p = policy();
        let c = SocketAddrUse::TcpConnect;
        assert!(p.socket_allowed("192.0.2.10:8080".parse().unwrap(), c));
        assert!(p.socket_allowed("[2001:db8::10]:8080".parse().unwrap(), c));
        assert!(p.socket_allowed("[::ffff:192.0.2.10]:8080".parse().unwrap(), c));
        assert!(!p.socket_allowed("192.0.2.10:8081".parse().unwrap(), c));
        assert!(!p.socket_allowed("192.0.2.11:8080".parse().unwrap(), c));
        assert!(p.socket_allowed("0.0.0.0:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.socket_allowed("0.0.0.0:80".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.socket_allowed("192.0.2.10:8080".parse().unwrap(), SocketAddrUse::TcpListen));
        assert!(!p.socket_allowed("192.0.2.10:8080".parse().unwrap(), SocketAddrUse::UdpSend));
        assert!(!NetPolicy::deny_all().socket_allowed("192.0.2.10:8080".parse().unwrap(), c));
    }

    #[test]
    fn http_reaches_only_the_target() {
        let p = policy();
        let http = Some(&Scheme::HTTP);
        assert!(p.authority_allowed(http, "web.example:8080"));
        assert!(p.authority_allowed(http, "WEB.example:8080"));
        assert!(p.authority_allowed(http, "192.0.2.10:8080"));
        assert!(p.authority_allowed(http, "[2001:db8::10]:8080"));
        assert!(!p.authority_allowed(http, "web.example"), "default port 80");
        assert!(!p.authority_allowed(http, "other.example:8080"));
        assert!(!p.authority_allowed(http, "192.0.2.11:8080"));
        assert!(!p.authority_allowed(http, "user@192.0.2.11:8080"));
        assert!(!p.authority_allowed(http, ""));
    }
}
