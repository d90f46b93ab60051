#!/usr/bin/env bash
# Records vrrp-v3-ipv6.pcap: two Keepalived routers doing VRRPv3 over IPv6 on
# a bridge inside private network namespaces (2001:db8:99::/64), an election,
# a SIGTERM handover (priority 0) and the unsolicited NAs that follow.
# Run as root; everything it creates is removed on exit.
set -euo pipefail
out="$(cd "$(dirname "$0")" && pwd)/pcaps/vrrp-v3-ipv6.pcap"
tag="kv6$$"
dir="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for n in hub r1 r2; do ip netns del "$tag-$n" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$tag-hub"
ip -n "$tag-hub" link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0
ip -n "$tag-hub" link set br0 up
for i in 1 2; do
  ns="$tag-r$i"
  ip netns add "$ns"
  ip -n "$tag-hub" link add "p$i" type veth peer name eth0 netns "$ns"
  ip -n "$tag-hub" link set "p$i" master br0 up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 address "02:00:00:99:00:1$i"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "2001:db8:99::1$i/64" dev eth0 nodad
  prio=$([ "$i" = 1 ] && echo 150 || echo 100)
  cat > "$dir/r$i.conf" <<CONF
global_defs {
  router_id r$i
  vrrp_version 3
}
vrrp_instance V6 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority $prio
  advert_int 1
  virtual_ipaddress {
    2001:db8:99::50/64
  }
}
CONF
done
sleep 1 # link-local addresses

ip netns exec "$tag-hub" tcpdump -i br0 -U -s 0 -w "$dir/cap.pcap" \
  'ip6 proto 112 or (icmp6 and ip6[40] == 136)' 2>/dev/null &
pids+=($!)
sleep 1

start() {
  ip netns exec "$tag-r$1" keepalived -n -l -D --vrrp -f "$dir/r$1.conf" \
    -p "$dir/r$1.pid" -r "$dir/r$1.vrrp.pid" >"$dir/r$1.log" 2>&1 &
  pids+=($!)
  echo $!
}
k1=$(start 1)
sleep 5          # r1 becomes master
k2=$(start 2)
sleep 3          # r2 settles as backup
kill -TERM "$k1" # r1 sends priority 0; r2 takes over after skew time
sleep 4
kill -TERM "$k2"
sleep 1
kill -INT "${pids[0]}"
sleep 0.5
cp "$dir/cap.pcap" "$out"
chmod 644 "$out"
echo "wrote $out"
