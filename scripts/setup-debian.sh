#!/usr/bin/env bash
# Installs what building and testing vpp-ipfix needs on Debian 12, when it is missing:
# a C toolchain, make, valgrind, the three IPFIX decoders we did not write that the
# demo and the tests compare our packets with (tshark; nfdump's nfcapd and nfdump;
# libfixbuf's ipfixDump, package libfixbuf-tools), binutils' nm and readelf, and
# pkg-config (tests/install.rs builds a C program with an installed vpp-ipfix.pc).
# With --vpp, also what building FD.io VPP and running its tests needs
# (scripts/test-vpp.sh): cmake, ninja, VPP's libraries' headers, Debian's python3 with
# ply, venv, pip and headers, and clang-14 with libFuzzer for scripts/fuzz-cli.sh.
# Runs apt-get as root (or through sudo); does nothing when all is there.
set -euo pipefail

vpp=0
for arg in "$@"; do
  case $arg in
    --vpp) vpp=1 ;;
    *) echo "setup: unknown option $arg (usage: setup-debian.sh [--vpp])" >&2; exit 2 ;;
  esac
done

need=()
for tool in gcc:gcc make:make valgrind:valgrind tshark:tshark nfcapd:nfdump nfdump:nfdump \
  ipfixDump:libfixbuf-tools nm:binutils readelf:binutils pkg-config:pkg-config; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
# AddressSanitizer's runtime for gcc 12.
[ -e /usr/lib/x86_64-linux-gnu/libasan.so.8 ] || [ -n "$(ls /usr/lib/*/libasan.so.* 2>/dev/null)" ] \
  || need+=(libasan8)
# libfixbuf's headers and library, for the benchmark's libfixbuf row (make bench).
[ -e /usr/include/fixbuf/public.h ] || need+=(libfixbuf-dev)

# VPP's build and test dependencies (REAL-VPP.md step 2): packages, not commands, so
# asked of dpkg, all in one call.
if [ "$vpp" = 1 ]; then
  # patch: VPP's test Makefile patches scapy in its venv. clang-14 and its runtimes
  # (libclang-rt-14-dev, only recommended by clang): libFuzzer and the sanitizers for
  # the CLI fuzzer (scripts/fuzz-cli.sh).
  vpp_pkgs=(cmake ninja-build gcc libc6-dev make patch libssl-dev libnl-3-dev
    libnl-route-3-dev libmnl-dev libunwind-dev libpcap-dev uuid-dev python3-ply
    python3-venv python3-pip python3-dev pkg-config clang-14 libclang-rt-14-dev)
  # dpkg-query fails for a package it has never seen: that one is simply not listed.
  installed=$( (dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${vpp_pkgs[@]}" 2>/dev/null ||
    true) | awk '$2 == "installed" { print $1 }')
  for pkg in "${vpp_pkgs[@]}"; do
    grep -qx "$pkg" <<<"$installed" || need+=("$pkg")
  done
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=sudo
  else
    echo "setup: missing ${need[*]} and not root: install them, then run again" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive

# nfdump's package starts an nfcapd service on port 2055 when installed (its init
# script, or its systemd unit). We never use it (the demo and the tests start their
# own), and in a container without systemd the init script can fail and with it the
# install. A policy-rc.d that answers 101 ("action forbidden") makes invoke-rc.d and
# deb-systemd-invoke skip starting any service, as Docker images do; it is ours only
# when there was none, and goes away when we are done.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  trap '$sudo rm -f "$policy"' EXIT
  printf '#!/bin/sh\n# setup-debian.sh: no service starts while it installs\nexit 101\n' |
    $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
fi

$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
