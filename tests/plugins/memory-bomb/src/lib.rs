//! Hostile: allocates (and touches) memory until allocation fails, which
//! aborts: a trap at the host's memory cap. Param `chunk_kib` (default 1024).
use belay_plugin_sdk::prelude::*;

fn run(_target: &Target, params: &Params) -> Result<Report, Failure> {
    let chunk = params.parse_or::<usize>("chunk_kib", 1024)? * 1024;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Non-zero fill so every page is really committed.
        hoard.push(vec![0xa5; chunk]);
        std::hint::black_box(&hoard);
    }
}

belay_plugin_sdk::export_check!(run);
