//! The guest side end to end: the stock plugins, the SDK example and the
//! hostile test plugins are built for wasm32-wasip2 by the lab
//! (`belay_tests::plugins`) and run in a small wasmtime host (`host.rs`)
//! against real listeners on loopback. These tests pin what each plugin does
//! (reasons, metrics, panics on stderr, denied connects); belay's runtime has
//! its own tests for the sandbox policy around them.

#[path = "guest_plugins/host.rs"]
mod host;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use belay_tests::plugins::{self, PANIC_MESSAGE};
use host::{Limits, Outcome, Status, Target, call};

fn target(addr: SocketAddr) -> Target {
    Target {
        host: addr.ip().to_string(),
        port: addr.port(),
    }
}

async fn run(plugin: PathBuf, addr: SocketAddr, params: &[(&str, &str)]) -> Outcome {
    call(&plugin, target(addr), params, Limits::to(&[addr])).await
}

/// A loopback port with nothing listening (bound, then closed).
fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Accepts connections and holds them open without a byte, until dropped.
struct Silent {
    addr: SocketAddr,
    _listener: TcpListener,
}

fn silent() -> Silent {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // The kernel completes handshakes into the backlog: no accept needed.
    Silent {
        addr: listener.local_addr().unwrap(),
        _listener: listener,
    }
}

/// Serves one connection: reads until `until` appears (or EOF), sends
/// `reply`, closes. Returns the address and a channel with what was read.
fn serve_once(until: &'static [u8], reply: Vec<u8>) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !until.is_empty() && !got.windows(until.len()).any(|w| w == until) {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(&reply);
        let _ = tx.send(got);
    });
    (addr, rx)
}

fn http_reply(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn tcp() -> PathBuf {
    plugins::stock_plugin_path("tcp")
}

fn http() -> PathBuf {
    plugins::stock_plugin_path("http")
}

// ---- tcp ----

#[tokio::test(flavor = "multi_thread")]
async fn tcp_connect_is_healthy_with_connect_ms() {
    let (addr, _rx) = serve_once(b"", Vec::new());
    let out = run(tcp(), addr, &[]).await;
    let r = out.report();
    assert_eq!(r.status, Status::Healthy, "{r:?}");
    let ms = r.metric("connect_ms").expect("connect_ms metric");
    assert!((0.0..1000.0).contains(&ms), "connect_ms = {ms}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_send_and_expect() {
    let (addr, rx) = serve_once(b"PING\r\n", b"+PONG\r\n".to_vec());
    let out = run(tcp(), addr, &[("send", r"PING\r\n"), ("expect", "+PONG")]).await;
    let r = out.report();
    assert_eq!(r.status, Status::Healthy, "{r:?}");
    assert!(r.metric("response_ms").is_some(), "{r:?}");
    assert_eq!(rx.recv().unwrap(), b"PING\r\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_expect_mismatch_names_what_came_back() {
    let (addr, _rx) = serve_once(b"\n", b"-ERR unknown\r\n".to_vec());
    let out = run(tcp(), addr, &[("send", r"PING\r\n"), ("expect", "+PONG")]).await;
    assert_eq!(
        out.report().reason(),
        Some(r"expected '+PONG' not found in response (got 14 bytes: '-ERR unknown\r\n')")
    );
    assert!(out.report().metric("connect_ms").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_refused() {
    let out = run(tcp(), closed_port(), &[]).await;
    assert_eq!(out.report().reason(), Some("connection refused"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_silent_server_times_out_on_time() {
    let s = silent();
    let out = run(tcp(), s.addr, &[("expect", "hello"), ("timeout", "300ms")]).await;
    assert_eq!(
        out.report().reason(),
        Some("timed out waiting for response")
    );
    assert!(
        out.elapsed >= Duration::from_millis(300) && out.elapsed < Duration::from_millis(1500),
        "took {:?}",
        out.elapsed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_to_a_target_the_host_does_not_allow_is_denied() {
    let (addr, _rx) = serve_once(b"", Vec::new());
    let out = call(&tcp(), target(addr), &[], Limits::to(&[])).await;
    assert_eq!(
        out.report().reason(),
        Some(format!("connection to {addr} denied by host policy").as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_bad_params_are_reported() {
    let out = run(tcp(), closed_port(), &[("send", r"\q")]).await;
    assert_eq!(
        out.report().reason(),
        Some(r"parameter 'send': unknown escape at offset 0 (use \r \n \t \0 \\ or \xNN)")
    );
}

// ---- http ----

#[tokio::test(flavor = "multi_thread")]
async fn http_ok_with_metrics_and_default_host_header() {
    let (addr, rx) = serve_once(b"\r\n\r\n", http_reply("200 OK", "ok"));
    let out = run(http(), addr, &[("path", "/health")]).await;
    let r = out.report();
    assert_eq!(r.status, Status::Healthy, "{r:?}");
    assert_eq!(r.metric("status"), Some(200.0));
    assert_eq!(r.metric("body_bytes"), Some(2.0));
    assert!(r.metric("response_ms").is_some());
    let req = String::from_utf8(rx.recv().unwrap()).unwrap();
    assert!(req.starts_with("GET /health HTTP/1.1\r\n"), "{req}");
    assert!(
        req.to_ascii_lowercase().contains(&format!("host: {addr}")),
        "{req}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_wrong_status() {
    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("503 Service Unavailable", ""));
    let out = run(http(), addr, &[]).await;
    assert_eq!(out.report().reason(), Some("status 503 not in 200-299"));
    assert_eq!(out.report().metric("status"), Some(503.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_status_set() {
    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("301 Moved", ""));
    let out = run(http(), addr, &[("status", "200-299,301")]).await;
    assert_eq!(out.report().status, Status::Healthy);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_body_contains_and_regex() {
    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("200 OK", "status: degraded"));
    let out = run(http(), addr, &[("body_contains", "ok")]).await;
    assert_eq!(out.report().reason(), Some("body does not contain 'ok'"));

    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("200 OK", "status: up"));
    let out = run(http(), addr, &[("body_regex", r"status: (up|ok)")]).await;
    assert_eq!(out.report().status, Status::Healthy);
}

#[tokio::test(flavor = "multi_thread")]
async fn http_digest() {
    // sha256("hello\n")
    let hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("200 OK", "hello\n"));
    let out = run(http(), addr, &[("digest", hello)]).await;
    assert_eq!(out.report().status, Status::Healthy, "{:?}", out.report());

    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("200 OK", "changed\n"));
    let out = run(http(), addr, &[("digest", hello)]).await;
    let reason = out.report().reason().unwrap_or_default().to_owned();
    assert!(reason.starts_with("digest mismatch: got "), "{reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_head_and_host_override() {
    let (addr, rx) = serve_once(b"\r\n\r\n", http_reply("204 No Content", ""));
    let out = run(http(), addr, &[("method", "HEAD"), ("host", "www.example")]).await;
    assert_eq!(out.report().status, Status::Healthy, "{:?}", out.report());
    let req = String::from_utf8(rx.recv().unwrap()).unwrap();
    assert!(req.starts_with("HEAD / HTTP/1.1\r\n"), "{req}");
    let lower = req.to_ascii_lowercase();
    assert!(lower.contains("host: www.example\r\n"), "{req}");
    assert_eq!(lower.matches("host:").count(), 1, "{req}");
}

#[tokio::test(flavor = "multi_thread")]
async fn http_refused_and_timeout() {
    let out = run(http(), closed_port(), &[]).await;
    assert_eq!(out.report().reason(), Some("connection refused"));

    let s = silent();
    let out = run(http(), s.addr, &[("timeout", "300ms")]).await;
    assert_eq!(
        out.report().reason(),
        Some("timed out waiting for response")
    );
    assert!(
        out.elapsed < Duration::from_millis(1500),
        "took {:?}",
        out.elapsed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_to_a_target_the_host_does_not_allow_is_denied() {
    let (addr, _rx) = serve_once(b"\r\n\r\n", http_reply("200 OK", ""));
    let out = call(&http(), target(addr), &[], Limits::to(&[])).await;
    assert_eq!(
        out.report().reason(),
        Some(format!("request to {addr} denied by host policy").as_str())
    );
}

// ---- the SDK example ----

#[tokio::test(flavor = "multi_thread")]
async fn sdk_example_reads_a_banner() {
    let (addr, _rx) = serve_once(b"", b"SSH-2.0-belay-test\r\n".to_vec());
    let out = run(plugins::build_sdk_example("banner"), addr, &[]).await;
    let r = out.report();
    assert_eq!(r.status, Status::Healthy, "{r:?}");
    assert_eq!(r.message.as_deref(), Some("banner: SSH-2.0-belay-test"));
}

// ---- hostile plugins ----

#[tokio::test(flavor = "multi_thread")]
async fn panic_message_reaches_stderr_and_log() {
    let addr = closed_port();
    let out = run(plugins::build_test_plugin("panics"), addr, &[]).await;
    assert!(out.result.is_err(), "a panic must trap: {:?}", out.result);
    let expected = format!("{PANIC_MESSAGE} {}", addr.port());
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("panicked at "))
        .unwrap_or_else(|| panic!("no panic line on stderr: {:?}", out.stderr));
    assert!(line.ends_with(&expected), "{line}");
    assert!(
        out.logs
            .iter()
            .any(|l| l.starts_with("Error: panicked at ") && l.ends_with(&expected)),
        "{:?}",
        out.logs
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_target_is_denied_on_every_path() {
    let (addr, _rx) = serve_once(b"", Vec::new());
    let out = run(plugins::build_test_plugin("wrong-target"), addr, &[]).await;
    let r = out.report();
    assert_eq!(r.status, Status::Healthy, "{r:?}");
    assert_eq!(r.metric("attempts"), Some(6.0), "{r:?}");
    assert_eq!(r.metric("denied"), Some(6.0), "{r:?}");
    let msg = r.message.clone().unwrap_or_default();
    let probe = format!("127.0.0.1:{}", addr.port() + 1);
    for part in [
        format!("tcp {probe}: connection to {probe} denied by host policy"),
        format!("http {probe}: request to {probe} denied by host policy"),
        format!("std {probe}: "),
    ] {
        assert!(msg.contains(&part), "missing {part:?} in {msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_target_reports_an_escape_when_allowed() {
    // Allow the probes: the plugin must notice it got through.
    let (addr, _rx) = serve_once(b"", Vec::new());
    let probe: SocketAddr = format!("127.0.0.1:{}", addr.port() + 1).parse().unwrap();
    let limits = Limits::to(&[addr, probe]);
    let out = call(
        &plugins::build_test_plugin("wrong-target"),
        target(addr),
        &[("probes", probe.to_string().as_str()), ("timeout", "300ms")],
        limits,
    )
    .await;
    let reason = out.report().reason().unwrap_or_default().to_owned();
    assert!(
        reason.starts_with(&format!("escaped sandbox: tcp {probe}")),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn loop_forever_runs_until_the_deadline() {
    let mut limits = Limits::to(&[]);
    limits.deadline = Duration::from_millis(200);
    let out = call(
        &plugins::build_test_plugin("loop-forever"),
        target(closed_port()),
        &[],
        limits,
    )
    .await;
    let err = out.result.expect_err("an endless loop must be interrupted");
    assert!(err.contains("interrupt"), "{err}");
    assert!(
        out.elapsed >= Duration::from_millis(150),
        "{:?}",
        out.elapsed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_bomb_traps_at_the_cap() {
    let mut limits = Limits::to(&[]);
    limits.memory = 16 << 20;
    let out = call(
        &plugins::build_test_plugin("memory-bomb"),
        target(closed_port()),
        &[],
        limits,
    )
    .await;
    assert!(out.result.is_err(), "must trap: {:?}", out.result);
    assert!(
        out.stderr.contains("memory allocation of"),
        "stderr: {:?}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_world_has_a_mismatched_run() {
    let out = call(
        &plugins::build_test_plugin("wrong-world"),
        target(closed_port()),
        &[],
        Limits::to(&[]),
    )
    .await;
    let err = out.result.expect_err("a different world must not run");
    assert!(err.starts_with("run has the wrong type"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn versioned_builds_report_their_marker() {
    for v in ["v1", "v2"] {
        let out = run(plugins::build_versioned_plugin(v), closed_port(), &[]).await;
        let r = out.report();
        assert_eq!(r.message.as_deref(), Some(v));
        assert_eq!(r.metric("version"), Some(v[1..].parse().unwrap()));
    }
    // Both builds stay on disk side by side.
    assert_ne!(
        std::fs::read(plugins::build_versioned_plugin("v1")).unwrap(),
        std::fs::read(plugins::build_versioned_plugin("v2")).unwrap()
    );
}

#[test]
fn every_test_plugin_builds_as_a_component() {
    for name in plugins::TEST_PLUGINS {
        let path = plugins::build_test_plugin(name);
        let bytes = std::fs::read(&path).unwrap();
        // Component binaries: magic, then layer 1 (not a core module's 1.0).
        assert_eq!(&bytes[..8], b"\0asm\x0d\0\x01\0", "{}", path.display());
        host::component(&path);
    }
}
