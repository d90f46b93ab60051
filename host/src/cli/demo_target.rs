//! `belay demo-target` (hidden): the built-in target the demo checks.
//!
//! Serves on 127.0.0.1, on ephemeral ports unless `--tcp-port`/`--http-port`
//! name them (the VRRP demo restarts a "web service" on the same port):
//! - TCP: sends `belay-demo ready\r\n` on connect, then closes;
//! - HTTP/1.1: `/` and `/health` → 200, `/fail` → 503, anything else → 404;
//!
//! and prints one JSON line, `{"tcp":PORT,"http":PORT,"closed":PORT}`, where
//! `closed` is a port that was bound and released (nothing listens there).
//! Runs until killed.

use std::convert::Infallible;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[derive(clap::Args)]
pub struct Args {
    /// Port for the TCP banner service (0: ephemeral).
    #[arg(long, default_value_t = 0)]
    tcp_port: u16,
    /// Port for the HTTP service (0: ephemeral).
    #[arg(long, default_value_t = 0)]
    http_port: u16,
}

pub fn main(args: Args) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    let tcp = TcpListener::bind(("127.0.0.1", args.tcp_port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.tcp_port))?;
    let http = TcpListener::bind(("127.0.0.1", args.http_port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.http_port))?;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let ports = serde_json::json!({
        "tcp": tcp.local_addr()?.port(),
        "http": http.local_addr()?.port(),
        "closed": closed,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{ports}")?;
    out.flush()?;
    drop(out);

    tokio::spawn(async move {
        while let Ok((mut conn, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let _ = conn.write_all(b"belay-demo ready\r\n").await;
                let _ = conn.shutdown().await;
            });
        }
    });
    loop {
        let (conn, _) = http.accept().await?;
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(conn);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, hyper::service::service_fn(route))
                .await;
        });
    }
}

async fn route(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match req.uri().path() {
        "/" => (StatusCode::OK, "belay demo target: ok\n"),
        "/health" => (StatusCode::OK, "ok\n"),
        "/fail" => (StatusCode::SERVICE_UNAVAILABLE, "unavailable\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    Ok(resp)
}
