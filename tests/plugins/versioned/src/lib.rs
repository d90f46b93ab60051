//! Reports a version marker fixed at build time
//! (`BELAY_TEST_PLUGIN_VERSION`, default "v0") as its message and as metric
//! `version` (the number after "v"), so hot-reload tests can tell builds apart.
use belay_plugin_sdk::prelude::*;

const VERSION: &str = match option_env!("BELAY_TEST_PLUGIN_VERSION") {
    Some(v) => v,
    None => "v0",
};

fn run(_target: &Target, _params: &Params) -> Result<Report, Failure> {
    let number = VERSION
        .trim_start_matches('v')
        .parse::<f64>()
        .unwrap_or(-1.0);
    Ok(Report::healthy().message(VERSION).metric("version", number))
}

belay_plugin_sdk::export_check!(run);
