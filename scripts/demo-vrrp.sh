#!/usr/bin/env bash
# VRRP demo: two belay routers and a client on a bridge, all in private
# network namespaces. Each router runs a small web service (`belay
# demo-target`) that its belay checks with the stock `http` plugin every
# 100 ms. The demo shows the election; stops the master's web service, so its
# check fails and the master resigns (priority-0 advert) and the VIP moves,
# with the reason in the log and in `belay status`; restores the service, so
# the master preempts back; then kills the master with SIGKILL and shows the
# backup taking over. Every step prints the outage the client measured (UDP
# probe every 1 ms). Cleans up everything it created, also on Ctrl-C. Needs
# root.
set -euo pipefail
cd "$(dirname "$0")/.."

ADVERT="${DEMO_ADVERT:-100ms}"   # VRRPv3 advert interval
VIP=192.0.2.100
PORT=40000

if [ "$(id -u)" != 0 ]; then
  echo "demo-vrrp: needs root (it creates network namespaces)" >&2
  exit 1
fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -z "${DEMO_SKIP_BUILD:-}" ]; then
  say "set-up and release build"
  bash scripts/setup.sh
  cargo build --release -q -p belay -p belay-tests --bins
fi
BIN_DIR="${DEMO_BIN_DIR:-$PWD/target/release}"
BELAY="$BIN_DIR/belay"
PROBE="$BIN_DIR/belay-probe"

# Unique names so concurrent runs never collide; all state under one temp dir.
tag="bd$$"
HUB="$tag-hub"; R1="$tag-r1"; R2="$tag-r2"; CL="$tag-client"
WORK="$(mktemp -d /tmp/belay-demo.XXXXXX)"
declare -A PIDS=()

cleanup() {
  trap - EXIT INT TERM
  for name in "${!PIDS[@]}"; do
    kill -KILL "${PIDS[$name]}" 2>/dev/null || true
  done
  for ns in "$CL" "$R2" "$R1" "$HUB"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo; echo "demo-vrrp: interrupted, cleaning up"; exit 130' INT TERM

# Polls a condition every 20 ms, for at most $1 seconds.
wait_for() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "demo-vrrp: timed out waiting for: $*" >&2
      return 1
    fi
    sleep 0.02
  done
}
holds_vip() { ip -n "$1" -br addr show dev eth0 | grep -qw "$VIP"; }
lacks_vip() { ! holds_vip "$1"; }
log_has() { grep -q "$2" "$1" 2>/dev/null; }
# The client's watch log from line $1 on.
watch_since() { tail -n +"$1" "$WORK/watch.log"; }
watch_has_since() { watch_since "$1" | grep -q "$2"; }
watch_mark() { echo $(($(wc -l <"$WORK/watch.log") + 1)); }

say "lab: bridge + r1, r2, client in namespaces ($tag-*)"
ip netns add "$HUB"
ip -n "$HUB" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n "$HUB" link set br0 up
i=0
for ns in "$R1" "$R2" "$CL"; do
  i=$((i + 1))
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$HUB" link add "p$i" type veth peer name eth0 netns "$ns"
  ip -n "$HUB" link set "p$i" master br0 up
  ip -n "$ns" link set eth0 address "02:00:00:00:00:0$i" up
done
ip -n "$R1" addr add 192.0.2.1/24 dev eth0
ip -n "$R2" addr add 192.0.2.2/24 dev eth0
ip -n "$CL" addr add 192.0.2.10/24 dev eth0
echo "r1 192.0.2.1   r2 192.0.2.2   client 192.0.2.10   VIP $VIP (VRRPv3, advert $ADVERT)"

config() { # name priority resign_below
  cat > "$WORK/$1.toml" <<EOF
[global]
router_id = "$1"
status_socket = "$WORK/$1.sock"
cache_dir = "$WORK/cache-$1"

# This router's own web service, checked every 100 ms with the stock plugin.
[check.web]
plugin = "http"
target = "127.0.0.1:$WEB_PORT"
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 2
params = { path = "/health" }

[vrrp_instance.demo]
interface = "eth0"
vrid = 51
priority = $2
version = 3
advert_interval = "$ADVERT"
virtual_ipaddress = ["$VIP/24"]
# While the web check fails, priority drops by 150; a master that drops below
# resign_below (the peer's priority) hands over at once with a priority-0
# advert instead of making the peer wait 3 adverts + skew.
track = [{ check = "web", weight = -150 }]
resign_below = $3
EOF
}
WEB_PORT=8080
config r1 200 100
config r2 100 '"auto"'

start_belay() { # name ns
  ip netns exec "$2" "$BELAY" run -c "$WORK/$1.toml" >>"$WORK/$1.log" 2>&1 &
  PIDS[belay-$1]=$!
  disown $!
}
start_responder() { # name ns
  ip netns exec "$2" "$PROBE" respond --port "$PORT" --id "$1" >"$WORK/resp-$1.log" 2>&1 &
  PIDS[resp-$1]=$!
  disown $!
  wait_for 5 log_has "$WORK/resp-$1.log" ready
}
start_web() { # name ns
  : >"$WORK/web-$1.log"
  ip netns exec "$2" "$BELAY" demo-target --http-port "$WEB_PORT" >"$WORK/web-$1.log" 2>&1 &
  PIDS[web-$1]=$!
  disown $!
  wait_for 5 log_has "$WORK/web-$1.log" '"http"'
}
status_of() { # name
  "$BELAY" status -s "$WORK/$1.sock" 2>&1 | sed "s/^/  $1 status: /"
}

start_responder r1 "$R1"
start_responder r2 "$R2"
start_web r1 "$R1"
start_web r2 "$R2"

say "election: r1 (priority 200) and r2 (priority 100) start as backups"
start_belay r2 "$R2"
start_belay r1 "$R1"
t0=$(date +%s%N)
wait_for 15 holds_vip "$R1"
echo "r1 won the election after $((($(date +%s%N) - t0) / 1000000)) ms and holds the VIP:"
ip -n "$R1" -br addr show dev eth0 | sed 's/^/  r1: /'
ip -n "$R2" -br addr show dev eth0 | sed 's/^/  r2: /'

say "client probes $VIP:$PORT every 1 ms"
ip netns exec "$CL" "$PROBE" watch --target "$VIP:$PORT" >"$WORK/watch.log" 2>&1 &
PIDS[watch]=$!
disown $!
tail -n +1 -f "$WORK/watch.log" --pid "${PIDS[watch]}" 2>/dev/null | sed -u 's/^/  client /' &
PIDS[tail]=$!
disown $!
wait_for 5 log_has "$WORK/watch.log" "answered by r1"
sleep 1   # let the audience see a steady state

say "r1's web service stops: its check fails, r1 resigns, the VIP moves"
mark=$(watch_mark)
kill -TERM "${PIDS[web-r1]}"
wait_for 15 watch_has_since "$mark" "r2"
wait_for 5 lacks_vip "$R1"
sleep 0.3
ip -n "$R1" -br addr show dev eth0 | sed 's/^/  r1: /'
ip -n "$R2" -br addr show dev eth0 | sed 's/^/  r2: /'
echo "r1's log says why:"
grep -E "priority changed|handing over" "$WORK/r1.log" | tail -n 2 | cut -d" " -f2- | cut -c1-200 | sed 's/^/  r1 log: /'
status_of r1
outage=$(watch_since "$mark" | grep -o 'outage: [0-9.]* ms' | head -1 | grep -o '[0-9.]*' || true)
echo "outage seen by the client: ${outage:-0} ms: r2's skew time after r1's priority-0 advert"
echo "(r1 served until it resigned). Without resignation r2 would wait 3 adverts + skew."

say "r1's web service is back: after rise = 2 good checks r1 preempts r2"
mark=$(watch_mark)
start_web r1 "$R1"
wait_for 15 watch_has_since "$mark" "r1"
wait_for 5 lacks_vip "$R2"
sleep 0.3
ip -n "$R1" -br addr show dev eth0 | sed 's/^/  r1: /'
ip -n "$R2" -br addr show dev eth0 | sed 's/^/  r2: /'

say "kill -9 the master (r1's belay): a crash, nothing released"
mark=$(watch_mark)
kill -KILL "${PIDS[belay-r1]}"
kill -KILL "${PIDS[resp-r1]}"     # the crashed host's service dies with it
wait_for 15 watch_has_since "$mark" "now answered by r2"
sleep 0.3
ip -n "$R2" -br addr show dev eth0 | sed 's/^/  r2: /'
outage=$(watch_since "$mark" | grep -o 'outage: [0-9.]* ms' | head -1 | grep -o '[0-9.]*')
echo "outage seen by the client: $outage ms. After a crash the backup must wait 3 adverts + skew"
echo "($ADVERT adverts) from the master's last advert; a health-driven failover does not (resignation)."

say "done: cleaning up namespaces and processes"
