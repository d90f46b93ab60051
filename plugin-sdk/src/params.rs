//! The check's configured parameters (`[check.NAME.params]` in the TOML), with
//! typed access whose errors name the key and the bad value.

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::Failure;

/// Key/value parameters as the host passed them. When a key repeats, the last
/// value wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// From string slices: for a plugin's own unit tests.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default` when unset.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// The value of `key`; a failure naming the key when unset.
    pub fn require(&self, key: &str) -> Result<&str, Failure> {
        self.get(key)
            .ok_or_else(|| Failure::new(format!("parameter '{key}' is required")))
    }

    /// `key` parsed as `T`, `None` when unset; a failure naming the key, the
    /// value and the parser's complaint when it does not parse.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<T>()
                    .map_err(|e| invalid(key, v, &e.to_string()))
            })
            .transpose()
    }

    /// `key` parsed as `T`, or `default` when unset.
    pub fn parse_or<T>(&self, key: &str, default: T) -> Result<T, Failure>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// `key` as a duration ("250ms", "2s", "1.5s", "1m"; a bare number is
    /// seconds), `None` when unset.
    pub fn duration(&self, key: &str) -> Result<Option<Duration>, Failure> {
        self.get(key)
            .map(|v| parse_duration(v).map_err(|e| invalid(key, v, e)))
            .transpose()
    }

    /// `key` as a duration, or `default` when unset.
    pub fn duration_or(&self, key: &str, default: Duration) -> Result<Duration, Failure> {
        Ok(self.duration(key)?.unwrap_or(default))
    }

    /// `key` as a boolean (true/false/yes/no/on/off/1/0), or `default`.
    pub fn bool_or(&self, key: &str, default: bool) -> Result<bool, Failure> {
        match self.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "true" | "yes" | "on" | "1" => Ok(true),
                "false" | "no" | "off" | "0" => Ok(false),
                _ => Err(invalid(key, &v, "expected true or false")),
            },
        }
    }

    /// All pairs, in the order the host passed them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn invalid(key: &str, value: &str, why: &str) -> Failure {
    Failure::new(format!("parameter '{key}': invalid value '{value}': {why}"))
}

/// Parses "250ms", "2s", "1.5s", "1m", "500us" or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, &'static str> {
    const HINT: &str = "expected a duration such as 500ms, 2s or 1m";
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| HINT)?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" => n / 1e6,
        "m" => n * 60.0,
        _ => return Err(HINT),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| HINT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs)
    }

    #[test]
    fn get_last_value_wins_and_defaults_apply() {
        let p = params(&[("a", "1"), ("a", "2")]);
        assert_eq!(p.get("a"), Some("2"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get_or("b", "x"), "x");
        assert_eq!(
            p.require("b").unwrap_err().reason(),
            "parameter 'b' is required"
        );
    }

    #[test]
    fn typed_parse_names_key_and_value() {
        let p = params(&[("port", "80x"), ("n", " 7 ")]);
        let e = p.parse::<u16>("port").unwrap_err();
        assert_eq!(
            e.reason(),
            "parameter 'port': invalid value '80x': invalid digit found in string"
        );
        assert_eq!(p.parse::<u32>("n").unwrap(), Some(7));
        assert_eq!(p.parse_or::<u32>("missing", 3).unwrap(), 3);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5h").is_err());
        let p = params(&[("timeout", "soon")]);
        assert!(
            p.duration("timeout")
                .unwrap_err()
                .reason()
                .starts_with("parameter 'timeout': invalid value 'soon'")
        );
    }

    #[test]
    fn bools() {
        let p = params(&[("a", "yes"), ("b", "Off"), ("c", "maybe")]);
        assert!(p.bool_or("a", false).unwrap());
        assert!(!p.bool_or("b", true).unwrap());
        assert!(p.bool_or("c", true).is_err());
        assert!(p.bool_or("d", true).unwrap());
    }
}
