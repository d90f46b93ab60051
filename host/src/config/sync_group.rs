//! `[sync_group.NAME]`: VRRP instances that change state together.
//!
//! ```toml
//! [sync_group.edge]
//! instances = ["outside", "inside"]
//! notify = { any = "/etc/belay/group-notify.sh" }
//! ```

use serde::Deserialize;

use super::notify::NotifyConfig;
use super::{Config, Diagnostics, diagnostic::did_you_mean};
use crate::key_path;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyncGroupConfig {
    pub instances: Vec<String>,
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
}

pub(super) fn validate(config: &Config, d: &mut Diagnostics<'_>) {
    let mut owner: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for (group, g) in &config.sync_group {
        if g.instances.len() < 2 {
            d.error(
                key_path!["sync_group", group, "instances"],
                "a sync group needs at least two instances",
                None,
            );
        }
        for (i, inst) in g.instances.iter().enumerate() {
            if !config.vrrp_instance.contains_key(inst) {
                let hint = match did_you_mean(inst, config.vrrp_instance.keys().map(String::as_str))
                {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "list names of [vrrp_instance.NAME] tables".into(),
                };
                d.error(
                    key_path!["sync_group", group, "instances", i],
                    format!("no vrrp_instance named `{inst}`"),
                    Some(hint),
                );
            } else if let Some(other) = owner.insert(inst.as_str(), group.as_str()) {
                d.error(
                    key_path!["sync_group", group, "instances", i],
                    format!("instance `{inst}` is already in sync group `{other}`"),
                    Some("an instance can follow only one group".into()),
                );
            }
        }
        if let Some(n) = &g.notify {
            n.validate(key_path!["sync_group", group, "notify"], d);
        }
    }
}
