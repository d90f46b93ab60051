//! Host bindings for the `belay:check` world, generated from `wit/check.wit`.
//!
//! WASI interfaces map onto wasmtime-wasi's and wasmtime-wasi-http's own
//! bindings, so one linker serves both and no WASI types are generated twice.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "health-check",
    imports: {
        "belay:check/tcp-probe.probe": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
        "wasi:sockets": wasmtime_wasi::p2::bindings::sockets,
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
    },
});

pub use self::belay::check::log::Level;
pub use self::belay::check::types::{Metric, Report, Status, Target};
