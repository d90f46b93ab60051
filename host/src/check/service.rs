//! The check service: what the daemon and the demo start. It owns the
//! runtime, the registry (stock plugins + the watched plugin directory) and
//! one [`WasmProbe`] per configured check, ready for the scheduler.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

use super::probe::Probe;
use super::registry::Registry;
use super::runtime::{Runtime, RuntimeConfig, RuntimeError};
use super::wasm_probe::{CheckSpec, WasmProbe};
use super::watch::{PluginWatcher, WatchError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Watch(#[from] WatchError),
}

/// Settings of the check service (from `[global]`).
#[derive(Debug, Clone, Default)]
pub struct ServiceConfig {
    pub runtime: RuntimeConfig,
    /// Directory of custom `.wasm` plugins, watched for changes.
    pub plugin_dir: Option<PathBuf>,
}

pub struct CheckService {
    registry: Arc<Registry>,
    watcher: Option<PluginWatcher>,
    probes: IndexMap<String, Arc<WasmProbe>>,
}

impl CheckService {
    /// Creates the runtime, loads the stock plugins and the plugin directory,
    /// and builds a probe per check. Must be called inside a tokio runtime.
    /// A check naming a plugin that failed to load still gets a probe: it
    /// reports the load error until a good version appears.
    pub async fn start(
        config: ServiceConfig,
        checks: Vec<CheckSpec>,
    ) -> Result<CheckService, ServiceError> {
        let runtime = Runtime::new(config.runtime)?;
        let registry = Registry::new(runtime);
        load_stock(&registry).await;
        let watcher = match &config.plugin_dir {
            Some(dir) => Some(PluginWatcher::start(registry.clone(), dir).await?),
            None => None,
        };
        let probes = checks
            .into_iter()
            .map(|spec| {
                (
                    spec.name.clone(),
                    Arc::new(WasmProbe::new(registry.clone(), spec)),
                )
            })
            .collect();
        Ok(CheckService {
            registry,
            watcher,
            probes,
        })
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn watcher(&self) -> Option<&PluginWatcher> {
        self.watcher.as_ref()
    }

    /// The probes by check name, in config order, for the scheduler.
    pub fn probes(&self) -> impl Iterator<Item = (&str, Arc<dyn Probe>)> + '_ {
        self.probes
            .iter()
            .map(|(name, p)| (name.as_str(), p.clone() as Arc<dyn Probe>))
    }

    pub fn probe(&self, check: &str) -> Option<&Arc<WasmProbe>> {
        self.probes.get(check)
    }
}

/// Loads every stock plugin embedded in the binary, off the async threads
/// (a cold cache compiles them). Failures are logged and recorded.
pub async fn load_stock(registry: &Arc<Registry>) {
    let reg = registry.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for (name, bytes) in super::stock::stock_plugins() {
            let _ = reg.load_stock(name, bytes);
        }
    })
    .await;
}
