//! The host-side result of one check attempt (the plugin's WIT `report`, plus
//! what only the host knows: how long it took, and why it failed if the plugin
//! never returned).

use std::time::Duration;

use serde::Serialize;

/// Healthy or not; an unhealthy result always carries a reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Unhealthy(String),
}

impl Health {
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub health: Health,
    /// Dynamic weight from the plugin; replaces the configured weight while set.
    pub weight: Option<i32>,
    /// Named measurements (`replication-lag-seconds`, ...).
    pub metrics: Vec<(String, f64)>,
    pub message: Option<String>,
    /// Wall time of the attempt as the host measured it.
    #[serde(with = "duration_ms")]
    pub latency: Duration,
}

impl Report {
    /// An unhealthy report for a failure the host detected itself
    /// (timeout, trap, plugin missing, ...).
    pub fn failed(reason: impl Into<String>, latency: Duration) -> Report {
        Report {
            health: Health::Unhealthy(reason.into()),
            weight: None,
            metrics: Vec::new(),
            message: None,
            latency,
        }
    }
}

mod duration_ms {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }
}
