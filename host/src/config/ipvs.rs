//! `[virtual_server.NAME]`: IPVS virtual servers and their real servers.

use serde::Deserialize;

use super::{Config, Diagnostics};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VirtualServerConfig {}

pub(super) fn validate(_config: &Config, _d: &mut Diagnostics<'_>) {}
