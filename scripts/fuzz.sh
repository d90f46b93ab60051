#!/usr/bin/env bash
# Bounded fuzzing of the VRRP core: each target for SECONDS (default 60).
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
# Targets: decode (wire codec on arbitrary bytes), instance (state machine
# under arbitrary event scripts). Only stable Rust exists here, so
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass libFuzzer's flags; no sanitizer
# (the core is safe Rust), but debug assertions (overflow checks) are on.
# A crash leaves its input in fuzz/artifacts/TARGET/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decode instance)
command -v cargo-fuzz >/dev/null || { echo "fuzz.sh: cargo-fuzz missing (run scripts/setup.sh)"; exit 1; }

export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
  RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir fuzz -s none -a "$t"
done
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz $t for ${secs}s"
  log="$(mktemp)"
  status=0
  cargo fuzz run --fuzz-dir fuzz -s none -a "$t" "$corpus" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|INFO: seed corpus)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    rm -f "$log"
    echo "fuzz.sh: $t failed (exit $status); the input is in fuzz/artifacts/$t/"
    exit "$status"
  fi
  rm -f "$log"
done
echo "fuzz.sh: all targets ran ${secs}s without a failure"
