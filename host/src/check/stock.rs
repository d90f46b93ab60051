//! The stock check plugins (`plugins/tcp`, `plugins/http`), compiled to
//! wasm32-wasip2 components by `host/build.rs` and embedded in the binary, so
//! a single `belay` file runs them with nothing else on disk.

include!(concat!(env!("OUT_DIR"), "/stock_plugins.rs"));

/// Every stock plugin as (name, component bytes), in a fixed order.
pub fn stock_plugins() -> &'static [(&'static str, &'static [u8])] {
    STOCK_PLUGINS
}

/// The component bytes of stock plugin `name` ("tcp", "http").
pub fn stock_plugin(name: &str) -> Option<&'static [u8]> {
    STOCK_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::component::Component;
    use wasmtime::component::types::ComponentItem;
    use wasmtime::{Config, Engine};

    /// What a stock plugin may import: its world's capabilities, and the
    /// parts of WASI that Rust's std links on wasm32-wasip2 (stdio, terminal,
    /// environment, exit, a random seed for hash maps). No filesystem, UDP or
    /// name lookup.
    fn allowed_import(name: &str) -> bool {
        let Some((iface, version)) = name.split_once('@') else {
            return false;
        };
        let allowed = [
            "wasi:io/error",
            "wasi:io/poll",
            "wasi:io/streams",
            "wasi:clocks/monotonic-clock",
            "wasi:clocks/wall-clock",
            "wasi:sockets/network",
            "wasi:sockets/instance-network",
            "wasi:sockets/tcp",
            "wasi:sockets/tcp-create-socket",
            "wasi:http/types",
            "wasi:http/outgoing-handler",
            "wasi:cli/stdin",
            "wasi:cli/stdout",
            "wasi:cli/stderr",
            "wasi:cli/environment",
            "wasi:cli/exit",
            "wasi:cli/terminal-input",
            "wasi:cli/terminal-output",
            "wasi:cli/terminal-stdin",
            "wasi:cli/terminal-stdout",
            "wasi:cli/terminal-stderr",
            "wasi:random/insecure-seed",
            "belay:check/types",
            "belay:check/log",
            "belay:check/tcp-probe",
        ];
        allowed.contains(&iface) && (version.starts_with("0.2.") || version.starts_with("0.1."))
    }

    #[test]
    fn tcp_and_http_are_embedded() {
        let names: Vec<&str> = stock_plugins().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["tcp", "http"]);
        assert!(stock_plugin("tcp").is_some());
        assert!(stock_plugin("nope").is_none());
    }

    #[test]
    fn stock_plugins_are_health_check_components() {
        let engine = Engine::new(&Config::new()).expect("engine");
        for (name, bytes) in stock_plugins() {
            assert!(bytes.starts_with(b"\0asm"), "{name}: not a wasm binary");
            let component = Component::new(&engine, bytes)
                .unwrap_or_else(|e| panic!("{name}: not a valid component: {e:?}"));
            let ty = component.component_type();

            let (_, check) = ty
                .exports(&engine)
                .find(|(n, _)| *n == "belay:check/check@0.1.0")
                .unwrap_or_else(|| panic!("{name}: does not export belay:check/check@0.1.0"));
            let ComponentItem::ComponentInstance(check) = check.ty else {
                panic!("{name}: belay:check/check@0.1.0 is not an instance");
            };
            let (_, run) = check
                .exports(&engine)
                .find(|(n, _)| *n == "run")
                .unwrap_or_else(|| panic!("{name}: check interface has no `run`"));
            let ComponentItem::ComponentFunc(run) = run.ty else {
                panic!("{name}: `run` is not a function");
            };
            let params: Vec<&str> = run.params().map(|(n, _)| n).collect();
            assert_eq!(params, ["target", "params"], "{name}: run's parameters");
            assert_eq!(run.results().len(), 1, "{name}: run returns one report");

            let imports: Vec<&str> = ty.imports(&engine).map(|(n, _)| n).collect();
            let unexpected: Vec<&&str> = imports.iter().filter(|n| !allowed_import(n)).collect();
            assert!(
                unexpected.is_empty(),
                "{name}: imports outside the allowed set: {unexpected:?} (all: {imports:?})"
            );
        }
    }
}
