#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, lint, build once, every test
# (root tests included: they fail instead of skipping here).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "$(id -u)" = 0 ]; then export BELAY_REQUIRE_ROOT=1; fi
export CARGO_TERM_COLOR=never

echo "== fmt";    cargo fmt --all -- --check
echo "== clippy"; cargo clippy --workspace --all-targets -- -D warnings
echo "== build";  cargo build --workspace --all-targets
echo "== test";   cargo nextest run --workspace --no-fail-fast
echo "== doc tests"; cargo test --workspace --doc
echo "== fuzz (VRRP decoder and state machine, bounded)"
bash scripts/fuzz.sh "${BELAY_FUZZ_SECONDS:-60}"
echo "test.sh: all passed"
