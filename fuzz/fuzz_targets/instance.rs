//! The state machine under arbitrary event scripts (packets, time, faults,
//! priority changes); see `host/tests/common/chaos.rs` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| belay_fuzz::chaos::run(data));
