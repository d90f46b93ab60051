//! Generated bindings for world `belay:check/health-check`.
//!
//! Only belay's own interfaces are generated here; every WASI interface is
//! mapped onto the `wasip2` crate (WASI 0.2.12, the version vendored in
//! `wit/deps`), so plugin code can use `wasip2` types directly and there is one
//! definition of each WASI resource.

wit_bindgen::generate!({
    path: "../wit",
    world: "health-check",
    with: {
        "wasi:io/error@0.2.12": wasip2::io::error,
        "wasi:io/poll@0.2.12": wasip2::io::poll,
        "wasi:io/streams@0.2.12": wasip2::io::streams,
        "wasi:clocks/monotonic-clock@0.2.12": wasip2::clocks::monotonic_clock,
        "wasi:clocks/wall-clock@0.2.12": wasip2::clocks::wall_clock,
        "wasi:sockets/network@0.2.12": wasip2::sockets::network,
        "wasi:sockets/instance-network@0.2.12": wasip2::sockets::instance_network,
        "wasi:sockets/tcp@0.2.12": wasip2::sockets::tcp,
        "wasi:sockets/tcp-create-socket@0.2.12": wasip2::sockets::tcp_create_socket,
        "wasi:http/types@0.2.12": wasip2::http::types,
        "wasi:http/outgoing-handler@0.2.12": wasip2::http::outgoing_handler,
    },
    additional_derives: [PartialEq],
    pub_export_macro: true,
    export_macro_name: "__export_health_check",
    default_bindings_module: "::belay_plugin_sdk::bindings",
});
