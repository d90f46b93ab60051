//! Hostile plugins against the real runtime: each must end as a failed check
//! with a precise reason, never harm the daemon or other checks.

use std::time::Duration;

use belay::check::LoadError;
use belay_tests::checks::{CheckLab, assert_healthy, reason};
use belay_tests::plugins::PANIC_MESSAGE;
use belay_tests::{TestServer, build_test_plugin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_a_non_target_address_is_denied() {
    let lab = CheckLab::new();
    lab.load("escape", &build_test_plugin("wrong-target"));
    let target = TestServer::accept_close();
    // A live listener that is not the target: reaching it would be an escape.
    let bystander = TestServer::http_fixed(200, "you should not see me");
    let probes = format!("{},127.0.0.2:{}", bystander.addr(), target.port());
    let r = lab
        .run(
            "escape",
            &target.target(),
            &[("probes", &probes)],
            Duration::from_secs(5),
        )
        .await;
    // The plugin is healthy only if every attempt (sockets, std::net, HTTP) was denied.
    assert_healthy(&r);
    let msg = r.message.as_deref().unwrap_or("");
    assert!(msg.contains("denied"), "{r:?}");
    assert_eq!(
        r.metrics.iter().find(|(n, _)| n == "attempts").map(|m| m.1),
        Some(6.0)
    );
    assert_eq!(
        r.metrics.iter().find(|(n, _)| n == "denied").map(|m| m.1),
        Some(6.0)
    );
    assert_eq!(bystander.accepted(), 0, "the bystander was reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_reported_with_its_message() {
    let lab = CheckLab::new();
    lab.load("panics", &build_test_plugin("panics"));
    let server = TestServer::accept_close();
    let r = lab
        .run("panics", &server.target(), &[], Duration::from_secs(2))
        .await;
    assert_eq!(
        reason(&r),
        format!("panic: {PANIC_MESSAGE} {}", server.port()),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_world_is_rejected_at_load_with_a_clear_error() {
    let lab = CheckLab::new();
    let path = build_test_plugin("wrong-world");
    let err = lab
        .registry
        .load_named_file("ww", &path)
        .expect_err("a wrong-world component must not load");
    assert!(matches!(err, LoadError::WrongExport(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("wrong world"), "{text}");
    assert!(text.contains("belay:check/check"), "{text}");
    // Remembered as the plugin's last error; no version runs.
    assert_eq!(lab.registry.last_error("ww"), Some(err));
    let r = lab
        .run("ww", "127.0.0.1:9", &[], Duration::from_secs(1))
        .await;
    assert!(reason(&r).contains("wrong world"), "{r:?}");

    // Not a component at all.
    let junk = belay_tests::TempDir::new("junk");
    let junk_path = junk.join("junk.wasm");
    std::fs::write(&junk_path, b"\0asm not really").unwrap();
    let err = lab
        .registry
        .load_named_file("junk", &junk_path)
        .expect_err("junk must not load");
    assert!(matches!(err, LoadError::Invalid(_)), "{err:?}");
}
