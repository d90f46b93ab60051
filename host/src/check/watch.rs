//! Hot reload: watch the plugin directory and keep the registry in step.
//!
//! Debouncing, per file `NAME.wasm`:
//! - a rename into place (editors, `install`, `mv`) is complete at once: load
//!   after a short settle delay;
//! - a write in place (`cp`) is only complete when the writer closes the file
//!   (inotify `CLOSE_WRITE`); until then the file is left alone. Should that
//!   close never be seen, the load happens after the file has been quiet for
//!   [`QUIET_FALLBACK`];
//! - a removal is acted on only if the file is still absent after settling,
//!   so a delete-then-create never stops checks.
//!
//! Hidden and temporary names (`.x.wasm.swp`, `x.wasm~`, `x.wasm.tmp`) are
//! ignored. Loads run one at a time on the blocking pool (compilation is CPU
//! work) and swap atomically in the registry; a failed load leaves the
//! previous version running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::registry::{Registry, plugin_name};

/// Delay after a complete write or rename before loading.
pub const SETTLE: Duration = Duration::from_millis(20);
/// Load a file written in place after this much silence even without a close.
pub const QUIET_FALLBACK: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("plugin directory {path}: {reason}")]
    Dir { path: PathBuf, reason: String },
}

/// Watches a plugin directory until dropped.
pub struct PluginWatcher {
    dir: PathBuf,
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

impl PluginWatcher {
    /// Loads every plugin already in `dir`, then follows changes. Must be
    /// called inside a tokio runtime.
    pub async fn start(registry: Arc<Registry>, dir: &Path) -> Result<PluginWatcher, WatchError> {
        let dir_err = |reason: String| WatchError::Dir {
            path: dir.to_path_buf(),
            reason,
        };
        if !dir.is_dir() {
            return Err(dir_err("not a directory".into()));
        }
        // Events name paths under the watched path; make it canonical so
        // they compare equal to what we scan.
        let dir = &dir.canonicalize().map_err(|e| dir_err(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watcher = notify::recommended_watcher(move |res| {
            let _ = tx.send(res);
        })
        .map_err(|e| dir_err(e.to_string()))?;
        // Watch before scanning, so nothing written in between is missed.
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| dir_err(e.to_string()))?;
        let dir = dir.to_path_buf();
        rescan(&registry, &dir).await;
        let task = tokio::spawn(run(registry, dir.clone(), rx));
        Ok(PluginWatcher {
            dir,
            _watcher: watcher,
            task,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What is known about a file with pending changes.
#[derive(Debug, Clone, Copy)]
struct Pending {
    due: Instant,
    /// Written in place and not yet closed.
    writing: bool,
}

type Rx = mpsc::UnboundedReceiver<notify::Result<notify::Event>>;

async fn run(registry: Arc<Registry>, dir: PathBuf, mut rx: Rx) {
    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    loop {
        let next_due = pending.values().map(|p| p.due).min();
        let event = match next_due {
            Some(due) => tokio::select! {
                e = rx.recv() => e,
                _ = tokio::time::sleep_until(due) => {
                    let now = Instant::now();
                    let ready: Vec<PathBuf> = pending
                        .iter()
                        .filter(|(_, p)| p.due <= now)
                        .map(|(path, _)| path.clone())
                        .collect();
                    for path in ready {
                        pending.remove(&path);
                        apply(&registry, &path).await;
                    }
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let Some(event) = event else { return };
        match event {
            Ok(ev) if ev.need_rescan() => rescan(&registry, &dir).await,
            Ok(ev) => {
                for path in &ev.paths {
                    if plugin_name(path).is_none() || path.parent() != Some(dir.as_path()) {
                        continue;
                    }
                    tracing::debug!(path = %path.display(), kind = ?ev.kind, "plugin dir event");
                    note(&mut pending, path, &ev.kind);
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "plugin directory watch error; rescanning");
                rescan(&registry, &dir).await;
            }
        }
    }
}

/// Updates the debounce state of `path` for one event.
fn note(pending: &mut HashMap<PathBuf, Pending>, path: &Path, kind: &EventKind) {
    // Opens and read-only closes change nothing (and our own reads cause
    // them): they must not schedule a load.
    if matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write)) {
        return;
    }
    let now = Instant::now();
    let entry = pending.entry(path.to_path_buf()).or_insert(Pending {
        due: now + SETTLE,
        writing: false,
    });
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            entry.writing = false;
            entry.due = now + SETTLE;
        }
        EventKind::Access(_) => {}
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
            entry.writing = true;
            entry.due = now + QUIET_FALLBACK;
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
            entry.writing = false;
            entry.due = now + SETTLE;
        }
        EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
            if entry.writing {
                entry.due = now + QUIET_FALLBACK;
            } else {
                entry.due = now + SETTLE;
            }
        }
    }
}

/// Loads or removes `path` according to what is on disk now.
async fn apply(registry: &Arc<Registry>, path: &Path) {
    let Some(name) = plugin_name(path) else {
        return;
    };
    if path.is_file() {
        let (reg, p) = (registry.clone(), path.to_path_buf());
        // Errors are recorded and logged by the registry.
        let _ = tokio::task::spawn_blocking(move || reg.load_file(&p)).await;
    } else {
        registry.remove_file(&name);
    }
}

/// Loads every plugin file in `dir` and removes registered files that are gone.
async fn rescan(registry: &Arc<Registry>, dir: &Path) {
    let mut present = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let path = e.path();
                if plugin_name(&path).is_some() && path.is_file() {
                    present.push(path);
                }
            }
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read plugin directory");
            return;
        }
    }
    present.sort();
    for path in &present {
        apply(registry, path).await;
    }
    for st in registry.status() {
        if let Some(super::plugin::Origin::File(p)) = &st.origin
            && p.parent() == Some(dir)
            && !p.exists()
        {
            registry.remove_file(&st.name);
        }
    }
}
