#!/usr/bin/env bash
# CPU of the VRRP driver at 10 ms VRRPv3 adverts, belay against Keepalived in
# the same run: two routers (master 200, backup 100) in network namespaces on
# a bridge, each daemon measured from /proc (utime+stime of every process in
# its namespace) over DUR seconds, ROUNDS times alternating belay/Keepalived.
# Prints per-round figures, then medians and belay ÷ Keepalived.
#
#   bash scripts/bench-vrrp-cpu.sh                 # builds target/release/belay
#   BIN=path/to/belay DUR=30 ROUNDS=3 bash scripts/bench-vrrp-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-20}
ROUNDS=${ROUNDS:-3}
if [ -z "${BIN:-}" ]; then
  cargo build --release -p belay --bin belay >&2
  BIN=$PWD/target/release/belay
fi
command -v keepalived >/dev/null || { echo "keepalived missing: bash scripts/setup.sh" >&2; exit 1; }

P=$$
W=$(mktemp -d /tmp/belay-bench-cpu.XXXXXX)
hub=bl-$P-0-hub; a=bl-$P-1-a; b=bl-$P-2-b
stop_ns() { for n in "$@"; do for pid in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done; done
  for _ in $(seq 50); do [ -z "$(for n in "$@"; do ip netns pids "$n" 2>/dev/null; done)" ] && return; sleep 0.1; done
  for n in "$@"; do for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done; done; }
cleanup() { stop_ns $a $b; for n in $a $b $hub; do ip netns del $n 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT

ip netns add $hub
ip -n $hub link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n $hub link set br0 up
i=1
for n in $a $b; do
  ip netns add $n; ip -n $n link set lo up
  ip -n $hub link add p$i type veth peer name eth0 netns $n
  ip -n $hub link set p$i master br0; ip -n $hub link set p$i up
  ip -n $n link set eth0 up; ip -n $n addr add 192.0.2.$i/24 dev eth0
  i=$((i+1))
done

ticks() { local s=0 t; for pid in $(ip netns pids "$1"); do
  t=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0); s=$((s+t)); done; echo $s; }
hz=$(getconf CLK_TCK)
# Percent of one core used by each namespace's daemon over DUR seconds.
measure() { local a0 b0 a1 b1; a0=$(ticks $a); b0=$(ticks $b); sleep "$DUR"; a1=$(ticks $a); b1=$(ticks $b)
  awk -v x=$((a1-a0)) -v y=$((b1-b0)) -v d="$DUR" -v hz="$hz" 'BEGIN{printf "%.3f %.3f\n", 100*x/hz/d, 100*y/hz/d}'; }
state_of() { ip -n "$1" -br addr show dev eth0 | grep -q 192.0.2.100 && echo master || echo backup; }

run_belay() {
  for n in a b; do
    local prio=200 ns=$a; [ $n = b ] && { prio=100; ns=$b; }
    cat > "$W/$n.toml" <<EOT
[global]
router_id = "$n"
status_socket = "$W/$n.sock"
[vrrp_instance.VI_1]
interface = "eth0"
vrid = 51
priority = $prio
advert_interval = "10ms"
virtual_ipaddress = ["192.0.2.100/24"]
EOT
    ip netns exec $ns "$BIN" run -c "$W/$n.toml" >"$W/$n.log" 2>&1 &
  done
  sleep 2; [ "$(state_of $a)" = master ] || { echo "belay: no master" >&2; exit 1; }
  measure; stop_ns $a $b
}
run_keepalived() {
  for n in a b; do
    local prio=200 ns=$a; [ $n = b ] && { prio=100; ns=$b; }
    cat > "$W/k$n.conf" <<EOT
global_defs {
  router_id k$n
  vrrp_version 3
}
vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority $prio
  advert_int 0.01
  virtual_ipaddress {
    192.0.2.100/24
  }
}
EOT
    ip netns exec $ns keepalived -n -l -D -P -f "$W/k$n.conf" -p "$W/k$n.pid" -r "$W/k$n.vpid" >"$W/k$n.log" 2>&1 &
  done
  sleep 2; [ "$(state_of $a)" = master ] || { echo "keepalived: no master" >&2; exit 1; }
  measure; stop_ns $a $b
}

echo "round daemon master%core backup%core (10 ms adverts, ${DUR}s each)"
: > "$W/belay"; : > "$W/keepalived"
for r in $(seq "$ROUNDS"); do
  x=$(run_belay); echo "$x" >> "$W/belay"; echo "$r belay $x"
  x=$(run_keepalived); echo "$x" >> "$W/keepalived"; echo "$r keepalived $x"
done
median() { sort -n | awk '{v[NR]=$1} END{print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
bm=$(cut -d' ' -f1 "$W/belay" | median); bb=$(cut -d' ' -f2 "$W/belay" | median)
km=$(cut -d' ' -f1 "$W/keepalived" | median); kb=$(cut -d' ' -f2 "$W/keepalived" | median)
awk -v bm="$bm" -v bb="$bb" -v km="$km" -v kb="$kb" 'BEGIN{
  printf "median master: belay %.3f%%  keepalived %.3f%%  ratio %.2f\n", bm, km, (km>0)?bm/km:0
  printf "median backup: belay %.3f%%  keepalived %.3f%%  ratio %.2f\n", bb, kb, (kb>0)?bb/kb:0 }'
