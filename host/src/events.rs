//! The machine-readable event stream: every VRRP transition, priority
//! change, check change and notify outcome as one JSON object per line, for
//! any number of readers on a unix socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;
use tokio::sync::broadcast;
use tracing::{debug, warn};

/// Lines a slow reader may fall behind before it is told what it missed.
const BACKLOG: usize = 1024;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A VRRP instance changed state.
    Vrrp {
        instance: String,
        vrid: u8,
        from: String,
        to: String,
        priority: u8,
        reason: String,
    },
    /// Tracking changed an instance's effective priority or fault.
    Priority {
        instance: String,
        priority: u8,
        fault: bool,
        explain: String,
    },
    /// A check went up or down (or its dynamic weight changed).
    Check {
        check: String,
        from: String,
        to: String,
        weight: Option<i32>,
        reason: Option<String>,
    },
    /// A notify hook finished.
    Notify {
        name: String,
        state: String,
        command: String,
        outcome: String,
    },
}

#[derive(Serialize)]
struct Event<'a> {
    /// Unix time in seconds.
    ts: f64,
    #[serde(flatten)]
    kind: &'a EventKind,
}

/// Publishes events to every connected reader; cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<str>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        EventBus {
            tx: broadcast::channel(BACKLOG).0,
        }
    }

    /// Never blocks; with no reader the event is simply not kept.
    pub fn publish(&self, kind: EventKind) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        match serde_json::to_string(&Event { ts, kind: &kind }) {
            Ok(line) => {
                let _ = self.tx.send(Arc::from(line));
            }
            Err(e) => warn!(error = %e, "cannot encode event"),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}

/// A listening event socket; the file is removed on drop.
pub struct EventSocket {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EventSocket {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl EventSocket {
    /// Listens on `path` (replacing a stale socket file) and streams events
    /// to each client until it disconnects.
    pub fn bind(path: &Path, bus: EventBus) -> std::io::Result<EventSocket> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(stream_to(stream, bus.subscribe()));
                    }
                    Err(e) => {
                        warn!(error = %e, "event socket accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(EventSocket {
            path: path.to_path_buf(),
            task,
        })
    }
}

async fn stream_to(mut stream: tokio::net::UnixStream, mut rx: broadcast::Receiver<Arc<str>>) {
    loop {
        let line = match rx.recv().await {
            Ok(line) => line,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                Arc::from(format!("{{\"type\":\"lagged\",\"missed\":{n}}}"))
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let write = async {
            stream.write_all(line.as_bytes()).await?;
            stream.write_all(b"\n").await
        };
        if let Err(e) = write.await {
            debug!(error = %e, "event reader went away");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};

    #[tokio::test]
    async fn readers_get_json_lines_in_order() {
        let dir = std::env::temp_dir().join(format!("belay-ev-{}", std::process::id()));
        let path = dir.join("events.sock");
        let bus = EventBus::new();
        let _sock = EventSocket::bind(&path, bus.clone()).unwrap();
        let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        let mut lines = BufReader::new(stream).lines();
        // The reader is subscribed once its connection has been accepted.
        while bus.tx.receiver_count() == 0 {
            tokio::task::yield_now().await;
        }
        for to in ["MASTER", "BACKUP"] {
            bus.publish(EventKind::Vrrp {
                instance: "VI_1".into(),
                vrid: 51,
                from: "INIT".into(),
                to: to.into(),
                priority: 100,
                reason: "test".into(),
            });
        }
        for to in ["MASTER", "BACKUP"] {
            let line = lines.next_line().await.unwrap().unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["type"], "vrrp");
            assert_eq!(v["to"], to);
            assert!(v["ts"].as_f64().unwrap() > 1.0e9);
        }
        drop(_sock);
        assert!(!path.exists(), "socket file removed on drop");
        let _ = std::fs::remove_dir(&dir);
    }
}
