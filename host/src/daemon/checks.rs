//! Checks in the daemon: the WASM check service (runtime, plugin registry,
//! hot reload) builds one probe per `[check.NAME]`, and the scheduler runs
//! them. The change stream is subscribed before the first check starts, so
//! tracking sees every transition.

use tokio::sync::broadcast;

use crate::check::plugin::Origin;
use crate::check::{
    CheckEvent, CheckService, CheckSpec, RuntimeConfig, Schedule, Scheduler, ServiceConfig,
};
use crate::config::Config;
use crate::status::document::PluginDoc;
use crate::status::registry::ChecksView;

#[derive(Debug, thiserror::Error)]
pub enum ChecksError {
    #[error(transparent)]
    Service(#[from] crate::check::service::ServiceError),
    #[error(transparent)]
    Scheduler(#[from] crate::check::scheduler::SchedulerError),
}

pub struct Checks {
    pub scheduler: Scheduler,
    pub service: CheckService,
    /// Subscribed before any check ran; taken by tracking.
    pub changes: Option<broadcast::Receiver<CheckEvent>>,
}

impl Checks {
    /// Starts every configured check; `None` when there are none.
    pub async fn start(config: &Config) -> Result<Option<Checks>, ChecksError> {
        if config.check.is_empty() {
            return Ok(None);
        }
        let specs = config
            .check
            .iter()
            .map(|(name, c)| {
                let mut spec = CheckSpec::new(name, &c.plugin, c.target.clone());
                spec.params = c.param_pairs();
                spec.tls = c.tls_settings();
                spec
            })
            .collect();
        let service = CheckService::start(
            ServiceConfig {
                runtime: RuntimeConfig {
                    cache_dir: Some(config.global.cache_dir.clone()),
                    max_concurrent: config.global.max_concurrent_checks,
                    ..RuntimeConfig::default()
                },
                plugin_dir: config.global.plugin_dir.clone(),
            },
            specs,
        )
        .await?;
        let scheduler = Scheduler::new();
        let changes = scheduler.subscribe();
        for (name, probe) in service.probes() {
            scheduler.add(name, Schedule::from_config(&config.check[name]), probe)?;
        }
        Ok(Some(Checks {
            scheduler,
            service,
            changes: Some(changes),
        }))
    }

    /// What the status document shows of the checks and plugins.
    pub fn view(&self, config: &Config) -> ChecksView {
        let registry = self.service.registry().clone();
        ChecksView {
            scheduler: self.scheduler.clone(),
            checks: config
                .check
                .iter()
                .map(|(n, c)| (n.clone(), c.plugin.clone(), c.target.to_string()))
                .collect(),
            plugins: Box::new(move || {
                registry
                    .status()
                    .into_iter()
                    .map(|p| PluginDoc {
                        source: p.origin.as_ref().map_or("-".into(), Origin::to_string),
                        loaded: p.version.is_some(),
                        last_error: p.last_error.map(|e| e.to_string()),
                        name: p.name,
                    })
                    .collect()
            }),
        }
    }
}
