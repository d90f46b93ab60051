//! Stock check `http`: GET or HEAD on a path of the target (Keepalived's
//! HTTP_GET/SSL_GET), judged by status, body substring, regex and digest.
//!
//! Params:
//! - `method` GET (default) or HEAD; `path` (default "/");
//! - `scheme` http (default) or https; `host`: Host header override;
//! - `status`: expected codes, e.g. "200", "200-299,301", "2xx" (default 200-299);
//! - `body_contains`, `body_regex` (regex-lite syntax), `digest` (sha256 hex of
//!   the body, as Keepalived's `genhash` prints it);
//! - `timeout` (default 5s): connect, first byte, between bytes and the whole
//!   exchange; `max_body_bytes` (default 1 MiB).
//!
//! Metrics: `status`, `response_ms`, `body_bytes`.

pub mod config;
pub mod status;
pub mod verdict;

use belay_plugin_sdk::prelude::*;

use crate::config::{Config, Method};

fn run(target: &Target, params: &Params) -> Result<Report, Failure> {
    let config = Config::from_params(params)?;
    let mut request = match config.method {
        Method::Get => http::Request::get(target, &config.path),
        Method::Head => http::Request::head(target, &config.path),
    }
    .https(config.https)
    .timeout(config.timeout)
    .max_body(config.max_body);
    if let Some(host) = &config.host {
        request = request.host_header(host);
    }
    let response = request.send()?;
    let report = Report::healthy()
        .metric("status", f64::from(response.status))
        .metric("response_ms", response.elapsed.as_secs_f64() * 1e3)
        .metric("body_bytes", response.body.len() as f64);
    match verdict::judge(&config, response.status, &response.body) {
        Ok(()) => Ok(report),
        Err(reason) => Err(Failure::with_report(reason, report)),
    }
}

belay_plugin_sdk::export_check!(run);
