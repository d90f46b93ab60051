//! Judges a response against the config: status, then body substring, regex
//! and digest, in that order; the first miss is the reason.

use sha2::{Digest, Sha256};

use belay_plugin_sdk::report::quote;
use belay_plugin_sdk::tcp::contains;

use crate::config::Config;

/// Longest expected/regex text quoted in a reason.
const SHOWN: usize = 64;

/// `Ok` when healthy, else the reason.
pub fn judge(config: &Config, status: u16, body: &[u8]) -> Result<(), String> {
    if !config.status.contains(status) {
        return Err(format!("status {status} not in {}", config.status));
    }
    if let Some(needle) = &config.body_contains
        && !contains(body, needle.as_bytes())
    {
        return Err(format!(
            "body does not contain '{}'",
            quote(needle.as_bytes(), SHOWN)
        ));
    }
    if let Some(re) = &config.body_regex
        && !re.is_match(&String::from_utf8_lossy(body))
    {
        return Err(format!("body does not match regex '{}'", cut(re.as_str())));
    }
    if let Some(expected) = &config.digest {
        let got = sha256_hex(body);
        if &got != expected {
            return Err(format!("digest mismatch: got {got}, expected {expected}"));
        }
    }
    Ok(())
}

/// `s` cut to [`SHOWN`] characters.
fn cut(s: &str) -> String {
    match s.char_indices().nth(SHOWN) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Lower-case hex sha256, as Keepalived's `genhash` prints it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use belay_plugin_sdk::Params;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_params(&Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .unwrap()
    }

    #[test]
    fn status() {
        let c = config(&[]);
        assert_eq!(judge(&c, 200, b""), Ok(()));
        assert_eq!(judge(&c, 503, b""), Err("status 503 not in 200-299".into()));
        let c = config(&[("status", "200-299,301")]);
        assert_eq!(judge(&c, 301, b""), Ok(()));
        assert_eq!(
            judge(&c, 302, b""),
            Err("status 302 not in 200-299,301".into())
        );
    }

    #[test]
    fn body_substring_and_regex() {
        let c = config(&[("body_contains", "ok")]);
        assert_eq!(judge(&c, 200, b"all ok"), Ok(()));
        assert_eq!(
            judge(&c, 200, b"fail"),
            Err("body does not contain 'ok'".into())
        );
        let c = config(&[("body_regex", r#""status":\s*"(up|ok)""#)]);
        assert_eq!(judge(&c, 200, br#"{"status": "up"}"#), Ok(()));
        assert_eq!(
            judge(&c, 200, br#"{"status": "down"}"#),
            Err(r#"body does not match regex '"status":\s*"(up|ok)"'"#.into())
        );
    }

    #[test]
    fn digest() {
        // sha256("hello\n"), as `sha256sum` prints it.
        let hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(sha256_hex(b"hello\n"), hello);
        let c = config(&[("digest", &hello.to_ascii_uppercase())]);
        assert_eq!(judge(&c, 200, b"hello\n"), Ok(()));
        let err = judge(&c, 200, b"bye\n").unwrap_err();
        assert!(err.starts_with("digest mismatch: got "), "{err}");
        assert!(err.ends_with(&format!("expected {hello}")), "{err}");
    }

    #[test]
    fn status_is_judged_first() {
        let c = config(&[("body_contains", "ok")]);
        assert_eq!(
            judge(&c, 500, b"nope"),
            Err("status 500 not in 200-299".into())
        );
    }
}
