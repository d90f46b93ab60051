#!/usr/bin/env bash
# Installs everything belay's build, tests, benchmarks and demo need on a fresh
# Debian machine of this kind (run as root). Safe to run again: it only installs
# what is missing.
set -euo pipefail

pkgs=(
  keepalived            # the reference VRRP peer for interop tests and benchmarks
  mariadb-server mariadb-client   # real primary/replica for the MySQL check
  user-mode-linux kmod ipvsadm    # a real kernel with IPVS (this kernel has none)
  iproute2 nftables tcpdump tshark iputils-ping arping procps
  openssl               # test certificates and a TLS server for HTTPS checks
  curl                  # Keepalived's vrrp_script probe in the service-death interop test and bench
  clang lld wasi-libc   # C guest plugins
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
# Bounded fuzzing of the VRRP core in test.sh (scripts/fuzz.sh).
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
echo "setup: ok"
