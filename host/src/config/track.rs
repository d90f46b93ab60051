//! Tracks in config: what a VRRP instance follows, and with which weight.
//!
//! ```toml
//! [vrrp_instance.VI_1]
//! track = [
//!   { check = "web", weight = -60 },   # subtract 60 while the check fails
//!   { interface = "eth1" },            # weight 0 (default): FAULT while eth1 is down
//! ]
//! ```

use serde::Deserialize;

use super::{Config, Diagnostics, Seg, diagnostic::did_you_mean};
use crate::tracker::TrackTarget;

/// Keepalived's bounds: a weight may move a priority across the whole range.
pub const MAX_WEIGHT: i32 = 253;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrackConfig {
    pub check: Option<String>,
    pub interface: Option<String>,
    #[serde(default)]
    pub weight: i32,
}

impl TrackConfig {
    /// The tracked thing; `None` only for a config that failed validation.
    pub fn target(&self) -> Option<TrackTarget> {
        match (&self.check, &self.interface) {
            (Some(c), None) => Some(TrackTarget::Check(c.clone())),
            (None, Some(i)) => Some(TrackTarget::Interface(i.clone())),
            _ => None,
        }
    }

    /// Checks one track at `path` (e.g. `vrrp_instance.VI_1.track[0]`).
    pub(crate) fn validate(&self, config: &Config, path: Vec<Seg>, d: &mut Diagnostics<'_>) {
        let at = |key: &str| {
            let mut p = path.to_vec();
            p.push(Seg::from(key));
            p
        };
        match (&self.check, &self.interface) {
            (Some(_), Some(_)) | (None, None) => d.error(
                path.to_vec(),
                "a track follows exactly one of `check` or `interface`",
                Some("write { check = \"web\", weight = -60 } or { interface = \"eth1\" }".into()),
            ),
            (Some(name), None) if !config.check.contains_key(name) => d.error(
                at("check"),
                format!("no check named `{name}`"),
                Some(
                    match did_you_mean(name, config.check.keys().map(String::as_str)) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => "define it in a [check.NAME] table".into(),
                    },
                ),
            ),
            (None, Some(ifname)) if !is_valid_ifname(ifname) => d.error(
                at("interface"),
                format!("`{ifname}` is not a valid interface name"),
                Some("1 to 15 characters, no `/`, `:` or spaces".into()),
            ),
            _ => {}
        }
        if !(-MAX_WEIGHT..=MAX_WEIGHT).contains(&self.weight) {
            d.error(
                at("weight"),
                format!(
                    "weight {} is outside -{MAX_WEIGHT}..={MAX_WEIGHT}",
                    self.weight
                ),
                None,
            );
        }
    }
}

/// Linux's rules for interface names (IFNAMSIZ, no separators).
pub fn is_valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}
