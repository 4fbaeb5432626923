#!/usr/bin/env bash
# Installs what building and testing vpp-ipfix needs on Debian 12, when it is missing:
# a C toolchain, make, valgrind, the three IPFIX decoders we did not write that the
# demo and the tests compare our packets with (tshark; nfdump's nfcapd and nfdump;
# libfixbuf's ipfixDump, package libfixbuf-tools), binutils' nm and readelf, and
# pkg-config (tests/install.rs builds a C program with an installed vpp-ipfix.pc).
# Runs apt-get as root (or through sudo); does nothing when all is there.
set -euo pipefail

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
