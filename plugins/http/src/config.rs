//! The check's parameters, validated once per run into a typed config.

use std::time::Duration;

use belay_plugin_sdk::{Failure, Params};
use regex_lite::Regex;

use crate::status::StatusSet;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub method: Method,
    pub path: String,
    pub https: bool,
    /// `Host` header override (virtual host).
    pub host: Option<String>,
    pub status: StatusSet,
    pub body_contains: Option<String>,
    pub body_regex: Option<Regex>,
    /// Lower-case sha256 hex of the expected body.
    pub digest: Option<String>,
    pub timeout: Duration,
    pub max_body: usize,
}

impl Config {
    pub fn from_params(p: &Params) -> Result<Config, Failure> {
        let method = match p.get_or("method", "GET").to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            other => {
                return Err(Failure::new(format!(
                    "parameter 'method': invalid value '{other}': expected GET or HEAD"
                )));
            }
        };
        let https = match p.get_or("scheme", "http").to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            other => {
                return Err(Failure::new(format!(
                    "parameter 'scheme': invalid value '{other}': expected http or https"
                )));
            }
        };
        let path = p.get_or("path", "/").to_owned();
        if !path.starts_with('/') || path.chars().any(|c| c.is_ascii_whitespace()) {
            return Err(Failure::new(format!(
                "parameter 'path': invalid value '{path}': expected an absolute path such as /health"
            )));
        }
        let status = p.parse::<StatusSet>("status")?.unwrap_or_default();
        let body_regex = p
            .get("body_regex")
            .map(|r| {
                Regex::new(r).map_err(|e| {
                    Failure::new(format!("parameter 'body_regex': invalid regex '{r}': {e}"))
                })
            })
            .transpose()?;
        let digest = p
            .get("digest")
            .map(|d| {
                let d = d.trim().to_ascii_lowercase();
                if d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(d)
                } else {
                    Err(Failure::new(format!(
                        "parameter 'digest': invalid value '{d}': expected 64 hex digits (sha256)"
                    )))
                }
            })
            .transpose()?;
        let config = Config {
            method,
            path,
            https,
            host: p.get("host").map(str::to_owned),
            status,
            body_contains: p.get("body_contains").map(str::to_owned),
            body_regex,
            digest,
            timeout: p.duration_or("timeout", DEFAULT_TIMEOUT)?,
            max_body: p.parse_or("max_body_bytes", belay_plugin_sdk::http::DEFAULT_MAX_BODY)?,
        };
        if config.method == Method::Head && config.checks_body() {
            return Err(Failure::new(
                "body_contains, body_regex and digest need method GET (HEAD has no body)",
            ));
        }
        Ok(config)
    }

    pub fn checks_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some() || self.digest.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn defaults() {
        let c = Config::from_params(&params(&[])).unwrap();
        assert_eq!(c.method, Method::Get);
        assert_eq!(c.path, "/");
        assert!(!c.https);
        assert_eq!(c.status.to_string(), "200-299");
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(!c.checks_body());
    }

    #[test]
    fn full() {
        let c = Config::from_params(&params(&[
            ("method", "head"),
            ("path", "/healthz?deep=1"),
            ("scheme", "HTTPS"),
            ("host", "www.example"),
            ("status", "200,204"),
            ("timeout", "750ms"),
        ]))
        .unwrap();
        assert_eq!(c.method, Method::Head);
        assert!(c.https);
        assert_eq!(c.host.as_deref(), Some("www.example"));
        assert_eq!(c.timeout, Duration::from_millis(750));
    }

    #[test]
    fn clear_errors() {
        let err = |pairs: &[(&str, &str)]| {
            Config::from_params(&params(pairs))
                .unwrap_err()
                .reason()
                .to_owned()
        };
        assert_eq!(
            err(&[("method", "POST")]),
            "parameter 'method': invalid value 'POST': expected GET or HEAD"
        );
        assert!(err(&[("status", "2000")]).starts_with("parameter 'status': invalid value '2000'"));
        assert!(
            err(&[("body_regex", "(")]).starts_with("parameter 'body_regex': invalid regex '('")
        );
        assert!(err(&[("digest", "abc")]).contains("expected 64 hex digits"));
        assert!(err(&[("path", "health")]).contains("expected an absolute path"));
        assert_eq!(
            err(&[("method", "HEAD"), ("body_contains", "ok")]),
            "body_contains, body_regex and digest need method GET (HEAD has no body)"
        );
    }
}
