//! Where the binaries and shared material under test live.

use std::path::{Path, PathBuf};

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests crate sits inside the workspace")
        .to_path_buf()
}

/// `../shared` beside the checkout: tools, reference captures.
pub fn shared_dir() -> PathBuf {
    let dir = workspace_root().join("../shared");
    assert!(
        dir.is_dir(),
        "{} not found: the checkout must sit beside shared/",
        dir.display()
    );
    dir
}

/// The `belay` binary built by this cargo invocation. `BELAY_BIN` overrides.
pub fn belay_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BELAY_BIN") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    // Test binaries live in target/<profile>/deps; the belay binary one level up.
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .filter(|d| d.join("belay").is_file())
        .unwrap_or_else(|| target.join("debug"));
    let bin = profile_dir.join("belay");
    assert!(
        bin.is_file(),
        "{} not found: build it first (`cargo build -p belay`) or set BELAY_BIN",
        bin.display()
    );
    bin
}
