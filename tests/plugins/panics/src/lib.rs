//! Hostile: panics with a known message; the host must report it as the
//! failure reason. The message is `PANIC_MESSAGE` plus the target's port.
use belay_plugin_sdk::prelude::*;

fn run(target: &Target, _params: &Params) -> Result<Report, Failure> {
    panic!(
        "belay-test-panic: deliberate panic for port {}",
        target.port
    );
}

belay_plugin_sdk::export_check!(run);
