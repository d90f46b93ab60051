//! Check-engine fixtures: a runtime and registry with a private code cache,
//! and one-call helpers to load a plugin file and run a check in-process.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use belay::check::{
    CheckSpec, Limits, Probe, Registry, Report, Runtime, RuntimeConfig, Target, WasmProbe,
};

use crate::plugins::plugins_target_dir;
use crate::tempdir::TempDir;

/// A registry over a fresh runtime. The code cache is shared by all tests
/// (`<target>/test-plugins/cwasm-cache`): entries are content-addressed and
/// written atomically, so concurrent test processes share it safely and a
/// plugin is compiled once per build, not once per test.
pub struct CheckLab {
    pub registry: Arc<Registry>,
}

impl CheckLab {
    pub fn new() -> CheckLab {
        Self::with_config(RuntimeConfig::default())
    }

    /// `config.cache_dir` defaults to the shared test cache.
    pub fn with_config(mut config: RuntimeConfig) -> CheckLab {
        init_logging();
        if config.cache_dir.is_none() {
            config.cache_dir = Some(shared_cache_dir());
        }
        let runtime = Runtime::new(config).expect("create the wasm runtime");
        CheckLab {
            registry: Registry::new(runtime),
        }
    }

    /// A lab whose cache is private to the caller (cache tests).
    pub fn with_private_cache(cache: &TempDir) -> CheckLab {
        Self::with_config(RuntimeConfig {
            cache_dir: Some(cache.path().to_path_buf()),
            ..RuntimeConfig::default()
        })
    }

    /// Loads `path` under `name`, panicking with the load error.
    pub fn load(&self, name: &str, path: &Path) {
        self.registry
            .load_named_file(name, path)
            .unwrap_or_else(|e| panic!("loading {} as {name}: {e}", path.display()));
    }

    /// The spec of a check of `plugin` against `target` with `params`
    /// (default limits).
    pub fn spec(&self, plugin: &str, target: &str, params: &[(&str, &str)]) -> CheckSpec {
        let target: Target = target.parse().expect("target HOST:PORT");
        let mut spec = CheckSpec::new(&format!("test-{plugin}"), plugin, target);
        for (k, v) in params {
            spec = spec.param(k, v);
        }
        spec
    }

    pub fn probe(&self, spec: CheckSpec) -> WasmProbe {
        WasmProbe::new(self.registry.clone(), spec)
    }

    /// Runs one check with `timeout` (also its CPU deadline, as the daemon
    /// sets it) and returns the report.
    pub async fn run(
        &self,
        plugin: &str,
        target: &str,
        params: &[(&str, &str)],
        timeout: Duration,
    ) -> Report {
        let mut spec = self.spec(plugin, target, params);
        spec.limits = Limits {
            cpu: timeout,
            ..spec.limits
        };
        self.probe(spec).probe(timeout).await
    }
}

impl Default for CheckLab {
    fn default() -> Self {
        CheckLab::new()
    }
}

/// The unhealthy reason of `report`, panicking (with the report) if healthy.
#[track_caller]
pub fn reason(report: &Report) -> &str {
    match &report.health {
        belay::check::Health::Unhealthy(r) => r,
        belay::check::Health::Healthy => panic!("expected unhealthy, got {report:?}"),
    }
}

/// Asserts `report` is healthy, showing it otherwise.
#[track_caller]
pub fn assert_healthy(report: &Report) {
    assert!(
        report.health.is_healthy(),
        "expected healthy, got {report:?}"
    );
}

/// The code cache shared by test processes.
pub fn shared_cache_dir() -> std::path::PathBuf {
    plugins_target_dir().join("cwasm-cache")
}

/// Logs go to the test's captured stderr (`RUST_LOG` picks the level;
/// warnings by default), shown when a test fails.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| belay::logging::init(belay::logging::LogFormat::Text, "warn"));
}
