//! Reads the status document from a running daemon (blocking; for the CLI and tests).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::StatusDoc;

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusClientError {
    #[error("cannot reach the daemon at {path}: {source}")]
    Connect { path: String, source: io::Error },
    #[error("reading the status: {0}")]
    Io(#[from] io::Error),
    #[error("the daemon answered {0}")]
    Http(String),
    #[error("undecodable status document: {0}")]
    Json(#[from] serde_json::Error),
}

/// Fetches `GET /status` and returns the raw JSON body.
pub fn fetch_raw(socket: &Path) -> Result<String, StatusClientError> {
    let mut s = UnixStream::connect(socket).map_err(|e| StatusClientError::Connect {
        path: socket.display().to_string(),
        source: e,
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /status HTTP/1.0\r\nHost: belay\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| StatusClientError::Http("a truncated response".into()))?;
    let status_line = head.lines().next().unwrap_or_default();
    if !status_line.contains(" 200 ") {
        return Err(StatusClientError::Http(status_line.to_owned()));
    }
    Ok(body.to_owned())
}

/// Fetches and decodes the status document.
pub fn fetch(socket: &Path) -> Result<StatusDoc, StatusClientError> {
    Ok(serde_json::from_str(&fetch_raw(socket)?)?)
}
