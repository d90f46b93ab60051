//! A NAT load-balancing lab for kernel IPVS tests (inside UML): a client
//! namespace reaches a VIP on the director namespace, which forwards to
//! real-server namespaces running real TCP/HTTP servers, and to a sorry
//! server.
//!
//! Addresses: client 192.0.2.2 → VIP 192.0.2.1:80 on the director; real
//! server `i` at 198.51.100.(2 + 16i):8080 on its own /28; the sorry server
//! at 203.0.113.9:8080.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::Netns;
use crate::uml::{spawn_in, veth};

/// The virtual service the client connects to.
pub const VIP: &str = "192.0.2.1:80";

/// Director, client, two real servers and a sorry server, each in its own
/// namespace (all removed on drop).
pub struct Lab {
    pub lb: Netns,
    pub client: Netns,
    pub rs: Vec<Netns>,
    pub sorry: Netns,
}

/// Real server `i`'s address.
pub fn rs_addr(i: usize) -> SocketAddr {
    format!("198.51.100.{}:8080", 2 + 16 * i).parse().unwrap()
}

pub fn sorry_addr() -> SocketAddr {
    "203.0.113.9:8080".parse().unwrap()
}

impl Lab {
    pub fn new() -> Lab {
        let lb = Netns::new("lb");
        let client = Netns::new("cl");
        veth(&lb, "c0", &client, "eth0");
        lb.add_addr("c0", "192.0.2.1/24");
        client.add_addr("eth0", "192.0.2.2/24");
        client.ip(&["route", "add", "default", "via", "192.0.2.1"]);
        let mut rs = Vec::new();
        for i in 0..2 {
            let ns = Netns::new(&format!("rs{i}"));
            let lb_if = format!("r{i}");
            veth(&lb, &lb_if, &ns, "eth0");
            lb.add_addr(&lb_if, &format!("198.51.100.{}/28", 1 + 16 * i));
            ns.add_addr("eth0", &format!("{}/28", rs_addr(i).ip()));
            ns.ip(&[
                "route",
                "add",
                "default",
                "via",
                &format!("198.51.100.{}", 1 + 16 * i),
            ]);
            rs.push(ns);
        }
        let sorry = Netns::new("sorry");
        veth(&lb, "s0", &sorry, "eth0");
        lb.add_addr("s0", "203.0.113.1/24");
        sorry.add_addr("eth0", "203.0.113.9/24");
        sorry.ip(&["route", "add", "default", "via", "203.0.113.1"]);
        lb.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
        Lab {
            lb,
            client,
            rs,
            sorry,
        }
    }

    /// `ipvsadm -Ln` in the director.
    pub fn table(&self) -> String {
        self.lb.exec("ipvsadm", &["-Ln"])
    }

    /// Opens `n` new connections to the VIP from the client namespace and
    /// counts who answered (`"refused"`/`"timeout"`/`"no answer"` for
    /// failures).
    pub fn fetch(&self, n: usize) -> BTreeMap<String, usize> {
        spawn_in(&self.client, move || {
            let mut seen = BTreeMap::new();
            for _ in 0..n {
                *seen.entry(get(VIP.parse().unwrap())).or_insert(0) += 1;
            }
            seen
        })
        .join()
        .expect("client thread")
    }
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

/// One HTTP/1.0 GET of `/` on a new connection: the body (the answering
/// backend's name), or what went wrong.
fn get(addr: SocketAddr) -> String {
    let mut s = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return "refused".into(),
        Err(_) => return "timeout".into(),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET / HTTP/1.0\r\nHost: vip\r\n\r\n");
    let mut buf = String::new();
    match s.read_to_string(&mut buf) {
        Ok(_) => match buf.split_once("\r\n\r\n") {
            Some((_, body)) if !body.is_empty() => body.to_owned(),
            _ => "no answer".to_owned(),
        },
        Err(_) => "no answer".to_owned(),
    }
}

/// `"Masq 2"`: forwarding method and weight of `addr` in `ipvsadm -Ln`
/// output (connection counters left out: they linger across removals).
pub fn dest_line(t: &str, addr: SocketAddr) -> Option<String> {
    t.lines()
        .find(|l| l.contains(&format!("-> {addr} ")))
        .map(|l| {
            l.split_whitespace()
                .skip(2)
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
}

/// A minimal HTTP/1.0 server on a thread inside a namespace: every request
/// gets its name as the body, with status 200 while healthy and 503 while
/// sick. A connection that sends nothing (a TCP check) is just closed.
/// Stopped (listener closed, so connections are refused) when dropped.
pub struct Backend {
    stop: Arc<AtomicBool>,
    healthy: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Backend {
    pub fn start(ns: &Netns, name: &str, addr: SocketAddr) -> Backend {
        let stop = Arc::new(AtomicBool::new(false));
        let healthy = Arc::new(AtomicBool::new(true));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (flag, ok, name) = (stop.clone(), healthy.clone(), name.to_owned());
        let thread = spawn_in(ns, move || {
            let l = TcpListener::bind(addr).expect("bind backend");
            l.set_nonblocking(true).expect("nonblocking");
            ready_tx.send(()).expect("ready");
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => serve(s, &name, ok.load(Ordering::Relaxed)),
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("backend did not start");
        Backend {
            stop,
            healthy,
            thread: Some(thread),
        }
    }

    /// Sick backends keep accepting but answer 503.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }
}

fn serve(mut s: TcpStream, name: &str, healthy: bool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut req = Vec::new();
    let mut buf = [0u8; 512];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let status = if healthy {
        "200 OK"
    } else {
        "503 Service Unavailable"
    };
    let _ = write!(
        s,
        "HTTP/1.0 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{name}",
        name.len()
    );
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
