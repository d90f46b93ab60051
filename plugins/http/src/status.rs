//! Expected status codes: "200", "200-299,301", "2xx".

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A set of status codes as inclusive ranges, shown as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    ranges: Vec<RangeInclusive<u16>>,
}

impl Default for StatusSet {
    /// 200–299.
    fn default() -> StatusSet {
        StatusSet {
            ranges: vec![200..=299],
        }
    }
}

impl StatusSet {
    pub fn contains(&self, status: u16) -> bool {
        self.ranges.iter().any(|r| r.contains(&status))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if r.start() == r.end() {
                write!(f, "{}", r.start())?;
            } else {
                write!(f, "{}-{}", r.start(), r.end())?;
            }
        }
        Ok(())
    }
}

impl FromStr for StatusSet {
    type Err = String;

    fn from_str(s: &str) -> Result<StatusSet, String> {
        let code = |t: &str| -> Result<u16, String> {
            match t.trim().parse::<u16>() {
                Ok(c) if (100..=599).contains(&c) => Ok(c),
                _ => Err(format!("'{}' is not a status code (100-599)", t.trim())),
            }
        };
        let mut ranges = Vec::new();
        for part in s.split(',').map(str::trim) {
            if part.is_empty() {
                return Err("empty entry (expected e.g. 200-299,301)".into());
            }
            let range = if let Some(class) = part.strip_suffix("xx") {
                let c = code(&format!("{class}00"))?;
                c..=c + 99
            } else if let Some((lo, hi)) = part.split_once('-') {
                let (lo, hi) = (code(lo)?, code(hi)?);
                if lo > hi {
                    return Err(format!("range {lo}-{hi} is empty"));
                }
                lo..=hi
            } else {
                let c = code(part)?;
                c..=c
            };
            ranges.push(range);
        }
        Ok(StatusSet { ranges })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sets_and_ranges() {
        let s: StatusSet = "200-299, 301".parse().unwrap();
        assert!(s.contains(200) && s.contains(299) && s.contains(301));
        assert!(!s.contains(300) && !s.contains(503));
        assert_eq!(s.to_string(), "200-299,301");
        let s: StatusSet = "2xx,404".parse().unwrap();
        assert!(s.contains(250) && s.contains(404) && !s.contains(300));
        assert_eq!(StatusSet::default().to_string(), "200-299");
    }

    #[test]
    fn rejects_nonsense() {
        assert!("".parse::<StatusSet>().is_err());
        assert!("200,".parse::<StatusSet>().is_err());
        assert!("299-200".parse::<StatusSet>().is_err());
        assert!("abc".parse::<StatusSet>().is_err());
        assert!("700".parse::<StatusSet>().is_err());
        assert_eq!(
            "20x".parse::<StatusSet>().unwrap_err(),
            "'20x' is not a status code (100-599)"
        );
    }
}
