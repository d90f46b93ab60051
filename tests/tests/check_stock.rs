//! The stock `tcp` and `http` plugins, run by the real runtime against real
//! listeners on loopback: healthy, refused, hung (timeout), wrong status,
//! wrong body, digest.

use std::time::Duration;

use belay_tests::checks::{CheckLab, assert_healthy, reason};
use belay_tests::servers::HttpResponse;
use belay_tests::{TestServer, refused_port, stock_plugin_path, wait_until};

fn lab() -> CheckLab {
    let lab = CheckLab::new();
    lab.load("tcp", &stock_plugin_path("tcp"));
    lab.load("http", &stock_plugin_path("http"));
    lab
}

const T: Duration = Duration::from_secs(3);

fn metric(report: &belay::check::Report, name: &str) -> Option<f64> {
    report
        .metrics
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_connect_to_a_listener_is_healthy() {
    let lab = lab();
    let server = TestServer::accept_close();
    let r = lab.run("tcp", &server.target(), &[], T).await;
    assert_healthy(&r);
    assert!(metric(&r, "connect_ms").is_some(), "{r:?}");
    // The kernel completes the handshake before the server thread accepts.
    wait_until(
        Duration::from_secs(2),
        "the listener accepts the connection",
        || server.accepted() >= 1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_refused_is_unhealthy() {
    let lab = lab();
    let target = format!("127.0.0.1:{}", refused_port());
    let r = lab.run("tcp", &target, &[], T).await;
    assert!(reason(&r).contains("refused"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_listener_that_never_answers_times_out() {
    let lab = lab();
    let server = TestServer::silent();
    // The plugin's own timeout fires first and says so.
    let r = lab
        .run(
            "tcp",
            &server.target(),
            &[
                ("send", "PING\\r\\n"),
                ("expect", "PONG"),
                ("timeout", "300ms"),
            ],
            T,
        )
        .await;
    assert!(
        reason(&r).contains("timed out") || reason(&r).contains("timeout"),
        "{r:?}"
    );
    assert!(r.latency < Duration::from_secs(2), "{r:?}");
    // Without a plugin timeout, the host's wall-clock timeout ends it.
    let r = lab
        .run(
            "tcp",
            &server.target(),
            &[("send", "PING"), ("expect", "PONG"), ("timeout", "30s")],
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(reason(&r), "timeout after 300ms", "{r:?}");
    assert!(r.latency < Duration::from_millis(350), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_200_is_healthy_and_sends_the_path() {
    let lab = lab();
    let server = TestServer::http_fixed(200, "all good");
    let r = lab
        .run("http", &server.target(), &[("path", "/health")], T)
        .await;
    assert_healthy(&r);
    assert_eq!(metric(&r, "status"), Some(200.0), "{r:?}");
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("GET", "/health")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_host_header_override_reaches_the_server() {
    let lab = lab();
    let server = TestServer::http_fixed(200, "ok");
    let r = lab
        .run("http", &server.target(), &[("host", "www.example.test")], T)
        .await;
    assert_healthy(&r);
    let reqs = server.requests();
    let hosts: Vec<_> = reqs[0]
        .headers
        .iter()
        .filter(|(n, _)| n == "host")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(hosts, ["www.example.test"], "{reqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_wrong_status_is_unhealthy() {
    let lab = lab();
    let server = TestServer::http_fixed(503, "down for maintenance");
    let r = lab.run("http", &server.target(), &[], T).await;
    assert!(reason(&r).contains("503"), "{r:?}");
    assert_eq!(metric(&r, "status"), Some(503.0), "{r:?}");
    // An explicitly expected status is healthy.
    let r = lab
        .run("http", &server.target(), &[("status", "503")], T)
        .await;
    assert_healthy(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_wrong_body_is_unhealthy() {
    let lab = lab();
    let server = TestServer::http_fixed(200, "status: degraded");
    let r = lab
        .run(
            "http",
            &server.target(),
            &[("body_contains", "status: ok")],
            T,
        )
        .await;
    assert!(reason(&r).contains("status: ok"), "{r:?}");
    let r = lab
        .run(
            "http",
            &server.target(),
            &[("body_contains", "degraded")],
            T,
        )
        .await;
    assert_healthy(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_digest_must_match_the_body() {
    let lab = lab();
    let server = TestServer::http(|_| HttpResponse::new(200, "abc"));
    // sha256("abc")
    let good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let r = lab
        .run("http", &server.target(), &[("digest", good)], T)
        .await;
    assert_healthy(&r);
    let bad = "0000000000000000000000000000000000000000000000000000000000000000";
    let r = lab
        .run("http", &server.target(), &[("digest", bad)], T)
        .await;
    assert!(reason(&r).contains("digest"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_refused_and_hung_are_unhealthy() {
    let lab = lab();
    let target = format!("127.0.0.1:{}", refused_port());
    let r = lab.run("http", &target, &[], T).await;
    assert!(reason(&r).to_lowercase().contains("refused"), "{r:?}");

    let hung = TestServer::silent();
    let r = lab
        .run("http", &hung.target(), &[("timeout", "300ms")], T)
        .await;
    let why = reason(&r).to_lowercase();
    assert!(
        why.contains("timed out") || why.contains("timeout"),
        "{r:?}"
    );
    assert!(r.latency < Duration::from_secs(2), "{r:?}");

    let r = lab
        .run(
            "http",
            &hung.target(),
            &[("timeout", "30s")],
            Duration::from_millis(300),
        )
        .await;
    assert_eq!(reason(&r), "timeout after 300ms", "{r:?}");
}
