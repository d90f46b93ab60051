//! Guest SDK for belay health-check plugins.
//!
//! A plugin is a WebAssembly component (target `wasm32-wasip2`) exporting
//! `belay:check/check@0.1.0#run`. This crate generates the bindings for world
//! `health-check` from `wit/`, and adds the helpers most checks need, so a
//! custom check is a function and one macro:
//!
//! ```no_run
//! use belay_plugin_sdk::prelude::*;
//!
//! fn run(target: &Target, params: &Params) -> Result<Report, Failure> {
//!     let timeout = params.duration_or("timeout", Duration::from_secs(2))?;
//!     let conn = tcp::connect(target, timeout)?;
//!     conn.send(b"PING\r\n", timeout)?;
//!     conn.expect(b"+PONG", timeout)?;
//!     Ok(Report::healthy().metric("connect_ms", conn.connect_ms()))
//! }
//!
//! belay_plugin_sdk::export_check!(run);
//! ```
//!
//! # Errors, panics and the host
//! - Return `Err(Failure)` (or use `?` on any helper) for an unhealthy report
//!   whose reason is the failure's text.
//! - A panic traps the component. Before that, the SDK's panic hook writes one
//!   line, `panicked at FILE:LINE:COL: MESSAGE`, to the guest's stderr
//!   (`wasi:cli/stderr`), so a host that captures stderr can use it as the
//!   failure reason. The message also goes to the `log` import at level
//!   `error`.
//! - Timeouts: the host bounds every call, but a check that keeps its own,
//!   shorter deadline (the `timeout` parameter by convention) gives a better
//!   reason than the host's "timeout".
//!
//! # Imports
//! Plugins built with this SDK import only what they use of: `wasi:sockets`
//! (tcp, tcp-create-socket, network, instance-network), `wasi:http`
//! (types, outgoing-handler), `wasi:io` (error, poll, streams), `wasi:clocks`
//! (monotonic-clock, wall-clock), `belay:check/log`, `belay:check/tcp-probe`
//! (`tcp::probe`), plus what Rust's `std`
//! pulls in on wasm32-wasip2 (`wasi:cli` environment/exit/stdio, and
//! `wasi:filesystem` preopens/types through wasi-libc).

pub mod bindings;
pub mod escape;
pub mod http;
pub mod log;
pub mod params;
pub mod report;
pub mod tcp;
pub mod time;

#[doc(hidden)]
pub mod __private;

pub use bindings::belay::check::types::{Metric, Report, Status, Target};
pub use params::Params;
pub use report::Failure;
/// WASI 0.2.12 bindings, for what the helpers do not cover.
pub use wasip2;

/// Everything a typical check needs.
pub mod prelude {
    pub use crate::report::Failure;
    pub use crate::{Params, Report, Status, Target};
    pub use crate::{escape, http, log, tcp};
    pub use std::time::Duration;
}

/// Exports a check function as the plugin's `run`.
///
/// The function has the signature
/// `fn(&Target, &Params) -> Result<Report, Failure>`; an `Err` becomes an
/// unhealthy report with the failure's reason. The macro also installs the
/// SDK's panic hook (see the crate docs) before the first call. On non-wasm
/// targets it exports nothing, so a plugin crate still builds natively for
/// its unit tests.
#[macro_export]
macro_rules! export_check {
    ($run:path) => {
        #[doc(hidden)]
        pub struct __BelayCheck;

        impl $crate::bindings::exports::belay::check::check::Guest for __BelayCheck {
            fn run(
                target: $crate::Target,
                params: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> $crate::Report {
                $crate::__private::run(target, params, $run)
            }
        }

        // Only wasm builds export the symbols: their names (`belay:check/...`)
        // are not valid in a native linker's export list, and native builds
        // exist only for unit tests and clippy.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_health_check!(__BelayCheck with_types_in $crate::bindings);
    };
}
