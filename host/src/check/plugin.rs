//! A loaded plugin: compiled, type-checked against the `health-check` world,
//! and linked (`InstancePre`) so each check only instantiates and calls.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use super::bindings::HealthCheckPre;
use super::cache::{CacheOutcome, hex};
use super::sandbox::Sandbox;

/// The interface every plugin must export (any 0.1.x version).
pub const CHECK_EXPORT: &str = "belay:check/check@0.1.";

/// Where a plugin's bytes came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the `belay` binary.
    Stock,
    /// A `.wasm` file (plugin directory, or `belay check --plugin PATH`).
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Stock => f.write_str("stock"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One version of a plugin, ready to instantiate. Shared as `Arc<Plugin>`:
/// a reload swaps the registry's `Arc`; checks in flight keep the old one.
pub struct Plugin {
    pub name: String,
    pub origin: Origin,
    /// sha256 of the component bytes: the version's identity.
    pub digest: [u8; 32],
    pub loaded_at: SystemTime,
    pub cache: CacheOutcome,
    pub(crate) pre: HealthCheckPre<Sandbox>,
}

impl Plugin {
    /// The first 12 hex digits of the digest, for logs and status.
    pub fn version(&self) -> String {
        hex(&self.digest[..6])
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("origin", &self.origin)
            .field("version", &self.version())
            .field("cache", &self.cache)
            .finish()
    }
}

/// Why a plugin could not be loaded. The previous version, if any, keeps running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    #[error(
        "wrong world: the component does not export `{CHECK_EXPORT}x` (it exports: {exports}); build it for world `belay:check/health-check`"
    )]
    MissingExport { exports: String },
    #[error(
        "wrong world: `belay:check/check` has the wrong shape: {0}; rebuild it against wit/check.wit"
    )]
    WrongExport(String),
    #[error(
        "unsatisfiable import: {0}; plugins may import only the interfaces of world `belay:check/health-check` and WASI 0.2"
    )]
    Import(String),
    #[error("no plugin named `{0}`")]
    Unknown(String),
}

/// Renders a wasmtime error with its causes on one line.
pub(crate) fn error_chain(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
