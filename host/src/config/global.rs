//! `[global]`: settings that belong to the daemon, not to one instance or check.

use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalConfig {
    /// Name of this node in logs, status and notify events (Keepalived's `router_id`).
    pub router_id: String,
    /// Directory watched for custom `.wasm` check plugins; none means stock plugins only.
    pub plugin_dir: Option<PathBuf>,
    /// Where compiled plugins are cached so restarts and reloads skip compilation.
    pub cache_dir: PathBuf,
    /// Unix socket the status API listens on (`belay status` reads it).
    pub status_socket: PathBuf,
    /// Unix socket streaming every transition, priority change, check change
    /// and notify outcome as JSON lines (`socat - UNIX:PATH`); none: off.
    pub event_socket: Option<PathBuf>,
    /// Checks that may run at the same time (more wait for a slot, within
    /// their timeout). Each check in flight holds ~90 KiB of memory, and each
    /// slot reserves address space up front (about 8 GiB of it, not memory),
    /// so lower this where address space is small, e.g. User-Mode Linux.
    pub max_concurrent_checks: u32,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            router_id: hostname(),
            plugin_dir: None,
            cache_dir: PathBuf::from("/var/cache/belay"),
            status_socket: PathBuf::from("/run/belay/belay.sock"),
            event_socket: None,
            max_concurrent_checks: crate::check::runtime::DEFAULT_MAX_CONCURRENT,
        }
    }
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "belay".to_owned())
}
