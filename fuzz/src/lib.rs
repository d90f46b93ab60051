//! The VRRP core compiled on its own: `vrrp.rs` mounts the sans-IO files of
//! `host/src/vrrp/` (they depend only on std, thiserror and tracing), so the
//! fuzzer neither builds nor instruments the rest of the daemon.

pub mod vrrp;

/// The invariant-checking event driver shared with the host's tests.
#[path = "../../host/tests/common/chaos.rs"]
pub mod chaos;
