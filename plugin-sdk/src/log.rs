//! Logging into the daemon's log through the `belay:check/log` import; the
//! host tags each line with the check's name.

use crate::bindings::belay::check::log::{Level, log};

pub use crate::bindings::belay::check::log::Level as LogLevel;

pub fn trace(message: &str) {
    log(Level::Trace, message);
}
pub fn debug(message: &str) {
    log(Level::Debug, message);
}
pub fn info(message: &str) {
    log(Level::Info, message);
}
pub fn warn(message: &str) {
    log(Level::Warn, message);
}
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// `log!(Info, "connected in {ms} ms")`: format and log at a level.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)+) => {
        $crate::bindings::belay::check::log::log(
            $crate::log::LogLevel::$level,
            &::std::format!($($arg)+),
        )
    };
}
