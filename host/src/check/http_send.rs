//! Sends a plugin's outgoing HTTP request for the host: connect within the
//! request's connect timeout, TLS with the check's trust ([`super::tls`]),
//! an HTTP/1.1 handshake, the response head within the first-byte timeout.
//! The body then streams to the plugin; the check's wall-clock timeout
//! bounds it (between-bytes timeouts are not applied separately).
//!
//! Why not wasmtime-wasi-http's default sender: it trusts only the public
//! web roots, and health checks mostly talk to backends with private or
//! self-signed certificates.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::Scheme;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

/// When the plugin sets no timeout of its own (the check's timeout still applies).
const UNBOUNDED: Duration = Duration::from_secs(600);

/// What `WasiHttpHooks::send_request` resolves to.
pub type Sent = (
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
);

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

pub async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    tls: Arc<ClientConfig>,
) -> Result<Sent, HttpError> {
    let uri = request.uri();
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let authority = uri.authority().ok_or(HttpError::HttpRequestUriInvalid)?;
    let host = authority.host().to_owned();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connect_timeout = options.and_then(|o| o.connect_timeout).unwrap_or(UNBOUNDED);
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(UNBOUNDED);

    let bare = super::target::unbracket(&host);
    let tcp = tokio::time::timeout(connect_timeout, TcpStream::connect((bare, port)))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(HttpError::Connect)?;
    let stream: Box<dyn Io> = if https {
        let name = match bare.parse::<IpAddr>() {
            Ok(ip) => ServerName::from(ip),
            Err(_) => ServerName::try_from(bare.to_owned())
                .map_err(|_| HttpError::HttpRequestUriInvalid)?,
        };
        let connector = tokio_rustls::TlsConnector::from(tls);
        let tls = tokio::time::timeout(connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(HttpError::Tls)?;
        Box::new(tls)
    } else {
        Box::new(tcp)
    };
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)??;

    // Origin form on the wire: scheme and authority only go to proxies.
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| HttpError::HttpRequestUriInvalid)?;

    // The connection must be driven while waiting for the response head.
    let mut conn = Box::pin(conn);
    let mut conn_result = None;
    let response = sender.send_request(request);
    let deadline = tokio::time::sleep(first_byte_timeout);
    tokio::pin!(response, deadline);
    let response = loop {
        tokio::select! {
            biased;
            r = &mut response => break r?,
            r = &mut conn, if conn_result.is_none() => conn_result = Some(r),
            () = &mut deadline => return Err(HttpError::ConnectionReadTimeout),
        }
    };
    let io: Box<dyn Future<Output = Result<(), HttpError>> + Send> = match conn_result {
        Some(r) => Box::new(std::future::ready(r.map_err(HttpError::from))),
        None => Box::new(async move { conn.await.map_err(HttpError::from) }),
    };
    let response = response.map(|body| body.map_err(HttpError::from).boxed_unsync());
    Ok((response, io))
}
