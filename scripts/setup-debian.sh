#!/usr/bin/env bash
# Installs what building and testing vpp-ipfix needs on Debian 12, when it is missing:
# a C toolchain, make, valgrind, tshark (the independent IPFIX decoder of the tests),
# binutils' nm and readelf, and pkg-config (tests/install.rs builds a C program with an
# installed vpp-ipfix.pc). Runs apt-get as root (or through sudo); does nothing when all
# is there.
set -euo pipefail

need=()
for tool in gcc:gcc make:make valgrind:valgrind tshark:tshark nm:binutils readelf:binutils \
  pkg-config:pkg-config; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
# AddressSanitizer's runtime for gcc 12.
[ -e /usr/lib/x86_64-linux-gnu/libasan.so.8 ] || [ -n "$(ls /usr/lib/*/libasan.so.* 2>/dev/null)" ] \
  || need+=(libasan8)

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
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
