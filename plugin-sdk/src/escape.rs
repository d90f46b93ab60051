//! Byte strings in parameters: `\r`, `\n`, `\t`, `\0`, `\\` and `\xNN`
//! escapes, so TOML strings can carry protocol bytes.

use std::fmt;

/// A bad escape, with its byte offset in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscapeError {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {} (use \\r \\n \\t \\0 \\\\ or \\xNN)",
            self.what, self.offset
        )
    }
}

impl std::error::Error for EscapeError {}

/// Decodes escapes into bytes.
pub fn unescape(s: &str) -> Result<Vec<u8>, EscapeError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let err = |what| EscapeError { offset: i, what };
        match b.get(i + 1) {
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(b't') => out.push(b'\t'),
            Some(b'0') => out.push(0),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = b.get(i + 2..i + 4).ok_or(err("truncated \\x escape"))?;
                let hex = std::str::from_utf8(hex).map_err(|_| err("bad \\x escape"))?;
                let v = u8::from_str_radix(hex, 16).map_err(|_| err("bad \\x escape"))?;
                out.push(v);
                i += 4;
                continue;
            }
            Some(_) => return Err(err("unknown escape")),
            None => return Err(err("trailing backslash")),
        }
        i += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(
            unescape(r"GET / HTTP/1.0\r\n\r\n").unwrap(),
            b"GET / HTTP/1.0\r\n\r\n"
        );
        assert_eq!(unescape(r"\x00\xff\t\\x").unwrap(), b"\x00\xff\t\\x");
        assert_eq!(unescape("plain ü").unwrap(), "plain ü".as_bytes());
    }

    #[test]
    fn rejects_bad_escapes() {
        assert_eq!(unescape(r"a\q").unwrap_err().offset, 1);
        assert_eq!(unescape(r"\x4").unwrap_err().what, "truncated \\x escape");
        assert_eq!(unescape(r"\xzz").unwrap_err().what, "bad \\x escape");
        assert_eq!(unescape("x\\").unwrap_err().what, "trailing backslash");
    }
}
