//! Serves the status document over HTTP/1.1 on a unix socket.

use std::convert::Infallible;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;

use super::Registry;

/// The listening socket; the file is removed when this drops.
pub struct StatusServer {
    listener: UnixListener,
    path: PathBuf,
}

impl StatusServer {
    /// Binds `path`, replacing a stale socket file left by a dead daemon but
    /// refusing to steal one a live daemon still answers on.
    pub fn bind(path: &Path) -> io::Result<StatusServer> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by another running daemon", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(StatusServer {
            listener: UnixListener::bind(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Accepts connections until the task is dropped.
    pub async fn serve(self, registry: Arc<Registry>) {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            let registry = registry.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| respond(req, registry.clone()));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn respond(
    req: Request<hyper::body::Incoming>,
    registry: Arc<Registry>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/status") => match serde_json::to_vec_pretty(&registry.document()) {
            Ok(json) => (StatusCode::OK, json),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string().into_bytes(),
            ),
        },
        _ => (StatusCode::NOT_FOUND, b"try GET /status\n".to_vec()),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
