//! Who is running: the names every log line about a check carries.

use std::fmt;
use std::sync::Arc;

/// Names for log fields (`check`, `plugin`, `target`); cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub check: Arc<str>,
    pub plugin: Arc<str>,
    pub target: Arc<str>,
}

impl Labels {
    pub fn new(check: &str, plugin: &str, target: &str) -> Labels {
        Labels {
            check: check.into(),
            plugin: plugin.into(),
            target: target.into(),
        }
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "check {} ({} → {})",
            self.check, self.plugin, self.target
        )
    }
}
