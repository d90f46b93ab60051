#!/usr/bin/env bash
# IPVS benchmark: belay's reconciler vs `ipvsadm -R` programming the same
# table (default 1,000 services x 10 destinations) inside User-Mode Linux,
# plus re-applying the unchanged table (with and without io_uring). Results
# go to stdout; see BENCHMARKS.md. Env: SERVICES, DESTS, ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p belay --bench ipvs_table --no-run
# The JSON lists every artifact built (the belay binary too): pick the bench.
bin=$(cargo bench -p belay --bench ipvs_table --no-run --message-format=json 2>/dev/null \
  | grep '"kind":\["bench"\]' | grep '"name":"ipvs_table"' \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1)
[ -x "$bin" ] || { echo "bench-ipvs: could not build the benchmark" >&2; exit 1; }
work=$(mktemp -d /tmp/belay-bench-ipvs.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/guest.sh" <<GUEST
echo 1 > /proc/sys/kernel/printk
modprobe ip_vs; modprobe ip_vs_wrr
export BELAY_IN_UML=1 SERVICES=${SERVICES:-1000} DESTS=${DESTS:-10} ROUNDS=${ROUNDS:-3}
'$bin'
GUEST
WORK="$work" NO_APT=1 bash ../shared/tools/uml-run "$work/guest.sh" > "$work/out.txt" 2>&1 || true
if grep -q '^UML-RESULT: PASS' "$work/out.txt"; then
  grep -E '^(ipvs_table|round|RESULT)' "$work/out.txt"
else
  echo "bench-ipvs: the benchmark failed inside UML; console:" >&2
  tail -n 40 "$work/out.txt" >&2
  exit 1
fi
