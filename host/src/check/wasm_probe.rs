//! `Probe` for WASM plugins: one configured check (plugin, target, params).
//!
//! The plugin is looked up in the registry at every attempt, so a reload
//! takes effect on the next attempt and a removal turns into
//! "plugin removed" at once.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::labels::Labels;
use super::limits::Limits;
use super::policy::{Grant, NetPolicy};
use super::probe::Probe;
use super::registry::{Lookup, Registry};
use super::report::Report;
use super::runtime::Invocation;
use super::target::Target;
use super::tls::{self, TlsSettings};

/// How long a host name's addresses are reused before resolving again.
pub const RESOLVE_TTL: Duration = Duration::from_secs(30);

/// What a check runs: the parts of `[check.NAME]` the runtime needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// The check's name (`[check.NAME]`), for logs.
    pub name: String,
    /// Plugin name in the registry (`tcp`, `http`, or a custom file stem).
    pub plugin: String,
    pub target: Target,
    pub params: Vec<(String, String)>,
    pub limits: Limits,
    /// Whom HTTPS requests trust.
    pub tls: TlsSettings,
}

impl CheckSpec {
    pub fn new(name: &str, plugin: &str, target: Target) -> CheckSpec {
        CheckSpec {
            name: name.to_owned(),
            plugin: plugin.to_owned(),
            target,
            params: Vec::new(),
            limits: Limits::default(),
            tls: TlsSettings::default(),
        }
    }

    pub fn param(mut self, key: &str, value: &str) -> CheckSpec {
        self.params.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn limits(mut self, limits: Limits) -> CheckSpec {
        self.limits = limits;
        self
    }
}

/// The invocation for the target's addresses at one time (built once per
/// resolution, shared by every attempt).
#[derive(Debug, Clone)]
struct Resolved {
    at: Instant,
    inv: Arc<Invocation>,
}

pub struct WasmProbe {
    registry: Arc<Registry>,
    spec: CheckSpec,
    labels: Labels,
    /// The target is an address literal: resolved once, forever.
    literal: bool,
    resolved: Mutex<Option<Resolved>>,
    /// The TLS client configuration (the public roots when the settings
    /// are unusable, in which case `tls_error` fails every attempt).
    tls: Arc<rustls::ClientConfig>,
    tls_error: Option<String>,
}

impl WasmProbe {
    pub fn new(registry: Arc<Registry>, spec: CheckSpec) -> WasmProbe {
        let labels = Labels::new(&spec.name, &spec.plugin, &spec.target.to_string());
        let (tls, tls_error) = match spec.tls.client_config() {
            Ok(c) => (c, None),
            Err(e) => (tls::public_roots(), Some(format!("TLS settings: {e}"))),
        };
        // An address literal never needs resolving: fix its policy now.
        let resolved = spec
            .target
            .ip()
            .map(|ip| resolved_for(&spec, &labels, &tls, vec![ip]));
        WasmProbe {
            registry,
            literal: resolved.is_some(),
            spec,
            labels,
            resolved: Mutex::new(resolved),
            tls,
            tls_error,
        }
    }

    pub fn spec(&self) -> &CheckSpec {
        &self.spec
    }

    async fn resolve(&self) -> Result<Resolved, String> {
        {
            let cached = self.resolved.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = cached.as_ref()
                && (self.literal || r.at.elapsed() < RESOLVE_TTL)
            {
                return Ok(r.clone());
            }
        }
        let addrs = self
            .spec
            .target
            .resolve()
            .await
            .map_err(|e| e.to_string())?;
        let r = resolved_for(&self.spec, &self.labels, &self.tls, addrs);
        *self.resolved.lock().unwrap_or_else(|e| e.into_inner()) = Some(r.clone());
        Ok(r)
    }

    async fn attempt(&self, timeout: Duration) -> Report {
        let start = Instant::now();
        if let Some(reason) = &self.tls_error {
            return Report::failed(reason.clone(), start.elapsed());
        }
        let plugin = match self.registry.get(&self.spec.plugin) {
            Lookup::Ready(p) => p,
            Lookup::Removed => return Report::failed("plugin removed", start.elapsed()),
            Lookup::Unknown => {
                let reason = match self.registry.last_error(&self.spec.plugin) {
                    Some(e) => format!("plugin `{}` is not loaded: {e}", self.spec.plugin),
                    None => format!("unknown plugin `{}`", self.spec.plugin),
                };
                return Report::failed(reason, start.elapsed());
            }
        };
        let resolved = match tokio::time::timeout_at((start + timeout).into(), self.resolve()).await
        {
            Ok(Ok(r)) => r,
            Ok(Err(reason)) => return Report::failed(reason, start.elapsed()),
            Err(_) => {
                return Report::failed(
                    format!("timeout resolving {}", self.spec.target.host),
                    start.elapsed(),
                );
            }
        };
        self.registry
            .runtime()
            .run_from(start, &plugin, &resolved.inv, timeout)
            .await
    }
}

/// The plugin sees the first address (so it never needs DNS); the policy
/// grants every address of the name, and the name itself for HTTP.
fn resolved_for(
    spec: &CheckSpec,
    labels: &Labels,
    tls: &Arc<rustls::ClientConfig>,
    addrs: Vec<IpAddr>,
) -> Resolved {
    let host = addrs
        .first()
        .map(|a| a.to_string())
        .unwrap_or_else(|| spec.target.host.clone());
    let policy = NetPolicy::new(vec![Grant {
        host: spec.target.host.clone(),
        port: spec.target.port,
        addrs,
    }]);
    Resolved {
        at: Instant::now(),
        inv: Arc::new(Invocation {
            labels: labels.clone(),
            host,
            port: spec.target.port,
            params: spec.params.clone(),
            policy: Arc::new(policy),
            tls: tls.clone(),
            limits: spec.limits,
        }),
    }
}

impl Probe for WasmProbe {
    fn probe(&self, timeout: Duration) -> Pin<Box<dyn Future<Output = Report> + Send + '_>> {
        Box::pin(self.attempt(timeout))
    }
}
