//! Stock check `tcp`: connects to the target; optionally sends bytes and
//! expects bytes back (Keepalived's TCP_CHECK, plus a banner/response match).
//!
//! Params:
//! - `timeout` (default 3s): connect, send and response each within it;
//! - `send`: bytes to send after connecting (escapes `\r \n \t \0 \\ \xNN`);
//! - `expect`: bytes that must occur in the response (same escapes).
//!
//! Metrics: `connect_ms`, and `response_ms` when `expect` is set.

use belay_plugin_sdk::prelude::*;
use belay_plugin_sdk::time::Stopwatch;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

fn param_bytes(params: &Params, key: &str) -> Result<Option<Vec<u8>>, Failure> {
    params
        .get(key)
        .map(|v| escape::unescape(v).map_err(|e| Failure::new(format!("parameter '{key}': {e}"))))
        .transpose()
}

fn run(target: &Target, params: &Params) -> Result<Report, Failure> {
    let timeout = params.duration_or("timeout", DEFAULT_TIMEOUT)?;
    let send = param_bytes(params, "send")?;
    let expect = param_bytes(params, "expect")?;

    let conn = tcp::connect(target, timeout)?;
    let report = Report::healthy().metric("connect_ms", conn.connect_ms());
    let fail =
        |e: tcp::NetError, report: &Report| Failure::with_report(e.to_string(), report.clone());

    if let Some(send) = &send {
        conn.send(send, timeout).map_err(|e| fail(e, &report))?;
    }
    match &expect {
        None => Ok(report),
        Some(expect) => {
            let watch = Stopwatch::start();
            let result = conn.expect(expect, timeout);
            let report = report.metric("response_ms", watch.ms());
            result.map_err(|e| fail(e, &report))?;
            Ok(report)
        }
    }
}

belay_plugin_sdk::export_check!(run);
