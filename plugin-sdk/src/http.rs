//! Outbound HTTP through `wasi:http/outgoing-handler`: the host makes the
//! connection (and TLS for https), applies the timeouts from the request
//! options, and only lets requests reach the check's target(s).
//!
//! The `Host` header: wasmtime-wasi-http forbids guests to set it by default
//! and derives it from the authority. [`Request::host_header`] sends it as a
//! header anyway; a host that does not permit the override makes the request
//! fail with a clear reason instead of silently ignoring it.

use std::fmt;
use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, HeaderError, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::Target;
use crate::time::{Deadline, Stopwatch};

/// Largest body read by default; bigger bodies fail rather than exhaust the
/// plugin's memory.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// An HTTP request to the check's target.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: String,
    /// `http` or `https`.
    pub https: bool,
    /// `host:port` to connect to (an IPv6 host in brackets).
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Whole exchange, including reading the body.
    pub timeout: Duration,
    pub max_body: usize,
}

impl Request {
    /// A request with `method` to `path` on the target, 5 s timeout.
    pub fn new(method: &str, target: &Target, path: &str) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            https: false,
            authority: authority(target),
            path: if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            },
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(5),
            max_body: DEFAULT_MAX_BODY,
        }
    }

    pub fn get(target: &Target, path: &str) -> Request {
        Request::new("GET", target, path)
    }

    pub fn head(target: &Target, path: &str) -> Request {
        Request::new("HEAD", target, path)
    }

    pub fn https(mut self, https: bool) -> Request {
        self.https = https;
        self
    }

    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Overrides the `Host` header (virtual host) while still connecting to
    /// the target. Needs a host that permits it (see the module docs).
    pub fn host_header(self, host: &str) -> Request {
        self.header("host", host)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = timeout;
        self
    }

    pub fn max_body(mut self, max: usize) -> Request {
        self.max_body = max;
        self
    }

    /// Sends the request and reads the whole response (no body for HEAD).
    pub fn send(&self) -> Result<Response, HttpError> {
        send(self)
    }
}

/// `host:port` for a target, bracketing IPv6 literals.
pub fn authority(target: &Target) -> String {
    let host = target.host.trim();
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", target.port)
    } else {
        format!("{host}:{}", target.port)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Request sent → body read.
    pub elapsed: Duration,
}

impl Response {
    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Why a request failed; `Display` is the reason an operator sees.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    Refused,
    ConnectTimeout,
    ResponseTimeout,
    /// The host's sandbox did not allow this destination.
    Denied(String),
    /// The host would not accept a header (e.g. `host` where not permitted).
    Header(String),
    BodyTooLarge(usize),
    Tls(String),
    Protocol(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Refused => f.write_str("connection refused"),
            HttpError::ConnectTimeout => f.write_str("connect timed out"),
            HttpError::ResponseTimeout => f.write_str("timed out waiting for response"),
            HttpError::Denied(a) => write!(f, "request to {a} denied by host policy"),
            HttpError::Header(h) => write!(f, "header rejected by host: {h}"),
            HttpError::BodyTooLarge(max) => write!(f, "response body larger than {max} bytes"),
            HttpError::Tls(s) => write!(f, "TLS error: {s}"),
            HttpError::Protocol(s) => write!(f, "HTTP error: {s}"),
        }
    }
}

impl std::error::Error for HttpError {}

fn from_code(code: ErrorCode, authority: &str) -> HttpError {
    match code {
        ErrorCode::ConnectionRefused => HttpError::Refused,
        ErrorCode::ConnectionTimeout => HttpError::ConnectTimeout,
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            HttpError::ResponseTimeout
        }
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            HttpError::Denied(authority.to_owned())
        }
        ErrorCode::TlsProtocolError => HttpError::Tls("protocol error".into()),
        ErrorCode::TlsCertificateError => HttpError::Tls("certificate not accepted".into()),
        ErrorCode::TlsAlertReceived(a) => HttpError::Tls(format!(
            "alert {}{}",
            a.alert_id.map(|i| i.to_string()).unwrap_or_default(),
            a.alert_message
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        )),
        ErrorCode::InternalError(Some(m)) => HttpError::Protocol(m),
        ErrorCode::DnsError(d) => HttpError::Protocol(format!(
            "name lookup failed: {}",
            d.rcode.unwrap_or_default()
        )),
        other => HttpError::Protocol(format!("{other:?}")),
    }
}

fn send(req: &Request) -> Result<Response, HttpError> {
    let watch = Stopwatch::start();
    let deadline = Deadline::after(req.timeout);
    let bad = |what: &str| HttpError::Protocol(format!("invalid {what}"));

    let headers = Fields::from_list(&req.headers).map_err(|e| {
        let names: Vec<&str> = req.headers.iter().map(|(k, _)| k.as_str()).collect();
        HttpError::Header(match e {
            HeaderError::Forbidden => format!("one of {names:?} is forbidden"),
            HeaderError::InvalidSyntax => format!("invalid syntax in {names:?}"),
            HeaderError::Immutable => "headers are immutable".into(),
        })
    })?;
    let request = OutgoingRequest::new(headers);
    let method = match req.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    request.set_method(&method).map_err(|_| bad("method"))?;
    let scheme = if req.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request
        .set_scheme(Some(&scheme))
        .map_err(|_| bad("scheme"))?;
    request
        .set_authority(Some(&req.authority))
        .map_err(|_| bad("authority"))?;
    request
        .set_path_with_query(Some(&req.path))
        .map_err(|_| bad("path"))?;

    let body = request.body().map_err(|_| bad("body"))?;
    if !req.body.is_empty() {
        let out = body.write().map_err(|_| bad("body"))?;
        for chunk in req.body.chunks(4096) {
            out.blocking_write_and_flush(chunk)
                .map_err(|_| HttpError::Protocol("writing request body failed".into()))?;
        }
    }

    let options = RequestOptions::new();
    let ns = Some(u64::try_from(req.timeout.as_nanos()).unwrap_or(u64::MAX));
    // A host that does not support a timeout returns Err; the overall deadline
    // below still holds.
    let _ = options.set_connect_timeout(ns);
    let _ = options.set_first_byte_timeout(ns);
    let _ = options.set_between_bytes_timeout(ns);

    let pending = outgoing_handler::handle(request, Some(options))
        .map_err(|e| from_code(e, &req.authority))?;
    OutgoingBody::finish(body, None).map_err(|e| from_code(e, &req.authority))?;

    let response = {
        let ready = pending.subscribe();
        if !deadline.wait(&ready) {
            return Err(HttpError::ResponseTimeout);
        }
        match pending.get() {
            Some(Ok(Ok(r))) => r,
            Some(Ok(Err(e))) => return Err(from_code(e, &req.authority)),
            Some(Err(())) | None => {
                return Err(HttpError::Protocol("response future in a bad state".into()));
            }
        }
    };
    read_response(response, req, deadline, watch)
}

fn read_response(
    response: IncomingResponse,
    req: &Request,
    deadline: Deadline,
    watch: Stopwatch,
) -> Result<Response, HttpError> {
    let status = response.status();
    let headers = response.headers().entries();
    let mut body = Vec::new();
    if req.method != "HEAD" {
        let incoming = response
            .consume()
            .map_err(|_| HttpError::Protocol("response body unavailable".into()))?;
        {
            let stream = incoming
                .stream()
                .map_err(|_| HttpError::Protocol("response body unavailable".into()))?;
            let ready = stream.subscribe();
            loop {
                match stream.read(64 * 1024) {
                    Ok(chunk) if chunk.is_empty() => {
                        if !deadline.wait(&ready) {
                            return Err(HttpError::ResponseTimeout);
                        }
                    }
                    Ok(chunk) => {
                        if body.len() + chunk.len() > req.max_body {
                            return Err(HttpError::BodyTooLarge(req.max_body));
                        }
                        body.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        let code = wasip2::http::types::http_error_code(&e);
                        return Err(match code {
                            Some(c) => from_code(c, &req.authority),
                            None => HttpError::Protocol(format!(
                                "reading body failed: {}",
                                e.to_debug_string()
                            )),
                        });
                    }
                }
            }
        }
        drop(incoming);
    }
    Ok(Response {
        status,
        headers,
        body,
        elapsed: watch.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        let t = |h: &str| Target {
            host: h.into(),
            port: 8080,
        };
        assert_eq!(authority(&t("192.0.2.1")), "192.0.2.1:8080");
        assert_eq!(authority(&t("2001:db8::1")), "[2001:db8::1]:8080");
        assert_eq!(authority(&t("[2001:db8::1]")), "[2001:db8::1]:8080");
        assert_eq!(authority(&t("www.example")), "www.example:8080");
    }

    #[test]
    fn request_builder() {
        let t = Target {
            host: "192.0.2.1".into(),
            port: 80,
        };
        let r = Request::head(&t, "health")
            .host_header("www.example")
            .timeout(Duration::from_millis(300));
        assert_eq!(r.method, "HEAD");
        assert_eq!(r.path, "/health");
        assert_eq!(r.headers, vec![("host".into(), b"www.example".to_vec())]);
        assert_eq!(r.timeout, Duration::from_millis(300));
    }
}
