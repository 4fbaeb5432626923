#!/usr/bin/env bash
# fuzz-cli.sh: fuzzes the shim's CLI parsing ("set ipfix exporter ...", "set ipfix
# idle-flush ...": vpp-shim/flow_report_cli_parse.c) with clang's libFuzzer, on VPP's own
# unformat, unformat_ip_address and unformat_udp_port from a built VPP (fuzz/cli/).
#
#   fuzz-cli.sh              build, replay fuzz/cli/corpus/, then a short run of
#                            FUZZ_CLI_RUNS executions (200000; at most FUZZ_CLI_SECONDS,
#                            60): what scripts/test-vpp.sh runs after building VPP
#   fuzz-cli.sh --long [S]   build, then fuzz for S seconds (default 1800) from the
#                            corpus and what earlier long runs found (fuzz/target/cli/long/)
#
# The VPP tree is VPP_SRC, else $VPP_WORK/vpp (VPP_WORK defaults to <repo>/target/vpp),
# built by scripts/test-vpp.sh (build-root/build-vpp_debug-native, installed in
# install-vpp_debug-native). Without that build it says so and exits 0. The core's
# library is VPP_IPFIX_LIB (default <target>/release/libvpp_ipfix.a, built when missing).
# Needs clang with libFuzzer (Debian 12: clang-14 and libclang-rt-14-dev, which
# `scripts/setup-debian.sh --vpp` installs). Exits non-zero when the build fails or any
# input crashes or breaks the harness's checks; the input is then in
# fuzz/target/cli/artifacts/ (replay it: fuzz/target/cli/fuzz_cli <file>).
set -euo pipefail

me=fuzz-cli
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=short
long_seconds=1800
case ${1:-} in
  "") ;;
  --long) mode=long; long_seconds=${2:-1800} ;;
  *) echo "usage: $me.sh [--long [SECONDS]]" >&2; exit 2 ;;
esac
runs=${FUZZ_CLI_RUNS:-200000}
seconds=${FUZZ_CLI_SECONDS:-60}

VPP_WORK=${VPP_WORK:-$repo/target/vpp}
WS=${VPP_SRC:-$VPP_WORK/vpp}
B=$WS/build-root/build-vpp_debug-native/vpp
I=$WS/build-root/install-vpp_debug-native/vpp
libdir=$(dirname "$(find "$I" -name libvnet.so -print -quit 2>/dev/null || true)")
if [ ! -f "$WS/src/vppinfra/unformat.c" ] || [ ! -d "$B/CMakeFiles" ] ||
   [ ! -f "$libdir/libvnet.so" ]; then
  say "no VPP build at $WS (scripts/test-vpp.sh makes one): skipping the CLI fuzzer"
  exit 0
fi

cc=${FUZZ_CLI_CC:-}
if [ -z "$cc" ]; then
  for c in clang-14 clang; do
    if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
  done
fi
[ -n "$cc" ] || die "no clang (Debian 12: apt-get install clang-14 libclang-rt-14-dev)"

target_dir=${CARGO_TARGET_DIR:-$repo/target}
lib=${VPP_IPFIX_LIB:-$target_dir/release/libvpp_ipfix.a}
if [ ! -f "$lib" ] && [ -z "${VPP_IPFIX_LIB:-}" ]; then
  say "no $lib: building it (cargo build --release)"
  (cd "$repo" && cargo build --release)
fi
[ -f "$lib" ] || die "no static library at $lib"

out=$repo/fuzz/target/cli
cli=$repo/fuzz/cli
mkdir -p "$out"

# --- build --------------------------------------------------------------------------
# The shim's headers as VPP includes them, ahead of the tree's own copies (which are
# VPP's, or an older install of ours).
overlay=$out/include
rm -rf "$overlay"
mkdir -p "$overlay/vnet/ipfix-export/vpp-ipfix"
ln -s "$repo/vpp-shim/flow_report.h" "$overlay/vnet/ipfix-export/flow_report.h"
ln -s "$repo/include/vpp_ipfix.h" "$overlay/vnet/ipfix-export/vpp-ipfix/vpp_ipfix.h"

# The parser and the harness, and VPP's unformat.c and ip6_format.c compiled again so
# the fuzzer sees their branches and comparisons (they take the place of the libraries'
# copies); the rest of VPP comes from its libraries. VPP's defines and -march, so the
# headers match what the libraries were built with.
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
  -include "$cli/vpp_no_poison.h" -DCLIB_DEBUG -DHAVE_FCNTL64 -march=x86-64-v2
  -I"$overlay" -I"$repo/vpp-shim" -I"$WS/src" -I"$B/CMakeFiles" -I"$B/CMakeFiles/vnet")
warn=(-Wall -Werror -Wno-address-of-packed-member)
say "building $out/fuzz_cli with $cc against $WS"
"$cc" "${flags[@]}" "${warn[@]}" -c "$repo/vpp-shim/flow_report_cli_parse.c" \
  -o "$out/flow_report_cli_parse.o"
"$cc" "${flags[@]}" "${warn[@]}" -c "$cli/fuzz_cli.c" -o "$out/fuzz_cli.o"
"$cc" "${flags[@]}" -w -c "$WS/src/vppinfra/unformat.c" -o "$out/unformat.o"
"$cc" "${flags[@]}" -w -c "$WS/src/vnet/ip/ip6_format.c" -o "$out/ip6_format.o"
"$cc" -fsanitize=fuzzer,address,undefined -o "$out/fuzz_cli" \
  "$out/fuzz_cli.o" "$out/flow_report_cli_parse.o" "$out/unformat.o" "$out/ip6_format.o" \
  "$lib" -L"$libdir" -Wl,-rpath,"$libdir" -lvnet -lvlib -lvppinfra \
  -lgcc_s -lutil -lrt -lpthread -lm -ldl

# Options of every run: the dictionary, short inputs (a CLI line), a slow input
# (VPP's float parser loops over a huge exponent) is not a hang.
lf_opts=(-dict="$cli/cli.dict" -max_len=1024 -timeout=10 -print_final_stats=1
  -artifact_prefix="$out/artifacts/")
rm -rf "$out/artifacts"
mkdir -p "$out/artifacts"

# Prints the findings and their messages; non-zero when there are any.
report_findings() {
  local log=$1 n
  n=$(find "$out/artifacts" -type f | wc -l)
  [ "$n" -eq 0 ] && return 0
  echo "$me: $n finding(s) in $out/artifacts:" >&2
  grep -E '^fuzz_cli: |SUMMARY|ERROR' "$log" | head -20 >&2 || true
  return 1
}

lf_stat() { awk -v k="stat::$1:" '$1 == k { print $2 }' "$2" | tail -1; }

# --- the corpus ---------------------------------------------------------------------
n_corpus=$(find "$cli/corpus" -type f | wc -l)
say "replaying fuzz/cli/corpus/ ($n_corpus inputs)"
if ! "$out/fuzz_cli" "${lf_opts[@]}" -runs=0 "$cli/corpus" >"$out/replay.log" 2>&1; then
  report_findings "$out/replay.log" || true
  tail -20 "$out/replay.log" >&2
  die "an input of fuzz/cli/corpus/ fails (log: $out/replay.log)"
fi

# --- fuzzing ------------------------------------------------------------------------
# Into a work corpus, so the checked-in one stays as it is.
if [ "$mode" = short ]; then
  work=$out/short
  rm -rf "$work"
  mkdir -p "$work"
  run_opts=(-runs="$runs" -max_total_time="$seconds")
  what="$runs executions (at most $seconds s)"
else
  work=$out/long
  mkdir -p "$work"
  run_opts=(-max_total_time="$long_seconds")
  what="$long_seconds s"
fi
cp "$cli/corpus"/* "$work"/
log=$out/$mode.log
say "fuzzing for $what; log: $log"
start=$SECONDS
rc=0
"$out/fuzz_cli" "${lf_opts[@]}" "${run_opts[@]}" "$work" >"$log" 2>&1 || rc=$?
execs=$(lf_stat number_of_executed_units "$log")
say "$mode run: ${execs:-?} executions in $((SECONDS - start)) s," \
  "$(lf_stat average_exec_per_sec "$log") exec/s, corpus $(find "$work" -type f | wc -l)," \
  "coverage $(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2) edges," \
  "findings $(find "$out/artifacts" -type f | wc -l)"
if ! report_findings "$log" || [ "$rc" -ne 0 ]; then
  [ "$rc" -eq 0 ] || tail -20 "$log" >&2
  die "the CLI fuzzer found a failing input (log: $log)"
fi
