//! `[check.NAME]`: health checks — which plugin, against which target, with
//! which parameters, on which schedule.
//!
//! ```toml
//! [check.web]
//! plugin = "http"              # stock plugin, or the stem of a .wasm in global.plugin_dir
//! target = "192.0.2.10:80"     # host:port; IPv6 as "[2001:db8::10]:80"
//! interval = "1s"
//! timeout = "500ms"
//! rise = 2                     # consecutive successes before a down check is up
//! fall = 3                     # consecutive failures before an up check is down
//! retry = 1                    # extra tries before an attempt counts as failed
//! delay_before_retry = "200ms"
//! params = { path = "/health", status = "200-299" }
//! tls_ca = "/etc/belay/backend-ca.pem"   # HTTPS: trust this CA bundle, not the public roots
//! # tls_verify = false         # HTTPS: accept any certificate (Keepalived SSL_GET's default)
//! ```

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::{Config, Diagnostics, Duration, Named};
use crate::key_path;

/// Shortest interval we accept: below this a check is a busy loop, not a check.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Stock plugin name (`tcp`, `http`, ...) or the file stem of a `.wasm`
    /// component in `global.plugin_dir`.
    pub plugin: String,
    /// What the check points at; also the only address its plugin may reach.
    pub target: Target,
    /// Plugin parameters. Numbers and booleans are passed as their text.
    #[serde(default)]
    pub params: Named<ParamValue>,
    #[serde(default = "defaults::interval")]
    pub interval: Duration,
    /// Bound on one try, including time the plugin spends waiting on the network.
    #[serde(default = "defaults::timeout")]
    pub timeout: Duration,
    #[serde(default = "defaults::one")]
    pub rise: u32,
    #[serde(default = "defaults::one")]
    pub fall: u32,
    /// Extra tries after a failure before the attempt counts as failed
    /// (Keepalived's `retry`); not used while the check is already down.
    #[serde(default)]
    pub retry: u32,
    #[serde(default = "defaults::delay_before_retry")]
    pub delay_before_retry: Duration,
    /// First runs are spread over this window so checks don't fire together
    /// (Keepalived's `warmup`); default: the interval.
    #[serde(default)]
    pub warmup: Option<Duration>,
    /// PEM file of CA certificates that HTTPS requests trust instead of the
    /// public web roots (backends with private or self-signed certificates).
    #[serde(default)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// `false`: HTTPS requests accept any certificate, as Keepalived's
    /// SSL_GET does unless given a CA. Default `true`.
    #[serde(default = "defaults::yes")]
    pub tls_verify: bool,
}

mod defaults {
    use super::Duration;
    pub fn interval() -> Duration {
        Duration::from_secs(2)
    }
    pub fn timeout() -> Duration {
        Duration::from_secs(1)
    }
    pub fn delay_before_retry() -> Duration {
        Duration::from_secs(1)
    }
    pub fn yes() -> bool {
        true
    }
    pub fn one() -> u32 {
        1
    }
}

impl CheckConfig {
    /// Parameters as the plugin receives them.
    pub fn param_pairs(&self) -> Vec<(String, String)> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect()
    }

    /// Whom the check's HTTPS requests trust.
    pub fn tls_settings(&self) -> crate::check::tls::TlsSettings {
        crate::check::tls::TlsSettings {
            ca: self.tls_ca.clone(),
            verify: self.tls_verify,
        }
    }
}

/// `host:port`: the check runtime's target type, read from a string.
pub use crate::check::Target;

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(de::Error::custom)
    }
}

/// A parameter value: TOML strings, numbers and booleans, carried as text
/// because the plugin interface passes `list<tuple<string, string>>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamValue(pub String);

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = ParamValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ParamValue, E> {
                Ok(ParamValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Plugin names become file names and log fields: keep them plain.
pub fn is_valid_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(super) fn validate(config: &Config, d: &mut Diagnostics<'_>) {
    for (name, check) in &config.check {
        if let Some(ca) = &check.tls_ca {
            if let Err(e) = crate::check::tls::ca_roots(ca) {
                d.error(
                    key_path!["check", name, "tls_ca"],
                    e.to_string(),
                    Some("a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)".into()),
                );
            }
            if !check.tls_verify {
                d.error(
                    key_path!["check", name, "tls_verify"],
                    "tls_verify = false accepts any certificate, so tls_ca would be ignored",
                    Some("keep one of the two".into()),
                );
            }
        }
        if !is_valid_plugin_name(name) {
            d.error(
                key_path!["check", name],
                format!("check name `{name}` is not a plain name"),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
        if !is_valid_plugin_name(&check.plugin) {
            d.error(
                key_path!["check", name, "plugin"],
                format!("plugin name `{}` is not a plain name", check.plugin),
                Some(
                    "name a stock plugin (`tcp`, `http`) or the file stem of a .wasm in global.plugin_dir"
                        .into(),
                ),
            );
        }
        if is_valid_plugin_name(&check.plugin)
            && crate::check::stock_plugin(&check.plugin).is_none()
        {
            let stock: Vec<&str> = crate::check::stock_plugins()
                .iter()
                .map(|(n, _)| *n)
                .collect();
            match &config.global.plugin_dir {
                None => d.error(
                    key_path!["check", name, "plugin"],
                    format!("no stock plugin named `{}`", check.plugin),
                    Some(
                        match super::diagnostic::did_you_mean(&check.plugin, stock.iter().copied())
                        {
                            Some(s) => format!(
                                "did you mean `{s}`? (custom plugins need global.plugin_dir)"
                            ),
                            None => format!(
                                "stock plugins: {}; custom plugins need global.plugin_dir",
                                stock.join(", ")
                            ),
                        },
                    ),
                ),
                Some(dir) if !dir.join(format!("{}.wasm", check.plugin)).is_file() => d.error(
                    key_path!["check", name, "plugin"],
                    format!(
                        "plugin `{}` is neither stock nor in {}",
                        check.plugin,
                        dir.display()
                    ),
                    Some(format!(
                        "put {}.wasm in {}, or use a stock plugin: {}",
                        check.plugin,
                        dir.display(),
                        stock.join(", ")
                    )),
                ),
                Some(_) => {}
            }
        }
        if check.interval < MIN_INTERVAL {
            d.error(
                key_path!["check", name, "interval"],
                format!("interval {} is shorter than {MIN_INTERVAL}", check.interval),
                None,
            );
        }
        if check.timeout.get().is_zero() {
            d.error(
                key_path!["check", name, "timeout"],
                "timeout must be longer than 0s",
                None,
            );
        } else if check.timeout > check.interval {
            d.error(
                key_path!["check", name, "timeout"],
                format!(
                    "timeout {} is longer than the interval {}",
                    check.timeout, check.interval
                ),
                Some("a check that outlives its interval delays the next one; raise interval or lower timeout".into()),
            );
        }
        for (key, value) in [("rise", check.rise), ("fall", check.fall)] {
            if value == 0 {
                d.error(
                    key_path!["check", name, key],
                    format!("{key} must be at least 1"),
                    None,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Config, Vec<super::super::ConfigError>> {
        Config::parse(Path::new("c.toml"), text).map_err(|e| e.0)
    }

    #[test]
    fn full_check_parses_with_defaults() {
        let c = parse(
            "[check.web]\nplugin = \"http\"\ntarget = \"192.0.2.10:80\"\nparams = { path = \"/h\", port = 8080, tls = false }\n",
        )
        .unwrap();
        let web = &c.check["web"];
        assert_eq!(
            web.target,
            Target {
                host: "192.0.2.10".into(),
                port: 80
            }
        );
        assert_eq!(web.interval, Duration::from_secs(2));
        assert_eq!((web.rise, web.fall, web.retry), (1, 1, 0));
        assert_eq!(
            web.param_pairs(),
            vec![
                ("path".to_owned(), "/h".to_owned()),
                ("port".to_owned(), "8080".to_owned()),
                ("tls".to_owned(), "false".to_owned())
            ]
        );
    }

    #[test]
    fn targets() {
        let t: Target = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("2001:db8::1", 443));
        assert_eq!(t.to_string(), "[2001:db8::1]:443");
        assert_eq!("db.example:3306".parse::<Target>().unwrap().port, 3306);
        for bad in [
            "192.0.2.1",
            "2001:db8::1:80",
            "[2001:db8::1]",
            ":80",
            "h:0",
            "h:99999",
            "a b:1",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad} should be rejected");
        }
    }

    /// Each bad file names the line and column of the offending value.
    #[test]
    fn bad_checks_are_located() {
        let cases: &[(&str, (usize, usize), &str)] = &[
            (
                "[check.a]\nplugin = \"tcp\"\ntarget = \"192.0.2.1\"\n",
                (3, 10),
                "missing `:port`",
            ),
            (
                "[check.a]\nplugin = \"tcp\"\ntarget = \"192.0.2.1:1\"\ninterval = 5\n",
                (4, 12),
                "needs a unit",
            ),
            (
                "[check.a]\nplugin = \"tcp\"\ntarget = \"192.0.2.1:1\"\ninterval = \"1s\"\ntimeout = \"2s\"\n",
                (5, 11),
                "longer than the interval",
            ),
            (
                "[check.a]\nplugin = \"tcp\"\ntarget = \"192.0.2.1:1\"\nfall = 0\n",
                (4, 8),
                "fall must be at least 1",
            ),
            (
                "[check.a]\nplugin = \"../x\"\ntarget = \"192.0.2.1:1\"\n",
                (2, 10),
                "not a plain name",
            ),
            (
                "[check.a]\nplugin = \"tcp\"\ntarget = \"192.0.2.1:1\"\nparams = { a = [1] }\n",
                (4, 16),
                "string, number or boolean",
            ),
            (
                "[check.a]\nplugin = \"tcp\"\ntarget = \"192.0.2.1:1\"\nintreval = \"1s\"\n",
                (4, 1),
                "unknown field",
            ),
            (
                "[check.a]\ntarget = \"192.0.2.1:1\"\n",
                (1, 1),
                "missing field `plugin`",
            ),
        ];
        for (text, (line, col), needle) in cases {
            let errs = parse(text).expect_err(text);
            let e = &errs[0];
            assert!(
                e.message.contains(needle),
                "{text}: message {:?} lacks {needle:?}",
                e.message
            );
            assert_eq!((e.line, e.col), (*line, *col), "{text}: {e}");
        }
    }
}
