//! `belay check`: the plugin author's command. JSON report on stdout; exit 0
//! healthy, 1 unhealthy, 2 usage or load error.

use belay_tests::checks::shared_cache_dir;
use std::process::{Command, Output};
use std::time::Duration;

use belay_tests::{
    TestServer, belay_bin, build_test_plugin, refused_port, stock_plugin_path, wait_until,
};
use serde_json::Value;

fn belay_check(args: &[&str]) -> (Output, Option<Value>) {
    let out = Command::new(belay_bin())
        .arg("check")
        .args(args)
        .env("BELAY_CACHE_DIR", shared_cache_dir())
        .output()
        .expect("run belay check");
    let json = serde_json::from_slice(&out.stdout).ok();
    (out, json)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn healthy_check_prints_json_and_exits_0() {
    let server = TestServer::accept_close();
    let plugin = stock_plugin_path("tcp");
    let (out, json) = belay_check(&[
        "--plugin",
        plugin.to_str().unwrap(),
        "--target",
        &server.target(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let json = json.expect("JSON on stdout");
    assert_eq!(json["status"], "healthy", "{json}");
    assert_eq!(json["plugin"], "stock-tcp", "{json}");
    assert_eq!(json["target"], server.target(), "{json}");
    assert!(json["latency"].as_f64().is_some(), "{json}");
    wait_until(Duration::from_secs(2), "the listener accepts", || {
        server.accepted() >= 1
    });
}

#[test]
fn unhealthy_check_exits_1_with_the_reason() {
    let plugin = stock_plugin_path("tcp");
    let target = format!("127.0.0.1:{}", refused_port());
    let (out, json) = belay_check(&["--plugin", plugin.to_str().unwrap(), "--target", &target]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let json = json.expect("JSON on stdout");
    assert_eq!(json["status"], "unhealthy", "{json}");
    assert!(
        json["reason"].as_str().unwrap_or("").contains("refused"),
        "{json}"
    );
}

#[test]
fn params_and_timeout_reach_the_plugin() {
    let server = TestServer::http_fixed(503, "down");
    let plugin = stock_plugin_path("http");
    let p = plugin.to_str().unwrap();
    let t = server.target();
    let (out, json) = belay_check(&["--plugin", p, "--target", &t, "--param", "status=503"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json.unwrap()["status"], "healthy");

    let hung = TestServer::silent();
    let (out, json) = belay_check(&[
        "--plugin",
        p,
        "--target",
        &hung.target(),
        "--timeout",
        "200ms",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json.unwrap()["reason"], "timeout after 200ms");
}

#[test]
fn load_and_usage_errors_exit_2_with_a_clear_message() {
    let server = TestServer::accept_close();
    let t = server.target();

    let wrong = build_test_plugin("wrong-world");
    let (out, json) = belay_check(&["--plugin", wrong.to_str().unwrap(), "--target", &t]);
    assert_eq!(out.status.code(), Some(2));
    assert!(json.is_none(), "no report for a plugin that did not load");
    assert!(stderr(&out).contains("wrong world"), "{}", stderr(&out));

    let (out, _) = belay_check(&["--plugin", "/nonexistent/x.wasm", "--target", &t]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/nonexistent/x.wasm"),
        "{}",
        stderr(&out)
    );

    let (out, _) = belay_check(&["--plugin", "no-such-stock", "--target", &t]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no stock plugin `no-such-stock`"),
        "{}",
        stderr(&out)
    );

    let (out, _) = belay_check(&["--plugin", "tcp", "--target", "no-port"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("HOST:PORT"), "{}", stderr(&out));

    let (out, _) = belay_check(&["--plugin", "tcp", "--target", &t, "--param", "novalue"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("KEY=VALUE"), "{}", stderr(&out));
}

#[test]
fn stock_plugins_are_built_in_by_name() {
    let server = TestServer::http_fixed(200, "hello");
    for plugin in ["tcp", "http"] {
        let (out, json) = belay_check(&["--plugin", plugin, "--target", &server.target()]);
        assert_eq!(out.status.code(), Some(0), "{plugin}: {}", stderr(&out));
        let json = json.expect("JSON on stdout");
        assert_eq!(json["plugin"], plugin, "{json}");
        assert_eq!(json["status"], "healthy", "{json}");
    }
    let (_, json) = belay_check(&["--plugin", "http", "--target", &server.target()]);
    assert_eq!(json.unwrap()["metrics"]["status"], 200.0);
}
