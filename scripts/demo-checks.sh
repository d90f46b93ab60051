#!/usr/bin/env bash
# Health checks on loopback (part of the README's main command, scripts/demo.sh):
# belay's stock WebAssembly checks against a built-in demo target.
#
# It starts `belay demo-target` (TCP + HTTP on 127.0.0.1, ephemeral ports),
# runs example checks with the stock WebAssembly plugins (`belay check`),
# prints every report, then stops the target and shows the checks failing.
# Each check's outcome is compared with what it should be; the demo exits
# non-zero if any differs. Everything it starts is stopped by PID on exit,
# including Ctrl-C; compiled plugins are cached in target/demo-cache.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DEMO_SKIP_BUILD:-}" ]; then
  bash scripts/setup.sh
  echo "== build (release)"
  cargo build --release -p belay
fi
belay="${DEMO_BIN_DIR:-$PWD/target/release}/belay"
export BELAY_CACHE_DIR="$PWD/target/demo-cache"
export RUST_LOG="${RUST_LOG:-warn}"

work="$(mktemp -d /tmp/belay-demo.XXXXXX)"
target_pid=""
cleanup() {
  if [ -n "$target_pid" ] && kill -0 "$target_pid" 2>/dev/null; then
    kill "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "demo: interrupted"; exit 130' INT TERM

start_target() {
  "$belay" demo-target >"$work/ports" &
  target_pid=$!
  for _ in $(seq 1 100); do
    [ -s "$work/ports" ] && return 0
    kill -0 "$target_pid" 2>/dev/null || { echo "demo: the demo target exited"; exit 1; }
    sleep 0.05
  done
  echo "demo: the demo target did not report its ports"; exit 1
}

port() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$work/ports"; }

failures=0
# run_check EXPECTED-EXIT TITLE belay-check-args...
run_check() {
  local expect="$1" title="$2"; shift 2
  echo
  echo "-- $title"
  echo "   belay check $*"
  local code=0
  "$belay" check "$@" || code=$?
  local verdict="healthy"
  [ "$code" = 1 ] && verdict="unhealthy"
  [ "$code" = 2 ] && verdict="error"
  if [ "$code" = "$expect" ]; then
    echo "   => $verdict (as expected)"
  else
    echo "   => $verdict, but expected exit $expect"
    failures=$((failures + 1))
  fi
}

echo "== start the demo target"
start_target
tcp="$(port tcp)"; http="$(port http)"; closed="$(port closed)"
echo "demo target: tcp 127.0.0.1:$tcp, http 127.0.0.1:$http (pid $target_pid)"

echo
echo "== checks against the running target"
run_check 0 "tcp: connect" \
  --plugin tcp --target "127.0.0.1:$tcp"
run_check 0 "tcp: connect and expect the banner" \
  --plugin tcp --target "127.0.0.1:$tcp" --param 'expect=belay-demo ready'
run_check 0 "http: GET /health, status 2xx, body contains ok" \
  --plugin http --target "127.0.0.1:$http" --param path=/health --param body_contains=ok
run_check 1 "http: GET /fail answers 503 (expected 200-299)" \
  --plugin http --target "127.0.0.1:$http" --param path=/fail
run_check 1 "http: body digest mismatch" \
  --plugin http --target "127.0.0.1:$http" --param path=/health \
  --param digest=0000000000000000000000000000000000000000000000000000000000000000
run_check 1 "tcp: a port where nothing listens (refused)" \
  --plugin tcp --target "127.0.0.1:$closed"

echo
echo "== stop the demo target; the same checks now fail"
kill "$target_pid"; wait "$target_pid" 2>/dev/null || true; target_pid=""
run_check 1 "tcp: connect (target stopped)" \
  --plugin tcp --target "127.0.0.1:$tcp"
run_check 1 "http: GET /health (target stopped)" \
  --plugin http --target "127.0.0.1:$http" --param path=/health --timeout 1s

echo
if [ "$failures" = 0 ]; then
  echo "demo: ok (every check reported what it should)"
else
  echo "demo: $failures check(s) did not report what they should"
  exit 1
fi
