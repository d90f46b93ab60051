//! WebAssembly plugins for tests: the hostile ones under `tests/plugins/`, the
//! SDK's example, and the stock ones, built for `wasm32-wasip2` on demand.
//!
//! Builds go to `<target>/test-plugins` (a cargo target directory of its own,
//! so they never wait on the outer build's lock), once per process per plugin
//! and under a file lock, because nextest runs tests as parallel processes.
//! Finished components are copied to `<target>/test-plugins/out/NAME.wasm` by
//! rename, so a reader never sees a half-written file.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::bins::workspace_root;

/// The hostile/special test plugins that `build_test_plugin` knows.
pub const TEST_PLUGINS: &[&str] = &[
    "loop-forever",
    "memory-bomb",
    "wrong-target",
    "panics",
    "wrong-world",
    "versioned",
];

/// The stock plugins (crates `plugins/NAME`, embedded in the belay binary).
pub const STOCK_PLUGINS: &[&str] = &["tcp", "http"];

/// Marker message the `panics` plugin panics with (followed by the port).
pub const PANIC_MESSAGE: &str = "belay-test-panic: deliberate panic for port";

/// Builds `tests/plugins/NAME` and returns the component's path
/// (`.../out/NAME.wasm`). `versioned` built this way reports "v0".
pub fn build_test_plugin(name: &str) -> PathBuf {
    assert!(
        TEST_PLUGINS.contains(&name),
        "unknown test plugin {name:?}; known: {TEST_PLUGINS:?}"
    );
    build_cached(&format!("test/{name}"), || {
        let manifest = workspace_root().join("tests/plugins/Cargo.toml");
        let package = format!("belay-test-{name}");
        build(
            &plugins_target_dir(),
            &manifest,
            &["-p", &package],
            &[],
            "release",
            &lib_file(&package),
            name,
        )
    })
}

/// Builds the `versioned` plugin with marker `version` (e.g. "v1", "v2"): its
/// reports carry `message = version` and metric `version` = the number.
/// Returns `.../out/versioned-VERSION.wasm`.
pub fn build_versioned_plugin(version: &str) -> PathBuf {
    assert!(
        version.starts_with('v') && version[1..].parse::<u32>().is_ok(),
        "version must look like v1, v2, ...: {version:?}"
    );
    build_cached(&format!("versioned/{version}"), || {
        let manifest = workspace_root().join("tests/plugins/Cargo.toml");
        let package = "belay-test-versioned";
        build(
            &plugins_target_dir(),
            &manifest,
            &["-p", package],
            &[("BELAY_TEST_PLUGIN_VERSION", version)],
            "release",
            &lib_file(package),
            &format!("versioned-{version}"),
        )
    })
}

/// A stock plugin (`plugins/NAME`) exactly as the belay binary embeds it,
/// as a file: `.../out/stock-NAME.wasm`, for tests that load plugins from
/// disk (hot reload, `belay check --plugin PATH`). Uses host/build.rs's target
/// directory and command, so after a `cargo build` this is a no-op.
pub fn stock_plugin_path(name: &str) -> PathBuf {
    assert!(
        STOCK_PLUGINS.contains(&name),
        "unknown stock plugin {name:?}; known: {STOCK_PLUGINS:?}"
    );
    build_cached(&format!("stock/{name}"), || {
        let manifest = workspace_root().join("Cargo.toml");
        // All stock plugins in one build, like host/build.rs, so feature
        // unification matches and the two never rebuild each other's output.
        let packages: Vec<String> = STOCK_PLUGINS
            .iter()
            .flat_map(|p| ["-p".to_owned(), format!("belay-plugin-{p}")])
            .collect();
        let args: Vec<&str> = packages.iter().map(String::as_str).collect();
        build(
            &cargo_target_dir().join("stock-plugins"),
            &manifest,
            &args,
            &[],
            "plugin",
            &lib_file(&format!("belay-plugin-{name}")),
            &format!("stock-{name}"),
        )
    })
}

/// Builds the SDK example `NAME` (`plugin-sdk/examples/NAME.rs`) and returns
/// `.../out/example-NAME.wasm`.
pub fn build_sdk_example(name: &str) -> PathBuf {
    build_cached(&format!("example/{name}"), || {
        let manifest = workspace_root().join("Cargo.toml");
        build(
            &plugins_target_dir(),
            &manifest,
            &["-p", "belay-plugin-sdk", "--example", name],
            &[],
            "release",
            &Path::new("examples").join(format!("{}.wasm", name.replace('-', "_"))),
            &format!("example-{name}"),
        )
    })
}

fn lib_file(package: &str) -> PathBuf {
    PathBuf::from(format!("{}.wasm", package.replace('-', "_")))
}

/// The workspace's cargo target directory.
fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `<target>/test-plugins`: test plugin builds, the lock, and `out/`.
pub fn plugins_target_dir() -> PathBuf {
    cargo_target_dir().join("test-plugins")
}

fn build_cached(key: &str, f: impl FnOnce() -> PathBuf) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    // Held across the build: one build at a time in this process too.
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(key) {
        return p.clone();
    }
    let path = f();
    built.insert(key.to_owned(), path.clone());
    path
}

/// Runs one `cargo build` for wasm32-wasip2 under the cross-process lock and
/// publishes `artifact` (relative to the profile dir) as `out/OUT_NAME.wasm`.
fn build(
    target_dir: &Path,
    manifest: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    profile: &str,
    artifact: &Path,
    out_name: &str,
) -> PathBuf {
    let out_dir = plugins_target_dir().join("out");
    fs::create_dir_all(&out_dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", out_dir.display()));
    let lock_path = plugins_target_dir().join("build.lock");
    let lock = File::create(&lock_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(args)
        .args(["--target", "wasm32-wasip2", "--profile", profile])
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--quiet");
    for var in SCRUBBED_ENV {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().copied());
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo ({cmd:?}): {e}"));
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint =
            if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
                "\nhint: run `bash scripts/setup.sh` (rustup target add wasm32-wasip2)"
            } else {
                ""
            };
        panic!(
            "building plugin {out_name} failed ({}):\n{cmd:?}\n{stderr}{hint}",
            output.status
        );
    }
    let built = target_dir
        .join("wasm32-wasip2")
        .join(profile)
        .join(artifact);
    let out = out_dir.join(format!("{out_name}.wasm"));
    let tmp = out_dir.join(format!(".{out_name}.{}.tmp", std::process::id()));
    fs::copy(&built, &tmp)
        .unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", built.display(), tmp.display()));
    fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("cannot publish {}: {e}", out.display()));
    drop(lock);
    out
}

/// Variables an outer cargo (or nextest) sets that would leak into the nested
/// build: host rustflags, a forced target, a clippy wrapper.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_DIR",
    "CARGO_PKG_NAME",
];
