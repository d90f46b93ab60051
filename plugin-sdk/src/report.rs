//! Building reports, and `Failure`: the unhealthy outcome `?` produces.

use std::fmt::{self, Display};

use crate::{Metric, Report, Status};

impl Report {
    /// A healthy report with no metrics.
    pub fn healthy() -> Report {
        Report {
            status: Status::Healthy,
            weight: None,
            metrics: Vec::new(),
            message: None,
        }
    }

    /// An unhealthy report; `reason` should say what an operator can act on.
    pub fn unhealthy(reason: impl Into<String>) -> Report {
        Report {
            status: Status::Unhealthy(reason.into()),
            ..Report::healthy()
        }
    }

    /// Adds a named measurement (e.g. `connect_ms`).
    pub fn metric(mut self, name: impl Into<String>, value: f64) -> Report {
        self.metrics.push(Metric {
            name: name.into(),
            value,
        });
        self
    }

    /// Sets the dynamic weight (replaces the configured weight while set).
    pub fn weight(mut self, weight: i32) -> Report {
        self.weight = Some(weight);
        self
    }

    /// Sets the free-form message (logs and status only).
    pub fn message(mut self, message: impl Into<String>) -> Report {
        self.message = Some(message.into());
        self
    }

    pub fn is_healthy(&self) -> bool {
        matches!(self.status, Status::Healthy)
    }

    /// The unhealthy reason, if any.
    pub fn reason(&self) -> Option<&str> {
        match &self.status {
            Status::Healthy => None,
            Status::Unhealthy(r) => Some(r),
        }
    }
}

/// Why a check failed. Any `Display` error converts into one (so `?` works on
/// `std` and SDK errors alike); it becomes `Report::unhealthy(reason)`, or a
/// prepared report via [`Failure::with_report`] when measurements were taken
/// before the failure.
#[derive(Debug, Clone)]
pub struct Failure {
    report: Report,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure {
            report: Report::unhealthy(reason),
        }
    }

    /// A failure carrying a full report (metrics, weight, message). The
    /// report's status is forced to unhealthy with `reason`.
    pub fn with_report(reason: impl Into<String>, report: Report) -> Failure {
        Failure {
            report: Report {
                status: Status::Unhealthy(reason.into()),
                ..report
            },
        }
    }

    pub fn reason(&self) -> &str {
        self.report.reason().unwrap_or_default()
    }

    /// Adds a metric to the unhealthy report.
    pub fn metric(self, name: impl Into<String>, value: f64) -> Failure {
        Failure {
            report: self.report.metric(name, value),
        }
    }
}

impl<E: Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<Failure> for Report {
    fn from(f: Failure) -> Report {
        f.report
    }
}

/// Quotes bytes for a reason: printable ASCII as is, the rest escaped, cut to
/// `max` input bytes with "…" appended when longer.
pub fn quote(bytes: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &b in bytes.iter().take(max) {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    if bytes.len() > max {
        s.push('…');
    }
    s
}

/// Displays bytes with [`quote`].
pub struct Quoted<'a>(pub &'a [u8], pub usize);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quote(self.0, self.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders() {
        let r = Report::healthy()
            .metric("connect_ms", 1.5)
            .weight(-10)
            .message("ok");
        assert!(r.is_healthy());
        assert_eq!(r.weight, Some(-10));
        assert_eq!(r.metrics[0].name, "connect_ms");
        assert_eq!(r.message.as_deref(), Some("ok"));
        assert_eq!(Report::unhealthy("down").reason(), Some("down"));
    }

    #[test]
    fn failures_convert() {
        fn parse() -> Result<u8, Failure> {
            Ok("300".parse::<u8>()?)
        }
        let r: Report = parse().unwrap_err().into();
        assert_eq!(r.reason(), Some("number too large to fit in target type"));
        let r: Report = Failure::with_report("late", Report::healthy().metric("m", 1.0)).into();
        assert_eq!(r.reason(), Some("late"));
        assert_eq!(r.metrics.len(), 1);
    }

    #[test]
    fn quoting() {
        assert_eq!(
            quote(b"HTTP/1.0 200\r\n\x00'", 100),
            "HTTP/1.0 200\\r\\n\\x00\\'"
        );
        assert_eq!(quote(b"abcdef", 3), "abc…");
    }
}
