//! Configuration: TOML text → validated model.
//!
//! Layout of a file: `[global]`, then named tables per area, e.g. `[check.web]`,
//! `[vrrp_instance.VI_1]`, `[virtual_server.www]`. Each area owns one module here
//! with its serde model and a `validate` function; this module only parses,
//! collects diagnostics and refuses a file with any error.

pub mod check;
pub mod diagnostic;
pub mod duration;
pub mod global;
pub mod ipvs;
pub mod notify;
pub mod sync_group;
pub mod track;
pub mod vrrp;

use std::path::Path;

use serde::Deserialize;

pub use check::CheckConfig;
pub use diagnostic::{ConfigError, ConfigErrors, Diagnostics, Seg};
pub use duration::Duration;
pub use global::GlobalConfig;
pub use ipvs::VirtualServerConfig;
pub use notify::NotifyConfig;
pub use sync_group::SyncGroupConfig;
pub use track::TrackConfig;
pub use vrrp::VrrpInstanceConfig;

/// Named tables keep the order they were written in (status lists follow the file).
pub type Named<T> = indexmap::IndexMap<String, T>;

/// The whole daemon configuration, as written (after validation it is trusted).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub global: GlobalConfig,
    #[serde(default)]
    pub check: Named<CheckConfig>,
    #[serde(default)]
    pub vrrp_instance: Named<VrrpInstanceConfig>,
    #[serde(default)]
    pub virtual_server: Named<VirtualServerConfig>,
    #[serde(default)]
    pub sync_group: Named<SyncGroupConfig>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_path_buf(),
                line: 0,
                col: 0,
                message: format!("cannot read config: {e}"),
                hint: None,
            }])
        })?;
        Self::parse(path, &text)
    }

    /// Parses and validates config text; `file` is only used in messages.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
        let mut diag = Diagnostics::new(file, text);
        let config: Config = match toml::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                let hint = unknown_field_hint(e.message());
                diag.error_at(e.span(), first_line(e.message()), hint);
                return Err(diag.finish().unwrap_err());
            }
        };
        config.validate(&mut diag);
        diag.finish().map(|()| config)
    }

    fn validate(&self, d: &mut Diagnostics<'_>) {
        if self.global.router_id.trim().is_empty() {
            d.error(
                crate::key_path!["global", "router_id"],
                "router_id must not be empty",
                Some("leave it out to use the host name".into()),
            );
        }
        if self.global.max_concurrent_checks == 0 {
            d.error(
                crate::key_path!["global", "max_concurrent_checks"],
                "max_concurrent_checks must be at least 1",
                Some("leave it out for the default, 256".into()),
            );
        }
        check::validate(self, d);
        vrrp::validate(self, d);
        ipvs::validate(self, d);
        sync_group::validate(self, d);
    }
}

fn first_line(msg: &str) -> String {
    msg.lines().next().unwrap_or(msg).trim().to_owned()
}

/// serde says "unknown field `x`, expected one of `a`, `b`" (or "unknown
/// variant ..." for a value); turn that into a "did you mean" hint when a
/// candidate is close.
fn unknown_field_hint(msg: &str) -> Option<String> {
    let rest = msg
        .strip_prefix("unknown field `")
        .or_else(|| msg.strip_prefix("unknown variant `"))?;
    let (word, rest) = rest.split_once('`')?;
    let candidates: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match diagnostic::did_you_mean(word, candidates.iter().copied()) {
        Some(c) => Some(format!("did you mean `{c}`?")),
        None if !candidates.is_empty() => Some(format!(
            "valid {} here: {}",
            if msg.starts_with("unknown field") {
                "keys"
            } else {
                "values"
            },
            candidates.join(", ")
        )),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<ConfigError> {
        Config::parse(Path::new("t.toml"), text).unwrap_err().0
    }

    #[test]
    fn empty_file_is_valid() {
        Config::parse(Path::new("t.toml"), "").unwrap();
    }

    #[test]
    fn unknown_key_names_line_and_suggests() {
        let e = &errs("[global]\nrouter_idd = \"x\"\n")[0];
        assert_eq!((e.line, e.col), (2, 1));
        assert!(e.message.contains("unknown field"), "{}", e.message);
        assert_eq!(e.hint.as_deref(), Some("did you mean `router_id`?"));
    }

    #[test]
    fn semantic_error_points_at_value() {
        let e = &errs("[global]\nrouter_id = \" \"\n")[0];
        assert_eq!((e.line, e.col), (2, 13));
        assert_eq!(
            e.to_string().lines().next().unwrap(),
            "t.toml:2:13: router_id must not be empty"
        );
    }

    #[test]
    fn max_concurrent_checks_defaults_and_rejects_zero() {
        let c = Config::parse(Path::new("t.toml"), "").unwrap();
        assert_eq!(c.global.max_concurrent_checks, 256);
        let e = &errs("[global]\nmax_concurrent_checks = 0\n")[0];
        assert_eq!((e.line, e.col), (2, 25));
        assert!(e.message.contains("at least 1"), "{}", e.message);
    }

    #[test]
    fn tls_ca_must_be_a_readable_pem_bundle_and_not_combined_with_no_verify() {
        let check = "[check.web]\nplugin = \"http\"\ntarget = \"192.0.2.10:443\"\n";
        let e = &errs(&format!("{check}tls_ca = \"/nonexistent/ca.pem\"\n"))[0];
        assert_eq!((e.line, e.col), (4, 10));
        assert!(
            e.message.contains("cannot read /nonexistent/ca.pem"),
            "{}",
            e.message
        );
        let e = &errs(&format!(
            "{check}tls_ca = \"/nonexistent/ca.pem\"\ntls_verify = false\n"
        ));
        assert!(
            e.iter()
                .any(|e| e.message.contains("tls_ca would be ignored")),
            "{e:?}"
        );
        let c =
            Config::parse(Path::new("t.toml"), &format!("{check}tls_verify = false\n")).unwrap();
        assert!(!c.check["web"].tls_verify);
    }
}
