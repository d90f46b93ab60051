//! `[vrrp_instance.NAME]`: VRRP instances (interface, VRID, priority, VIPs, ...).

use serde::Deserialize;

use super::{Config, Diagnostics};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VrrpInstanceConfig {}

pub(super) fn validate(_config: &Config, _d: &mut Diagnostics<'_>) {}
