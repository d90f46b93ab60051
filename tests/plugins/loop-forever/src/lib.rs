//! Hostile: spins forever in `run`. The host's CPU deadline (epoch
//! interruption) must stop it and report a timeout.
use belay_plugin_sdk::prelude::*;

fn run(_target: &Target, _params: &Params) -> Result<Report, Failure> {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

belay_plugin_sdk::export_check!(run);
