//! Plugin registry: name → the version that runs now.
//!
//! Sources: stock plugins embedded in the binary, and custom `.wasm` files in
//! the plugin directory (name = file stem). A custom plugin with a stock name
//! *shadows* the stock one while its file exists (logged as a warning), so an
//! operator can hot-fix a stock check; removing the file brings the stock
//! version back.
//!
//! Swaps are atomic: [`Registry::get`] hands out an `Arc<Plugin>`, so a check
//! in flight finishes on the version it started with. A load that fails keeps
//! the previous version and is remembered as the plugin's last error.
//! Changes are announced on a broadcast channel ([`RegistryEvent`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio::sync::broadcast;

use super::cache::{self, CacheOutcome};
use super::plugin::{LoadError, Origin, Plugin};
use super::runtime::Runtime;

/// What the registry has under a name, for one check attempt.
#[derive(Debug, Clone)]
pub enum Lookup {
    Ready(Arc<Plugin>),
    /// It existed and its file was removed: its checks should stop.
    Removed,
    /// Never loaded (a typo in the config, or its load failed).
    Unknown,
}

/// A change of what runs under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A version is now current (first load, reload, or stock restored).
    Loaded {
        name: String,
        version: String,
        origin: Origin,
    },
    /// A new file failed to load; `running` is the version still in use.
    LoadFailed {
        name: String,
        error: LoadError,
        running: Option<String>,
    },
    /// The plugin is gone: its probes now report "plugin removed", and the
    /// daemon should stop scheduling the checks that use it.
    Removed { name: String },
}

/// One plugin's state, for the status API.
#[derive(Debug, Clone)]
pub struct PluginStatus {
    pub name: String,
    pub version: Option<String>,
    pub origin: Option<Origin>,
    pub loaded_at: Option<SystemTime>,
    pub cache: Option<CacheOutcome>,
    /// The latest failed load, cleared by the next successful one.
    pub last_error: Option<LoadError>,
    pub shadows_stock: bool,
}

#[derive(Default)]
struct Entry {
    stock: Option<Arc<Plugin>>,
    file: Option<Arc<Plugin>>,
    last_error: Option<LoadError>,
    removed: bool,
}

impl Entry {
    fn current(&self) -> Option<&Arc<Plugin>> {
        self.file.as_ref().or(self.stock.as_ref())
    }
}

pub struct Registry {
    runtime: Arc<Runtime>,
    entries: RwLock<BTreeMap<String, Entry>>,
    events: broadcast::Sender<RegistryEvent>,
}

impl Registry {
    pub fn new(runtime: Arc<Runtime>) -> Arc<Registry> {
        let (events, _) = broadcast::channel(256);
        Arc::new(Registry {
            runtime,
            entries: RwLock::new(BTreeMap::new()),
            events,
        })
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Changes from now on. A lagging receiver misses events but can always
    /// re-read the truth with [`Registry::get`].
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    /// The version to use for one attempt.
    pub fn get(&self, name: &str) -> Lookup {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(name) {
            Some(e) => match e.current() {
                Some(p) => Lookup::Ready(p.clone()),
                None if e.removed => Lookup::Removed,
                None => Lookup::Unknown,
            },
            None => Lookup::Unknown,
        }
    }

    /// Names with a version loaded now.
    pub fn names(&self) -> Vec<String> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter(|(_, e)| e.current().is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub fn status(&self) -> Vec<PluginStatus> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .map(|(name, e)| {
                let cur = e.current();
                PluginStatus {
                    name: name.clone(),
                    version: cur.map(|p| p.version()),
                    origin: cur.map(|p| p.origin.clone()),
                    loaded_at: cur.map(|p| p.loaded_at),
                    cache: cur.map(|p| p.cache),
                    last_error: e.last_error.clone(),
                    shadows_stock: e.file.is_some() && e.stock.is_some(),
                }
            })
            .collect()
    }

    /// The last load error of `name`, if its latest load failed.
    pub fn last_error(&self, name: &str) -> Option<LoadError> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(name).and_then(|e| e.last_error.clone())
    }

    /// Loads an embedded stock plugin (blocking; cached compile).
    pub fn load_stock(&self, name: &str, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        match self.runtime.load(name, Origin::Stock, bytes) {
            Ok(p) => {
                let p = Arc::new(p);
                let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                let e = entries.entry(name.to_owned()).or_default();
                e.stock = Some(p.clone());
                e.removed = false;
                let shadowed = e.file.is_some();
                drop(entries);
                if !shadowed {
                    self.announce_loaded(&p);
                }
                Ok(p)
            }
            Err(error) => {
                tracing::error!(plugin = name, %error, "stock plugin failed to load");
                self.record_failure(name, error.clone());
                Err(error)
            }
        }
    }

    /// Loads (or reloads) a custom plugin file (blocking: compiles on a cache
    /// miss). `Ok(None)` when the file's content is the version already
    /// running. On error the previous version stays current.
    pub fn load_file(&self, path: &Path) -> Result<Option<Arc<Plugin>>, LoadError> {
        let Some(name) = plugin_name(path) else {
            return Err(LoadError::Read {
                path: path.to_path_buf(),
                reason:
                    "not a plugin file name (want NAME.wasm, NAME of letters, digits, `-`, `_`)"
                        .into(),
            });
        };
        self.load_named_file(&name, path)
    }

    /// [`Registry::load_file`] under an explicit name (`belay check PATH`).
    pub fn load_named_file(
        &self,
        name: &str,
        path: &Path,
    ) -> Result<Option<Arc<Plugin>>, LoadError> {
        let name = name.to_owned();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                let error = LoadError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                };
                self.record_failure(&name, error.clone());
                return Err(error);
            }
        };
        let digest = cache::digest(&bytes);
        {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            if let Some(f) = entries.get(&name).and_then(|e| e.file.as_ref())
                && f.digest == digest
                && f.origin == Origin::File(path.to_path_buf())
            {
                return Ok(None);
            }
        }
        match self
            .runtime
            .load(&name, Origin::File(path.to_path_buf()), &bytes)
        {
            Ok(p) => {
                let p = Arc::new(p);
                let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
                let e = entries.entry(name.clone()).or_default();
                let shadows = e.stock.is_some() && e.file.is_none();
                e.file = Some(p.clone());
                e.last_error = None;
                e.removed = false;
                drop(entries);
                if shadows {
                    tracing::warn!(plugin = %name, path = %path.display(),
                        "custom plugin shadows the stock plugin of the same name until its file is removed");
                }
                self.announce_loaded(&p);
                Ok(Some(p))
            }
            Err(error) => {
                self.record_failure(&name, error.clone());
                Err(error)
            }
        }
    }

    /// The plugin file for `name` is gone: fall back to the stock version if
    /// there is one, else mark it removed.
    pub fn remove_file(&self, name: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let Some(e) = entries.get_mut(name) else {
            return;
        };
        if e.file.take().is_none() {
            return;
        }
        e.last_error = None;
        let fallback = e.stock.clone();
        e.removed = fallback.is_none();
        drop(entries);
        match fallback {
            Some(stock) => {
                tracing::info!(plugin = name, version = %stock.version(),
                    "custom plugin file removed; the stock plugin is back");
                self.announce_loaded(&stock);
            }
            None => {
                tracing::info!(plugin = name, "plugin file removed; its checks stop");
                let _ = self.events.send(RegistryEvent::Removed {
                    name: name.to_owned(),
                });
            }
        }
    }

    fn announce_loaded(&self, p: &Plugin) {
        tracing::info!(plugin = %p.name, version = %p.version(), origin = %p.origin,
            cache = ?p.cache, "plugin loaded");
        let _ = self.events.send(RegistryEvent::Loaded {
            name: p.name.clone(),
            version: p.version(),
            origin: p.origin.clone(),
        });
    }

    fn record_failure(&self, name: &str, error: LoadError) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let e = entries.entry(name.to_owned()).or_default();
        e.last_error = Some(error.clone());
        let running = e.current().map(|p| p.version());
        drop(entries);
        match &running {
            Some(v) => tracing::warn!(plugin = name, %error, running = %v,
                "plugin failed to load; the previous version keeps running"),
            None => tracing::warn!(plugin = name, %error, "plugin failed to load"),
        }
        let _ = self.events.send(RegistryEvent::LoadFailed {
            name: name.to_owned(),
            error,
            running,
        });
    }
}

/// `NAME` for a plugin file `DIR/NAME.wasm`; `None` for anything else (hidden
/// files, editor temp files such as `.x.wasm.swp` or `x.wasm~`, odd names).
pub fn plugin_name(path: &Path) -> Option<String> {
    if path.extension()? != "wasm" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let valid = !stem.is_empty()
        && !stem.starts_with('.')
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then(|| stem.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_from_paths() {
        assert_eq!(
            plugin_name(Path::new("/p/tcp.wasm")).as_deref(),
            Some("tcp")
        );
        assert_eq!(
            plugin_name(Path::new("/p/my-check_2.wasm")).as_deref(),
            Some("my-check_2")
        );
        for other in [
            "/p/.tcp.wasm",
            "/p/tcp.wasm.swp",
            "/p/tcp.wasm~",
            "/p/tcp.wasm.tmp",
            "/p/tcp",
            "/p/a b.wasm",
            "/p/.wasm",
        ] {
            assert_eq!(plugin_name(Path::new(other)), None, "{other}");
        }
    }
}
