//! Per-invocation resource limits: memory cap and CPU deadline.
//!
//! The pooling allocator bounds every instance by the runtime-wide maximum;
//! these limits are the (usually smaller) per-check budget, enforced by a
//! `ResourceLimiter` and the epoch callback. Both fail with typed errors so the
//! runtime can turn them into precise reasons instead of a generic trap text.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// What one check invocation may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory a plugin may grow to, in bytes.
    pub memory: usize,
    /// Time the plugin may spend executing wasm (host calls excluded), measured
    /// in epoch ticks while the guest runs. A spinning guest trips it; a guest
    /// blocked in a host call is bounded by the wall-clock timeout instead.
    pub cpu: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: 32 << 20,
            cpu: Duration::from_secs(2),
        }
    }
}

/// A plugin tried to grow its memory beyond its cap.
#[derive(Debug, thiserror::Error)]
#[error("memory limit exceeded: wanted {desired} bytes, cap is {cap} bytes")]
pub struct MemoryCapExceeded {
    pub desired: usize,
    pub cap: usize,
}

/// A plugin executed wasm for longer than its CPU budget.
#[derive(Debug, thiserror::Error)]
#[error("timeout: CPU deadline of {0:?} exceeded")]
pub struct CpuDeadlineExceeded(pub Duration);

/// The check's wall-clock timeout passed while the plugin was executing.
#[derive(Debug, thiserror::Error)]
#[error("timeout after {0:?}")]
pub struct WallTimeout(pub Duration);

/// Caps memories, tables and instances of one store. Growth beyond the memory
/// cap traps (rather than returning -1 to the guest) so the report names the
/// cause; a guest's allocator would abort anyway.
pub(crate) struct StoreLimiter {
    memory_cap: usize,
}

/// Table elements a plugin may have; Rust and C guests need a few hundred.
const TABLE_ELEMENTS_CAP: usize = 100_000;

impl StoreLimiter {
    pub(crate) fn new(memory_cap: usize) -> Self {
        StoreLimiter { memory_cap }
    }
}

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                desired,
                cap: self.memory_cap,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_CAP)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}
