//! A custom check in ~20 lines: connect to the target, optionally send a
//! greeting, and expect a banner (e.g. `SSH-2.0-`, `+PONG`, `220 `).
//!
//! Build: `cargo build -p belay-plugin-sdk --example banner --target wasm32-wasip2 --release`
//! Params: `expect` (default "SSH-"), `send` (escapes allowed), `timeout` (default 2s).
use belay_plugin_sdk::prelude::*;

fn run(target: &Target, params: &Params) -> Result<Report, Failure> {
    let timeout = params.duration_or("timeout", Duration::from_secs(2))?;
    let expect = escape::unescape(params.get_or("expect", "SSH-"))?;
    let conn = tcp::connect(target, timeout)?;
    if let Some(send) = params.get("send") {
        conn.send(&escape::unescape(send)?, timeout)?;
    }
    let banner = conn.expect(&expect, timeout)?;
    let first_line = String::from_utf8_lossy(&banner);
    let first_line = first_line.lines().next().unwrap_or_default();
    Ok(Report::healthy()
        .metric("connect_ms", conn.connect_ms())
        .message(format!("banner: {first_line}")))
}

belay_plugin_sdk::export_check!(run);
