//! The compiled-code cache on disk: a restart loads instead of compiling, a
//! damaged entry is recompiled (never loaded, never a crash), and a directory
//! others can write is refused.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use belay::check::cache::CacheOutcome;
use belay::check::registry::Lookup;
use belay::check::{Runtime, RuntimeConfig};
use belay_tests::checks::{CheckLab, assert_healthy};
use belay_tests::{TempDir, build_versioned_plugin};

fn cached_files(dir: &TempDir, ext: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

fn outcome(lab: &CheckLab) -> CacheOutcome {
    match lab.registry.get("ver") {
        Lookup::Ready(p) => p.cache,
        other => panic!("ver not loaded: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_loads_from_cache_and_damage_means_recompile() {
    let cache = TempDir::new("cache");
    let plugin = build_versioned_plugin("v1");

    let first = CheckLab::with_private_cache(&cache);
    first.load("ver", &plugin);
    assert_eq!(outcome(&first), CacheOutcome::Compiled);
    let entries = cached_files(&cache, "cwasm");
    assert_eq!(entries.len(), 1, "{entries:?}");
    drop(first);

    // A "restart": a new runtime over the same directory compiles nothing.
    let second = CheckLab::with_private_cache(&cache);
    let t = std::time::Instant::now();
    second.load("ver", &plugin);
    let hit_time = t.elapsed();
    assert_eq!(outcome(&second), CacheOutcome::Hit);
    eprintln!("cache hit load: {hit_time:?}");
    drop(second);

    // Damage the entry in the middle (same size, so only the checksum can tell).
    let entry = &entries[0];
    let mut bytes = std::fs::read(entry).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 64] {
        *b ^= 0xff;
    }
    std::fs::write(entry, &bytes).unwrap();
    let third = CheckLab::with_private_cache(&cache);
    third.load("ver", &plugin);
    assert_eq!(outcome(&third), CacheOutcome::Recompiled);
    let r = third
        .run("ver", "127.0.0.1:9", &[], Duration::from_secs(2))
        .await;
    assert_healthy(&r);
    drop(third);

    // Truncated, and a missing checksum, are damage too.
    std::fs::write(entry, &bytes[..100]).unwrap();
    let fourth = CheckLab::with_private_cache(&cache);
    fourth.load("ver", &plugin);
    assert_eq!(outcome(&fourth), CacheOutcome::Recompiled);
    drop(fourth);
    for sum in cached_files(&cache, "sha256") {
        std::fs::remove_file(sum).unwrap();
    }
    let fifth = CheckLab::with_private_cache(&cache);
    fifth.load("ver", &plugin);
    assert_eq!(outcome(&fifth), CacheOutcome::Recompiled);
    // The repaired entry is a hit again.
    let sixth = CheckLab::with_private_cache(&cache);
    sixth.load("ver", &plugin);
    assert_eq!(outcome(&sixth), CacheOutcome::Hit);
    assert!(
        cached_files(&cache, "tmp").is_empty(),
        "temp files left behind"
    );
}

#[test]
fn a_cache_dir_others_can_write_is_refused() {
    let dir = TempDir::new("open-cache");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..RuntimeConfig::default()
    })
    .unwrap();
    assert!(runtime.cache().is_none(), "a world-writable cache was used");
    // Plugins still load, compiled in memory.
    let bytes = std::fs::read(build_versioned_plugin("v1")).unwrap();
    let p = runtime
        .load("ver", belay::check::Origin::Stock, &bytes)
        .unwrap();
    assert_eq!(p.cache, CacheOutcome::CompiledUnstored);
    assert!(cached_files(&dir, "cwasm").is_empty());
}
