//! Glue used by `export_check!`; not part of the public API.

use std::sync::Once;

use crate::{Failure, Params, Report, Target};

/// Calls the plugin's function with the panic hook installed, turning a
/// `Failure` into an unhealthy report.
pub fn run(
    target: Target,
    params: Vec<(String, String)>,
    f: fn(&Target, &Params) -> Result<Report, Failure>,
) -> Report {
    static HOOK: Once = Once::new();
    HOOK.call_once(install_panic_hook);
    let params = Params::new(params);
    f(&target, &params).unwrap_or_else(Report::from)
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(non-string panic payload)");
        let line = match info.location() {
            Some(l) => format!(
                "panicked at {}:{}:{}: {message}",
                l.file(),
                l.line(),
                l.column()
            ),
            None => format!("panicked: {message}"),
        };
        // One line on stderr: the host captures it as the failure reason.
        eprintln!("{line}");
        crate::log::error(&line);
    }));
}
