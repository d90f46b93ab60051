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

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

fn param_bytes(params: &Params, key: &str) -> Result<Option<Vec<u8>>, Failure> {
    params
        .get(key)
        .map(|v| escape::unescape(v).map_err(|e| Failure::new(format!("parameter '{key}': {e}"))))
        .transpose()
}

/// One host call (`tcp::probe`): the connect, send and read run natively.
fn run(target: &Target, params: &Params) -> Result<Report, Failure> {
    let timeout = params.duration_or("timeout", DEFAULT_TIMEOUT)?;
    let send = param_bytes(params, "send")?;
    let expect = param_bytes(params, "expect")?;

    let probed = tcp::probe(target, timeout, send.as_deref(), expect.as_deref());
    let mut report = Report::healthy();
    if let Some(ms) = probed.connect_ms {
        report = report.metric("connect_ms", ms);
    }
    if let Some(ms) = probed.response_ms {
        report = report.metric("response_ms", ms);
    }
    match probed.error {
        None => Ok(report),
        Some(e) => Err(Failure::with_report(e.to_string(), report)),
    }
}

belay_plugin_sdk::export_check!(run);
