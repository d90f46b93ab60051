//! Real servers on loopback for check tests: TCP listeners that accept and
//! close, or accept and never answer, and a small HTTP/1.1 server with a
//! routing function. Each listens on 127.0.0.1 with an ephemeral port and
//! stops (thread joined, sockets closed) when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// One HTTP request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the HTTP server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status,
            body: body.into(),
        }
    }
}

type Handler = dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync;

enum Behaviour {
    /// Accept, then close at once.
    AcceptClose,
    /// Accept and hold the connection open without ever writing.
    Silent,
    Http(Box<Handler>),
}

/// A loopback server running on its own thread.
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Accepts connections and closes them (a healthy TCP service).
    pub fn accept_close() -> TestServer {
        Self::start(Behaviour::AcceptClose)
    }

    /// Accepts connections and never sends a byte (a hung service).
    pub fn silent() -> TestServer {
        Self::start(Behaviour::Silent)
    }

    /// An HTTP/1.1 server answering each request with `handler`.
    pub fn http(
        handler: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static,
    ) -> TestServer {
        Self::start(Behaviour::Http(Box::new(handler)))
    }

    /// An HTTP server answering every request with `status` and `body`.
    pub fn http_fixed(status: u16, body: &str) -> TestServer {
        let body = body.as_bytes().to_vec();
        Self::http(move |_| HttpResponse::new(status, body.clone()))
    }

    fn start(behaviour: Behaviour) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
        let addr = listener.local_addr().expect("listener address");
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, a, r) = (stop.clone(), accepted.clone(), requests.clone());
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || serve(listener, behaviour, s, a, r))
            .expect("spawn server thread");
        TestServer {
            addr,
            stop,
            accepted,
            requests,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:PORT`, as a check target.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// HTTP requests received so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    behaviour: Behaviour,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
) {
    let behaviour = Arc::new(behaviour);
    let mut held = Vec::new();
    let mut workers = Vec::new();
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        accepted.fetch_add(1, Ordering::SeqCst);
        match &*behaviour {
            Behaviour::AcceptClose => drop(stream),
            Behaviour::Silent => held.push(stream),
            Behaviour::Http(_) => {
                let (b, r) = (behaviour.clone(), requests.clone());
                workers.push(std::thread::spawn(move || {
                    if let Behaviour::Http(h) = &*b {
                        let _ = answer_http(stream, h, &r);
                    }
                }));
                workers.retain(|w| !w.is_finished());
            }
        }
    }
    for s in held {
        let _ = s.shutdown(Shutdown::Both);
    }
    for w in workers {
        let _ = w.join();
    }
}

fn answer_http(
    stream: TcpStream,
    handler: &Handler,
    requests: &Mutex<Vec<HttpRequest>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let mut headers = Vec::new();
        let mut content_length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                let (n, v) = (n.trim().to_ascii_lowercase(), v.trim().to_owned());
                if n == "content-length" {
                    content_length = v.parse().unwrap_or(0);
                }
                headers.push((n, v));
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        let req = HttpRequest {
            method,
            path,
            headers,
        };
        let resp = handler(&req);
        let close = req.header("connection") == Some("close");
        requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(req.clone());
        let body: &[u8] = if req.method == "HEAD" {
            &[]
        } else {
            &resp.body
        };
        write!(
            writer,
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
            resp.status,
            reason(resp.status),
            resp.body.len()
        )?;
        writer.write_all(body)?;
        writer.flush()?;
        if close {
            return Ok(());
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A loopback port with nothing listening (bound, then released).
pub fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("address").port();
    drop(l);
    port
}
