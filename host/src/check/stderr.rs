//! A plugin's stderr, kept in memory and bounded, so a panic message can
//! become the reason of the failed report.
//!
//! Only the last bytes are kept: a panic message comes last, and a plugin that
//! writes megabytes to stderr costs the host nothing beyond the cap.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Bytes of stderr kept per invocation.
pub const STDERR_TAIL_BYTES: usize = 4096;

/// The last [`STDERR_TAIL_BYTES`] written; clones share the buffer.
#[derive(Clone, Default)]
pub struct StderrTail {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl StderrTail {
    pub fn new() -> Self {
        Self::default()
    }

    fn append(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        if bytes.len() >= STDERR_TAIL_BYTES {
            buf.clear();
            buf.extend_from_slice(&bytes[bytes.len() - STDERR_TAIL_BYTES..]);
            return;
        }
        let overflow = (buf.len() + bytes.len()).saturating_sub(STDERR_TAIL_BYTES);
        buf.drain(..overflow);
        buf.extend_from_slice(bytes);
    }

    /// Everything kept so far, lossily decoded.
    pub fn text(&self) -> String {
        let buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// The panic message, if stderr holds a Rust panic
    /// (`thread '…' panicked at src/lib.rs:3:5:\nMESSAGE\nnote: …`).
    /// Other languages' aborts print free text; the last non-empty line is
    /// the best guess then, and is only used when the guest trapped.
    pub fn panic_message(&self) -> Option<String> {
        panic_message(&self.text())
    }
}

/// Extracts the message of the last panic in `text`. Understands Rust's
/// default hook (`panicked at FILE:L:C:` then the message on the next lines),
/// the SDK's one-line hook (`panicked at FILE:L:C: MESSAGE`), the pre-1.73
/// format (`panicked at 'MESSAGE', FILE:L:C`) and `panicked: MESSAGE`.
pub fn panic_message(text: &str) -> Option<String> {
    let start = text.rfind("panicked")?;
    let after = &text[start + "panicked".len()..];
    let mut lines = after.lines();
    let head = lines.next()?;
    if let Some(msg) = head.strip_prefix(": ") {
        return Some(msg.trim().to_owned());
    }
    let rest = head.strip_prefix(" at ")?.trim_end();
    if rest.ends_with(':') {
        let body: Vec<&str> = lines
            .take_while(|l| !l.starts_with("note: ") && !l.starts_with("stack backtrace:"))
            .collect();
        let msg = body.join("\n").trim().to_owned();
        return (!msg.is_empty()).then_some(msg);
    }
    if let Some(quoted) = rest.strip_prefix('\'')
        && let Some(end) = quoted.rfind("', ")
    {
        return Some(quoted[..end].to_owned());
    }
    Some(strip_location(rest).to_owned())
}

/// `src/lib.rs:3:5: message` → `message`.
fn strip_location(s: &str) -> &str {
    let mut search = 0;
    while let Some(i) = s[search..].find(": ") {
        let at = search + i;
        let loc = &s[..at];
        let mut parts = loc.rsplitn(3, ':');
        let col = parts.next().unwrap_or("");
        let line = parts.next().unwrap_or("");
        let is_num = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if is_num(col) && is_num(line) && parts.next().is_some() {
            return s[at + 2..].trim();
        }
        search = at + 2;
    }
    s.trim()
}

impl IsTerminal for StderrTail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StderrTail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StderrTail {
    async fn ready(&mut self) {}
}

impl OutputStream for StderrTail {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl AsyncWrite for StderrTail {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_tail() {
        let t = StderrTail::new();
        t.append(&vec![b'a'; STDERR_TAIL_BYTES]);
        t.append(b"end");
        let text = t.text();
        assert_eq!(text.len(), STDERR_TAIL_BYTES);
        assert!(text.ends_with("aend"));
    }

    #[test]
    fn finds_modern_panic_message() {
        let text = "noise\nthread '<unnamed>' panicked at src/lib.rs:12:9:\nboom at 80\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(text).as_deref(), Some("boom at 80"));
    }

    #[test]
    fn finds_old_panic_message() {
        let text = "thread 'main' panicked at 'bad thing', src/main.rs:2:5\n";
        assert_eq!(panic_message(text).as_deref(), Some("bad thing"));
    }

    #[test]
    fn finds_one_line_panic_message() {
        let text = "panicked at panics/src/lib.rs:6:5: deliberate: port 80\n";
        assert_eq!(panic_message(text).as_deref(), Some("deliberate: port 80"));
        assert_eq!(
            panic_message("panicked: no location\n").as_deref(),
            Some("no location")
        );
    }

    #[test]
    fn no_panic_no_message() {
        assert_eq!(panic_message("just logging\n"), None);
    }
}
