//! What a check points at: `HOST:PORT` as configured, and its addresses as
//! the host (never the plugin) resolves them.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// A check's target as written in the config (`192.0.2.10:80`,
/// `[2001:db8::1]:443`, `db1.example:3306`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// An IP literal (without brackets) or a host name.
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("invalid target `{input}`: {reason}")]
    Syntax { input: String, reason: &'static str },
    #[error("cannot resolve `{host}`: {reason}")]
    Resolve { host: String, reason: String },
}

/// `2001:db8::1` from `[2001:db8::1]` (URI authorities and plugin targets
/// may bracket IPv6 literals); anything else unchanged.
pub(crate) fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Target {
    pub fn new(host: impl Into<String>, port: u16) -> Target {
        Target {
            host: host.into(),
            port,
        }
    }

    /// The IP address when the host is a literal.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// Addresses to connect to: the literal itself, or the host name
    /// resolved by the system resolver (off the async threads).
    pub async fn resolve(&self) -> Result<Vec<IpAddr>, TargetError> {
        if let Some(ip) = self.ip() {
            return Ok(vec![ip]);
        }
        let err = |reason: String| TargetError::Resolve {
            host: self.host.clone(),
            reason,
        };
        let addrs: Vec<IpAddr> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| err(e.to_string()))?
            .map(|a: SocketAddr| a.ip().to_canonical())
            .collect();
        if addrs.is_empty() {
            return Err(err("no addresses".into()));
        }
        Ok(addrs)
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Target, TargetError> {
        let err = |reason| TargetError::Syntax {
            input: s.to_owned(),
            reason,
        };
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, rest) = rest.split_once(']').ok_or_else(|| err("missing `]`"))?;
            host.parse::<std::net::Ipv6Addr>()
                .map_err(|_| err("not an IPv6 address inside [...]"))?;
            let port = rest
                .strip_prefix(':')
                .ok_or_else(|| err("missing `:port` after `]`"))?;
            (host, port)
        } else {
            let (host, port) = s
                .rsplit_once(':')
                .ok_or_else(|| err("missing `:port` (write host:port)"))?;
            if host.contains(':') {
                return Err(err("IPv6 addresses need brackets: \"[2001:db8::1]:80\""));
            }
            (host, port)
        };
        if host.is_empty() {
            return Err(err("empty host"));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(err("host is neither an IP address nor a DNS name"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| err("port is not a number from 1 to 65535"))?;
        Ok(Target::new(host, port))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(
            "192.0.2.1:80".parse::<Target>().unwrap(),
            Target::new("192.0.2.1", 80)
        );
        assert_eq!(
            "[2001:db8::1]:443".parse::<Target>().unwrap(),
            Target::new("2001:db8::1", 443)
        );
        assert_eq!(
            "db.example:3306".parse::<Target>().unwrap(),
            Target::new("db.example", 3306)
        );
        assert_eq!(
            Target::new("2001:db8::1", 443).to_string(),
            "[2001:db8::1]:443"
        );
    }

    #[test]
    fn rejects_bad_forms() {
        for bad in [
            "",
            "host",
            ":80",
            "2001:db8::1:80",
            "[2001:db8::1]80",
            "[x]:1",
        ] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
        for bad in ["h:99999", "h:0", "a b:1"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
        assert_eq!(
            "192.0.2.1".parse::<Target>().unwrap_err().to_string(),
            "invalid target `192.0.2.1`: missing `:port` (write host:port)"
        );
    }
}
