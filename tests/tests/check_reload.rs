//! Hot reload through the real watcher (inotify) on a real plugin directory:
//! replaced files take effect within a second without failing a check,
//! half-written and corrupt files never replace a good version, removed files
//! stop their checks, and a custom plugin can shadow a stock one.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use belay::check::registry::Lookup;
use belay::check::{Health, LoadError, Origin, PluginWatcher, Probe, RegistryEvent, Report};
use belay_tests::checks::{CheckLab, assert_healthy, reason};
use belay_tests::{TempDir, TestServer, build_versioned_plugin};
use tokio::sync::broadcast;

/// Runs `probe` from `tasks` concurrent loops until stopped; returns every
/// (finish time, report).
fn load_generator(
    probe: Arc<belay::check::WasmProbe>,
    tasks: usize,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<(Instant, Report)>>> {
    (0..tasks)
        .map(|_| {
            let (probe, stop) = (probe.clone(), stop.clone());
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_millis(5));
                while !stop.load(Ordering::Relaxed) {
                    tick.tick().await;
                    let r = probe.probe(Duration::from_secs(2)).await;
                    out.push((Instant::now(), r));
                }
                out
            })
        })
        .collect()
}

fn version(r: &Report) -> &str {
    r.message.as_deref().unwrap_or("")
}

/// Waits for the first report of `v` in the shared log, returning its time.
async fn first_report_of(
    log: &tokio::sync::Mutex<Vec<(Instant, Report)>>,
    v: &str,
    since: Instant,
    within: Duration,
) -> Instant {
    let deadline = since + within + Duration::from_secs(1);
    loop {
        if let Some((t, _)) = log
            .lock()
            .await
            .iter()
            .find(|(t, r)| *t >= since && version(r) == v)
        {
            return *t;
        }
        assert!(
            Instant::now() < deadline,
            "no report from {v} within {:?}",
            deadline - since
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_in_place_and_by_rename_under_load() {
    let lab = CheckLab::new();
    let dir = TempDir::new("plugins");
    let file = dir.join("ver.wasm");
    std::fs::copy(build_versioned_plugin("v1"), &file).unwrap();
    let (v2, v3) = (build_versioned_plugin("v2"), build_versioned_plugin("v3"));
    let _watcher = PluginWatcher::start(lab.registry.clone(), dir.path())
        .await
        .expect("watch the plugin dir");
    let server = TestServer::accept_close();
    let probe = Arc::new(lab.probe(lab.spec("ver", &server.target(), &[])));

    // A live log of reports, filled by a collector of the generator's output.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let gens = load_generator(probe.clone(), 4, stop.clone());
    let log = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let watcher_probe = {
        let (log, probe, stop) = (log.clone(), probe.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = probe.probe(Duration::from_secs(2)).await;
                log.lock().await.push((Instant::now(), r));
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    first_report_of(&log, "v1", started, Duration::from_secs(2)).await;

    // In place, like `cp`: open, truncate, write, close.
    let t_copy = Instant::now();
    std::fs::copy(&v2, &file).unwrap();
    let seen = first_report_of(&log, "v2", t_copy, Duration::from_secs(1)).await;
    let in_place = seen - t_copy;

    // Temp file then rename, like editors and `install`.
    let tmp = dir.join(".ver.wasm.tmp");
    std::fs::copy(&v3, &tmp).unwrap();
    let t_rename = Instant::now();
    std::fs::rename(&tmp, &file).unwrap();
    let seen = first_report_of(&log, "v3", t_rename, Duration::from_secs(1)).await;
    let renamed = seen - t_rename;

    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    watcher_probe.await.unwrap();
    let mut all = Vec::new();
    for g in gens {
        all.extend(g.await.unwrap());
    }
    let elapsed = started.elapsed();
    let rate = all.len() as f64 / elapsed.as_secs_f64();
    eprintln!(
        "reload: in place {in_place:?}, rename {renamed:?}, {} checks at {rate:.0}/s",
        all.len()
    );
    assert!(
        in_place <= Duration::from_secs(1),
        "in place took {in_place:?}"
    );
    assert!(renamed <= Duration::from_secs(1), "rename took {renamed:?}");
    assert!(rate >= 200.0, "only {rate:.0} checks/s");
    // No check failed because of a swap.
    for (_, r) in &all {
        assert_healthy(r);
    }
    // Versions only move forward (v1 → v2 → v3), and v3 is what runs at the end.
    all.sort_by_key(|(t, _)| *t);
    let order: Vec<&str> = all.iter().map(|(_, r)| version(r)).collect();
    let first_v3 = order.iter().position(|v| *v == "v3").expect("v3 ran");
    assert!(
        order[first_v3..].iter().filter(|v| **v == "v1").count() == 0,
        "v1 ran after v3"
    );
    assert_eq!(order.last(), Some(&"v3"));
}

async fn next_event_for(
    rx: &mut broadcast::Receiver<RegistryEvent>,
    name: &str,
    within: Duration,
) -> RegistryEvent {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let ev = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no registry event for {name} within {within:?}"))
            .expect("registry events");
        let n = match &ev {
            RegistryEvent::Loaded { name, .. }
            | RegistryEvent::LoadFailed { name, .. }
            | RegistryEvent::Removed { name } => name,
        };
        if n == name {
            return ev;
        }
    }
}

async fn run_once(lab: &CheckLab, plugin: &str) -> Report {
    lab.run(plugin, "127.0.0.1:9", &[], Duration::from_secs(2))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_file_keeps_the_old_version_and_is_reported() {
    let lab = CheckLab::new();
    let dir = TempDir::new("plugins");
    let file = dir.join("ver.wasm");
    std::fs::copy(build_versioned_plugin("v1"), &file).unwrap();
    let _watcher = PluginWatcher::start(lab.registry.clone(), dir.path())
        .await
        .unwrap();
    let mut events = lab.registry.subscribe();
    assert_eq!(version(&run_once(&lab, "ver").await), "v1");
    let Lookup::Ready(v1) = lab.registry.get("ver") else {
        panic!("ver not loaded")
    };

    std::fs::write(&file, b"\0asm\x0d\0\x01\0 this is not a component").unwrap();
    match next_event_for(&mut events, "ver", Duration::from_secs(3)).await {
        RegistryEvent::LoadFailed { error, running, .. } => {
            assert!(matches!(error, LoadError::Invalid(_)), "{error:?}");
            assert_eq!(running, Some(v1.version()));
        }
        other => panic!("expected LoadFailed, got {other:?}"),
    }
    assert!(matches!(
        lab.registry.last_error("ver"),
        Some(LoadError::Invalid(_))
    ));
    let r = run_once(&lab, "ver").await;
    assert_healthy(&r);
    assert_eq!(version(&r), "v1", "the old version keeps running");

    // A good file clears the error.
    std::fs::copy(build_versioned_plugin("v2"), &file).unwrap();
    assert!(matches!(
        next_event_for(&mut events, "ver", Duration::from_secs(3)).await,
        RegistryEvent::Loaded { .. }
    ));
    assert_eq!(lab.registry.last_error("ver"), None);
    assert_eq!(version(&run_once(&lab, "ver").await), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_writer_is_never_loaded_half_written() {
    let lab = CheckLab::new();
    let dir = TempDir::new("plugins");
    let file = dir.join("ver.wasm");
    std::fs::copy(build_versioned_plugin("v1"), &file).unwrap();
    let _watcher = PluginWatcher::start(lab.registry.clone(), dir.path())
        .await
        .unwrap();
    let mut events = lab.registry.subscribe();
    let v2 = std::fs::read(build_versioned_plugin("v2")).unwrap();

    // Write in place in two halves with a pause between them, like a slow
    // `cp` over the network: the first half alone is not a valid component.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&file)
        .unwrap();
    f.write_all(&v2[..v2.len() / 2]).unwrap();
    f.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    f.write_all(&v2[v2.len() / 2..]).unwrap();
    drop(f);

    match next_event_for(&mut events, "ver", Duration::from_secs(3)).await {
        RegistryEvent::Loaded { .. } => {}
        other => panic!("the half-written file was acted on: {other:?}"),
    }
    assert_eq!(lab.registry.last_error("ver"), None);
    assert_eq!(version(&run_once(&lab, "ver").await), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_file_stops_its_checks() {
    let lab = CheckLab::new();
    let dir = TempDir::new("plugins");
    let file = dir.join("ver.wasm");
    std::fs::copy(build_versioned_plugin("v1"), &file).unwrap();
    let _watcher = PluginWatcher::start(lab.registry.clone(), dir.path())
        .await
        .unwrap();
    let mut events = lab.registry.subscribe();
    assert_healthy(&run_once(&lab, "ver").await);

    std::fs::remove_file(&file).unwrap();
    assert_eq!(
        next_event_for(&mut events, "ver", Duration::from_secs(3)).await,
        RegistryEvent::Removed { name: "ver".into() }
    );
    assert!(matches!(lab.registry.get("ver"), Lookup::Removed));
    assert_eq!(reason(&run_once(&lab, "ver").await), "plugin removed");

    // Putting it back resumes it.
    std::fs::copy(build_versioned_plugin("v2"), &file).unwrap();
    assert!(matches!(
        next_event_for(&mut events, "ver", Duration::from_secs(3)).await,
        RegistryEvent::Loaded { .. }
    ));
    assert_eq!(version(&run_once(&lab, "ver").await), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_plugin_shadows_a_stock_one_until_removed() {
    let lab = CheckLab::new();
    let stock = std::fs::read(build_versioned_plugin("v1")).unwrap();
    lab.registry.load_stock("ver", &stock).unwrap();
    let dir = TempDir::new("plugins");
    let file = dir.join("ver.wasm");
    std::fs::copy(build_versioned_plugin("v2"), &file).unwrap();
    let _watcher = PluginWatcher::start(lab.registry.clone(), dir.path())
        .await
        .unwrap();
    let mut events = lab.registry.subscribe();
    assert_eq!(version(&run_once(&lab, "ver").await), "v2");
    assert!(lab.registry.status()[0].shadows_stock);

    std::fs::remove_file(&file).unwrap();
    match next_event_for(&mut events, "ver", Duration::from_secs(3)).await {
        RegistryEvent::Loaded { origin, .. } => assert_eq!(origin, Origin::Stock),
        other => panic!("expected the stock version back, got {other:?}"),
    }
    assert_eq!(version(&run_once(&lab, "ver").await), "v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_checks_finish_on_the_version_they_started_with() {
    let lab = CheckLab::new();
    let dir = TempDir::new("plugins");
    let file = dir.join("ver.wasm");
    std::fs::copy(build_versioned_plugin("v1"), &file).unwrap();
    lab.registry.load_file(&file).unwrap();
    let Lookup::Ready(old) = lab.registry.get("ver") else {
        panic!("not loaded")
    };
    std::fs::copy(build_versioned_plugin("v2"), &file).unwrap();
    lab.registry.load_file(&file).unwrap();
    // The Arc taken before the swap still runs v1.
    let inv = belay::check::Invocation {
        labels: belay::check::Labels::new("t", "ver", "127.0.0.1:9"),
        host: "127.0.0.1".into(),
        port: 9,
        params: vec![],
        policy: Arc::new(belay::check::NetPolicy::deny_all()),
        tls: belay::check::tls::public_roots(),
        limits: Default::default(),
    };
    let r = lab
        .registry
        .runtime()
        .run(&old, &inv, Duration::from_secs(2))
        .await;
    assert_eq!(version(&r), "v1");
    assert_eq!(version(&run_once(&lab, "ver").await), "v2");
    assert!(matches!(r.health, Health::Healthy));
}
