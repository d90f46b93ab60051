//! `[check.NAME]`: health checks (plugin, target, parameters, schedule).

use serde::Deserialize;

use super::{Config, Diagnostics};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {}

pub(super) fn validate(_config: &Config, _d: &mut Diagnostics<'_>) {}
