//! Compiled plugins cached on disk, so a restart or a reload of unchanged
//! bytes never runs Cranelift again.
//!
//! Entries are named `<sha256(component)>-<engine>.cwasm`, where `<engine>`
//! digests `Engine::precompile_compatibility_hash` (wasmtime version, target,
//! and every setting that affects code), so an upgraded or reconfigured daemon
//! simply misses. Beside each entry a `.sha256` file holds the digest of the
//! `.cwasm` bytes: a truncated or damaged entry fails that check and is
//! recompiled, never loaded.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Why the cache directory cannot be used (the runtime then compiles in memory).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create cache directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cache directory {path} is not private (owner uid {uid}, mode {mode:o}); it must be owned by us with mode 0700"
    )]
    NotPrivate { path: PathBuf, uid: u32, mode: u32 },
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a valid entry.
    Hit,
    /// Compiled, and stored for next time.
    Compiled,
    /// The entry was damaged: compiled again and replaced.
    Recompiled,
    /// Compiled, but the entry could not be written (logged).
    CompiledUnstored,
}

/// A directory of `.cwasm` files for one engine configuration.
#[derive(Debug)]
pub struct CodeCache {
    dir: PathBuf,
    engine_tag: String,
}

impl CodeCache {
    /// Opens (creating it 0700 if needed) a cache directory. A directory that
    /// someone else owns, or that others can write, is refused: loading code
    /// from it would run whatever they put there.
    pub fn open(dir: &Path, engine: &Engine) -> Result<CodeCache, CacheError> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| CacheError::Create {
                path: dir.to_path_buf(),
                source,
            })?;
        let meta = fs::metadata(dir).map_err(|source| CacheError::Create {
            path: dir.to_path_buf(),
            source,
        })?;
        let uid = nix::unistd::geteuid().as_raw();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.uid() != uid || mode & 0o077 != 0 {
            return Err(CacheError::NotPrivate {
                path: dir.to_path_buf(),
                uid: meta.uid(),
                mode,
            });
        }
        Ok(CodeCache {
            dir: dir.to_path_buf(),
            engine_tag: engine_tag(engine),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry path for component bytes with digest `digest`.
    pub fn entry_path(&self, digest: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex(digest), self.engine_tag))
    }

    /// The component for `bytes` (whose sha256 is `digest`): from the cache
    /// when a valid entry exists, else compiled and stored.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        digest: &[u8; 32],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(digest);
        let sum_path = path.with_extension("sha256");
        let mut damaged = false;
        if path.exists() {
            match self.load_entry(engine, &path, &sum_path) {
                Ok(c) => return Ok((c, CacheOutcome::Hit)),
                Err(reason) => {
                    tracing::warn!(entry = %path.display(), %reason, "damaged plugin cache entry; recompiling");
                    let _ = fs::remove_file(&path);
                    let _ = fs::remove_file(&sum_path);
                    damaged = true;
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        let outcome = match self.store(&component, &path, &sum_path) {
            Ok(()) if damaged => CacheOutcome::Recompiled,
            Ok(()) => CacheOutcome::Compiled,
            Err(e) => {
                tracing::warn!(entry = %path.display(), error = %e, "cannot write plugin cache entry");
                CacheOutcome::CompiledUnstored
            }
        };
        Ok((component, outcome))
    }

    fn load_entry(
        &self,
        engine: &Engine,
        path: &Path,
        sum_path: &Path,
    ) -> Result<Component, String> {
        let expected = fs::read_to_string(sum_path).map_err(|e| format!("no checksum: {e}"))?;
        let data = fs::read(path).map_err(|e| format!("unreadable: {e}"))?;
        if hex(&Sha256::digest(&data)) != expected.trim() {
            return Err("checksum mismatch".into());
        }
        drop(data);
        // SAFETY: `deserialize_file` trusts the file to be wasmtime's own
        // output, since it maps it as executable code. It is: the directory
        // is ours and private (checked in `open`: owned by our uid, mode
        // 0700), entries are only written by `store` below via
        // write-to-temp-then-rename, named by the content hash of the source
        // and the engine's compatibility hash, and the bytes were just checked
        // against the digest written with them. Only root or our own uid could
        // have replaced them, and both could replace the daemon itself.
        unsafe { Component::deserialize_file(engine, path) }.map_err(|e| format!("{e}"))
    }

    fn store(&self, component: &Component, path: &Path, sum_path: &Path) -> std::io::Result<()> {
        let bytes = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let sum = hex(&Sha256::digest(&bytes));
        write_atomic(path, &bytes)?;
        write_atomic(sum_path, sum.as_bytes())
    }
}

/// Writes `path` via a unique temp file in the same directory and a rename,
/// so a reader never sees a partial file.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "tmp.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Short stable digest of the engine's compatibility hash.
fn engine_tag(engine: &Engine) -> String {
    let mut h = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    let d: [u8; 32] = h.0.finalize().into();
    hex(&d[..8])
}

/// Feeds `Hash` output into sha256, which (unlike `DefaultHasher`) is stable
/// across Rust releases.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// sha256 of component bytes: a plugin's identity in the cache and registry.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
