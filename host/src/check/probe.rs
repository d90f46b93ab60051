//! The seam between the scheduler and whatever runs a check.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::Report;

/// One check attempt against one configured target. The wasm runtime
/// implements it; the scheduler only sees this trait, so rise/fall/retry logic
/// is tested without plugins.
pub trait Probe: Send + Sync + 'static {
    /// Runs one attempt bounded by `timeout`. Never panics: every failure,
    /// including the timeout itself, is an unhealthy `Report` with a reason.
    fn probe(&self, timeout: Duration) -> Pin<Box<dyn Future<Output = Report> + Send + '_>>;
}
