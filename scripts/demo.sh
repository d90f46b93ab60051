#!/usr/bin/env bash
# The README's main command, on a fresh machine, as root: installs what belay
# needs (scripts/setup.sh), builds once (release), then runs on built-in
# defaults, with no files to edit:
#   1. scripts/demo-checks.sh - the stock WebAssembly health checks against a
#      demo target on loopback;
#   2. scripts/demo-vrrp.sh  - two belay routers and a client in network
#      namespaces: election, a health-driven failover (the master's web
#      service dies, its check fails, the VIP moves, the log and `belay status`
#      say why), preemption back, and a kill -9 of the master, each with the
#      outage the client measured. Everything created is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "demo: run as root (it installs packages and creates network namespaces)" >&2
  exit 1
fi
bash scripts/setup.sh
echo "== build (release)"
cargo build --release -p belay -p belay-tests --bins
export DEMO_SKIP_BUILD=1 DEMO_BIN_DIR="$PWD/target/release"

printf '\n\033[1m######## part 1: health checks as WebAssembly components\033[0m\n'
bash scripts/demo-checks.sh
printf '\n\033[1m######## part 2: VRRP failover, driven by a health check and by a crash\033[0m\n'
bash scripts/demo-vrrp.sh
