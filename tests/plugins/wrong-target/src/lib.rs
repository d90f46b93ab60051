//! Hostile: tries to reach addresses that are not its target, by every path a
//! plugin has (wasi:sockets through the SDK, `std::net`, and wasi:http), and
//! reports each outcome in the message:
//! `tcp 127.0.0.1:5001: connection to 127.0.0.1:5001 denied by host policy; ...`.
//!
//! Healthy only if every attempt was denied by the host; otherwise unhealthy
//! with reason "escaped sandbox: ..." naming the attempts that were not.
//! Metrics: `attempts`, `denied`.
//!
//! Param `probes` (comma-separated socket addresses) replaces the default
//! probes, `127.0.0.1:<target port + 1>` and `127.0.0.2:<target port>`, which
//! stay on loopback so a broken sandbox sends nothing off the machine. Pass
//! e.g. `192.0.2.1:80` only inside a test network namespace.
use std::net::{SocketAddr, TcpStream};

use belay_plugin_sdk::prelude::*;

fn run(target: &Target, params: &Params) -> Result<Report, Failure> {
    let timeout = params.duration_or("timeout", Duration::from_millis(500))?;
    let probes: Vec<SocketAddr> = match params.get("probes") {
        Some(list) => list
            .split(',')
            .map(|a| a.trim().parse::<SocketAddr>())
            .collect::<Result<_, _>>()
            .map_err(|e| Failure::new(format!("parameter 'probes': {e}")))?,
        None => vec![
            SocketAddr::from(([127, 0, 0, 1], target.port.wrapping_add(1))),
            SocketAddr::from(([127, 0, 0, 2], target.port)),
        ],
    };

    let mut lines = Vec::new();
    let mut escaped = Vec::new();
    let mut record = |what: String, outcome: Result<(), String>, denied: bool| {
        let text = match outcome {
            Ok(()) => "connected".to_owned(),
            Err(e) => e,
        };
        if !denied {
            escaped.push(what.clone());
        }
        lines.push(format!("{what}: {text}"));
    };

    for addr in &probes {
        let r = tcp::connect_addr(*addr, timeout);
        let denied = matches!(r, Err(tcp::NetError::Denied(_)));
        record(
            format!("tcp {addr}"),
            r.map(drop).map_err(|e| e.to_string()),
            denied,
        );

        let r = TcpStream::connect_timeout(addr, timeout);
        let denied = matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied);
        record(
            format!("std {addr}"),
            r.map(drop).map_err(|e| format!("{e} ({:?})", e.kind())),
            denied,
        );

        let t = Target {
            host: addr.ip().to_string(),
            port: addr.port(),
        };
        let r = http::Request::get(&t, "/").timeout(timeout).send();
        let denied = matches!(r, Err(http::HttpError::Denied(_)));
        record(
            format!("http {addr}"),
            r.map(drop).map_err(|e| e.to_string()),
            denied,
        );
    }

    let attempts = lines.len();
    let report = Report::healthy()
        .message(lines.join("; "))
        .metric("attempts", attempts as f64)
        .metric("denied", (attempts - escaped.len()) as f64);
    if escaped.is_empty() {
        Ok(report)
    } else {
        Err(Failure::with_report(
            format!("escaped sandbox: {}", escaped.join(", ")),
            report,
        ))
    }
}

belay_plugin_sdk::export_check!(run);
