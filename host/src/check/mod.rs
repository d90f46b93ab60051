//! Health checks: WebAssembly plugins run in a sandbox on a schedule; their
//! reports drive VRRP priority and IPVS real servers.

pub mod probe;
pub mod report;
pub mod rise_fall;
pub mod scheduler;

pub use probe::Probe;
pub use report::{Health, Report};
pub use rise_fall::CheckState;
pub use scheduler::{CheckEvent, CheckStatus, ReportEvent, Schedule, Scheduler};
