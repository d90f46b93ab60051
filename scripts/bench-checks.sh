#!/usr/bin/env bash
# Check-engine benchmarks, release build, each mode in a fresh process:
# - throughput and CPU of 1,000 and 10,000 WASM tcp checks against loopback
#   listeners vs a native tokio TcpStream::connect loop in the same run;
# - RSS with 10,000 configured checks running every second;
# - hot reload: file replaced -> first report from the new version;
# - compile time of each stock plugin (a reload's cache miss).
# BENCH_WORKERS (default 1) sets tokio worker threads; see host/benches/checks.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p belay --bench checks --no-run
bench() { cargo bench -q -p belay --bench checks -- "$@"; }
bench throughput 1000
bench throughput 10000
bench rss 10000
bench reload 40
bench compile 9
