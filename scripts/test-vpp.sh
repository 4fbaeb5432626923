#!/usr/bin/env bash
# test-vpp.sh: builds a real FD.io VPP with vpp-ipfix in place of its ipfix-export
# (vpp-shim/install-into-vpp.sh) and runs VPP's own IPFIX tests against it: flowprobe,
# ipfix-export, and the NAT plugins' IPFIX logging. Steps and paths follow
# /work/shared/design/REAL-VPP.md (VPP's test Makefile derives them from TAG=vpp_debug).
# Between the build and the tests, a short run of the CLI fuzzer (scripts/fuzz-cli.sh).
#
# Environment (make test-vpp passes its variables of the same names):
#   VPP_SRC           a VPP source tree to use as is (not unpacked, not deleted)
#   VPP_SNAPSHOT_DIR  where vpp-*.tar.gz and SHA256SUMS are (default <repo>/../shared/vpp),
#                     unpacked once to $VPP_WORK/vpp when VPP_SRC is unset
#   VPP_WORK          work directory (default <repo>/target/vpp): tree, build, venv, logs
#   VPP_IPFIX_BASELINE=1  build and test VPP's own ipfix-export (no install step; an
#                     installed vpp-ipfix is uninstalled first): the upstream baseline
#   VPP_TEST_NO_SKIP=1    run the known upstream failures too (to re-check them)
#   VPP_TESTS_ONLY    a VPP test filter (e.g. test_flowprobe.Flowprobe) to run instead
#                     of the groups below
#   VPP_IPFIX_LIB     the static library to install (default <target>/release/libvpp_ipfix.a)
#   VPP_SANITIZE=address  an AddressSanitizer VPP (-DVPP_ENABLE_SANITIZE_ADDR=ON), built
#                     in build-vpp_debug-native-asan (installed in install-vpp_debug-
#                     native-asan) beside the normal build, which it leaves alone; VPP's
#                     tests tagged FIXME_ASAN are skipped. `make test-vpp-asan`, part
#                     of `make test`
#
# With neither VPP_SRC nor a snapshot, or (outside the baseline) without the shim
# sources in vpp-shim/, it says why and exits 0: `make test` must pass on a machine that
# cannot build VPP. Otherwise it exits non-zero when the build fails or any test that is
# not a known upstream failure fails.
set -euo pipefail
# The body is one block, so bash has read all of it before running any: an edit of this
# file during a run (they take minutes) cannot change what the run executes.
{
me=test-vpp
say() { echo "$me: $*"; }
die() { echo "$me: error: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VPP_WORK=${VPP_WORK:-$repo/target/vpp}
VPP_SNAPSHOT_DIR=${VPP_SNAPSHOT_DIR:-$repo/../shared/vpp}
baseline=${VPP_IPFIX_BASELINE:-0}
[ "$baseline" = 1 ] || baseline=0
target_dir=${CARGO_TARGET_DIR:-$repo/target}
lib=${VPP_IPFIX_LIB:-$target_dir/release/libvpp_ipfix.a}
sanitize=${VPP_SANITIZE:-}
case $sanitize in
  "") variant= ;;
  address) variant=-asan ;;
  *) die "VPP_SANITIZE=$sanitize: only 'address' is supported" ;;
esac

# The plugins the tests need. VPP's plugin filter stops reading the nat directory at
# the first plugin not listed, so those before det44 and nat64 are listed too; unittest
# understands the `api-fuzz` stanza the test framework gives VPP.
plugins=flowprobe,unittest,nat,nat44_ei,dslite,nat66,det44,nat64

# The test groups, each with the tests it skips by name (VPP's SKIP_TESTS filter,
# file.Class.test). Only upstream failures are here: they fail the same way with VPP's
# own ipfix-export (the baseline run, VPP_IPFIX_BASELINE=1 VPP_TEST_NO_SKIP=1).
# "ours" is vpp-tests/test_vpp_ipfix.py, our own tests of what VPP's do not check,
# found through VPP's EXTERN_TESTS (passed to every run, so VPP_TESTS_ONLY reaches it
# too); not in the baseline, as they test vpp-ipfix's CLI, counters and stats.
group_names=(ipfix nat)
group_tests=(test_flowprobe,test_ipfix_export test_nat44_ei,test_nat64)
extern_tests=$repo/vpp-tests
if [ "$baseline" = 0 ] && [ -f "$extern_tests/test_vpp_ipfix.py" ]; then
  group_names+=(ours)
  group_tests+=(test_vpp_ipfix)
fi
skip_ours=("")
skip_ipfix=(
  # Crashes VPP (SIGSEGV) in flowprobe_lookup, flowprobe's own flow table, not the
  # exporter.
  test_flowprobe.DisableFP.test_no_leftover_flows_after_disabling
)
skip_nat=(
  # NAT64's IPFIX max-BIBs/sessions event: 1 of 7 expected packets captured upstream.
  test_nat64.TestNAT64.test_ipfix_max_bibs_sessions
  # Two tests that have nothing to do with IPFIX and fail upstream (VPP b575ec2c56d,
  # its own ipfix-export): NAT64's neighbour advertisement on the inside interface,
  # NAT44-EI's ping to the outside interface.
  test_nat64.TestNAT64.test_nat64_inside_interface_handles_neighbor_advertisement
  test_nat44_ei.TestNAT44EI.test_ping_out_interface_from_outside
)

# VPP_TESTS_ONLY=<VPP test filter> runs just those tests (while debugging one).
if [ -n "${VPP_TESTS_ONLY:-}" ]; then
  group_names=(only)
  group_tests=("$VPP_TESTS_ONLY")
  skip_only=("")
fi

# Seconds each phase took, for the summary.
timings=()
phase_start() { phase_t0=$SECONDS; }
phase_end() { timings+=("$1: $((SECONDS - phase_t0)) s"); }

# --- the VPP tree -------------------------------------------------------------------
mkdir -p "$VPP_WORK/logs"
if [ -n "${VPP_SRC:-}" ]; then
  [ -d "$VPP_SRC/src/vnet" ] || die "VPP_SRC=$VPP_SRC is not a VPP source tree (no src/vnet)"
  WS=$(cd "$VPP_SRC" && pwd)
  tarball=""
else
  shopt -s nullglob
  tarballs=("$VPP_SNAPSHOT_DIR"/vpp-*.tar.gz)
  shopt -u nullglob
  if [ ${#tarballs[@]} -eq 0 ]; then
    say "no VPP snapshot at $VPP_SNAPSHOT_DIR and VPP_SRC unset: skipping the real-VPP tests"
    exit 0
  fi
  [ ${#tarballs[@]} -eq 1 ] ||
    die "more than one snapshot in $VPP_SNAPSHOT_DIR (${tarballs[*]##*/}): set VPP_SRC or keep one"
  tarball=${tarballs[0]}
  WS=$VPP_WORK/vpp
fi

shim_present() {
  compgen -G "$repo/vpp-shim/*.c" >/dev/null && [ -f "$repo/vpp-shim/flow_report.h" ]
}
if [ "$baseline" = 0 ] && ! shim_present; then
  say "the shim is missing (no vpp-shim/*.c or vpp-shim/flow_report.h): skipping the real-VPP tests"
  exit 0
fi

# One run at a time per work directory: two runs would build the same tree and share
# VPP's /tmp/vpp-unittest-* directories.
exec 9>"$VPP_WORK/.lock"
if ! flock -n 9; then
  say "another test-vpp run holds $VPP_WORK/.lock: waiting for it"
  flock 9
fi

if [ -n "$tarball" ]; then
  # Unpacked once: the stamp holds the SHA256SUMS line of the unpacked snapshot, so a
  # new snapshot (another line) is verified and unpacked again, from scratch.
  name=${tarball##*/}
  sums=$VPP_SNAPSHOT_DIR/SHA256SUMS
  [ -f "$sums" ] || die "no $sums to verify $name with"
  line=$(awk -v n="$name" '$2 == n || $2 == "*" n' "$sums")
  [ -n "$line" ] || die "$sums has no line for $name"
  stamp=$VPP_WORK/vpp.unpacked
  if [ ! -d "$WS/src/vnet" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$line" ]; then
    phase_start
    say "verifying $name"
    (cd "$VPP_SNAPSHOT_DIR" && printf '%s\n' "$line" | sha256sum --check --quiet --strict) ||
      die "$name does not match $sums"
    say "unpacking $name into $WS"
    rm -rf "$WS" "$VPP_WORK/vpp.new" "$stamp"
    mkdir -p "$VPP_WORK/vpp.new"
    tar -C "$VPP_WORK/vpp.new" -xzf "$tarball"
    [ -d "$VPP_WORK/vpp.new/vpp/src/vnet" ] || die "$name does not hold vpp/src/vnet"
    mv "$VPP_WORK/vpp.new/vpp" "$WS"
    rmdir "$VPP_WORK/vpp.new"
    printf '%s\n' "$line" >"$stamp"
    phase_end unpack
  fi
fi

# VPP's configure makes the enclosing git repository's index a configure dependency: for
# a snapshot unpacked inside our repository that would be ours, and every commit here
# would re-run VPP's cmake. A tree that is not a git work tree of its own is cut off
# from the repositories above it.
[ -e "$WS/.git" ] || export GIT_CEILING_DIRECTORIES=${WS%/*}

BR=$WS/build-root
B=$BR/build-vpp_debug-native$variant/vpp
I=$BR/install-vpp_debug-native$variant/vpp
say "VPP tree $WS, build $B$([ "$baseline" = 1 ] && echo ", BASELINE (VPP's own ipfix-export)")$([ -n "$sanitize" ] && echo ", AddressSanitizer")"

# --- packages -----------------------------------------------------------------------
phase_start
"$repo/scripts/setup-debian.sh" --vpp
phase_end packages

# --- vpp-ipfix into the tree --------------------------------------------------------
installer=$repo/vpp-shim/install-into-vpp.sh
if [ "$baseline" = 1 ]; then
  if [ -x "$installer" ] && "$installer" "$WS" --check >/dev/null 2>&1; then
    say "baseline: removing the installed vpp-ipfix from $WS"
    "$installer" "$WS" --uninstall
  fi
else
  phase_start
  if [ -z "${VPP_IPFIX_LIB:-}" ]; then
    (cd "$repo" && cargo build --release)
  fi
  "$installer" "$WS" --lib "$lib"
  phase_end "cargo build + install into VPP"
fi

# --- configure and build VPP --------------------------------------------------------
# Debian's python3 (with ply), not a pyenv one that may come first on PATH; cargo has
# been run already, so /usr/bin may shadow nothing we need.
export PATH=/usr/bin:$PATH

cache=$B/CMakeCache.txt
# VPP's test framework reads the same variable to skip its FIXME_ASAN tests.
extra_cmake_args=
if [ "$sanitize" = address ]; then
  extra_cmake_args=-DVPP_ENABLE_SANITIZE_ADDR=ON
  export VPP_EXTRA_CMAKE_ARGS=$extra_cmake_args
fi
if [ ! -f "$B/build.ninja" ] || ! grep -qx "VPP_PLUGINS:STRING=$plugins" "$cache" 2>/dev/null; then
  phase_start
  say "configuring VPP (debug, plugins $plugins${extra_cmake_args:+, $extra_cmake_args})"
  cmake -G Ninja -S "$WS/src" -B "$B" -DCMAKE_BUILD_TYPE=debug $extra_cmake_args \
    -DVPP_PLUGINS="$plugins" -DPython3_EXECUTABLE=/usr/bin/python3 \
    -DCMAKE_INSTALL_PREFIX="$I" >"$VPP_WORK/logs/configure.log" 2>&1 || {
    tail -n 40 "$VPP_WORK/logs/configure.log" >&2
    die "VPP's configure failed (log: $VPP_WORK/logs/configure.log)"
  }
  phase_end configure
fi

# vppapigen writes a dependency file naming no dependency for an .api file that imports
# none, cmake turns it into an empty one, and ninja takes an empty one for a missing
# one: those headers (vnet's ip_types.api.h, nat_types.api.h, ...) would be generated
# again by every build, and with them everything that includes them, about 300 steps.
# A dependency file that names the header and no dependency says the same to ninja.
fill_empty_depfiles() {
  awk '/^build / { out = $2; sub(/:$/, "", out); next }
       /^  depfile = / { print $3 "\t" out }' "$B/build.ninja" |
    while IFS=$'\t' read -r dep out; do
      if [ -f "$dep" ] && [ ! -s "$dep" ]; then echo "$out:" >"$dep"; fi
    done
}

phase_start
say "building VPP (incremental; log: $VPP_WORK/logs/build.log)"
fill_empty_depfiles
if ! { cmake --build "$B" && fill_empty_depfiles && cmake --build "$B" -- install; } \
  >"$VPP_WORK/logs/build.log" 2>&1; then
  grep -E -m 40 -B2 -A8 'error:|FAILED:' "$VPP_WORK/logs/build.log" | head -n 80 >&2 || true
  tail -n 20 "$VPP_WORK/logs/build.log" >&2
  die "VPP's build failed (log: $VPP_WORK/logs/build.log)"
fi
# Objects of sources that left the build (flow_report.c once vpp-ipfix is in) stay on
# disk otherwise.
ninja -C "$B" -t cleandead >/dev/null
phase_end "VPP build + install"
# Tells whoever compiles against this tree's generated headers where they are (the
# normal build's).
[ -n "$sanitize" ] || printf '%s\n' "$B" >"$VPP_WORK/BUILD_READY"

# --- the shim's CLI parsing, fuzzed on this VPP's unformat (fuzz/cli/) --------------
# A short bounded run; not for the baseline (VPP's own CLI) nor the ASan build (the
# fuzzer links the normal one).
if [ "$baseline" = 0 ] && [ -z "$sanitize" ]; then
  phase_start
  VPP_SRC="$WS" VPP_IPFIX_LIB="$lib" "$repo/scripts/fuzz-cli.sh" ||
    die "the CLI fuzzer failed (scripts/fuzz-cli.sh)"
  phase_end "CLI fuzzing"
fi

# --- is it our code? ----------------------------------------------------------------
libvnet=$(find "$I" -name 'libvnet.so' -print -quit)
[ -n "$libvnet" ] || die "no libvnet.so under $I"
if [ "$baseline" = 0 ]; then
  syms=$(nm -D --defined-only "$libvnet")
  grep -Eq ' T vpp_ipfix_main_create' <<<"$syms" ||
    die "$libvnet does not define vpp_ipfix_main_create*: vpp-ipfix is not linked in"
  grep -Eq ' T vnet_flow_report_add_del$' <<<"$syms" ||
    die "$libvnet does not define vnet_flow_report_add_del"
  ! grep -Eq ' (_R|_ZN)[0-9A-Za-z_]+$| rust_eh_personality$' <<<"$syms" ||
    die "$libvnet exports the symbols of Rust's std (vnet-rust-local.map not applied)"
  stale=$(find "$B" \( -path '*/vnet_objs.dir/ipfix-export/flow_report.c.o' \
    -o -path '*/vnet_objs.dir/ipfix-export/flow_api.c.o' \) -print)
  [ -z "$stale" ] || die "VPP's own exporter is still built: $stale"
  ! grep -Eq 'ipfix-export/(flow_report|flow_api)\.c\.o' "$B/build.ninja" ||
    die "$B/build.ninja still builds ipfix-export/flow_report.c or flow_api.c"
  say "libvnet.so runs vpp-ipfix: it defines vpp_ipfix_main_create* and" \
    "vnet_flow_report_add_del (and exports nothing of Rust's std), and VPP's" \
    "flow_report.c/flow_api.c are not built"
fi

# --- VPP's tests --------------------------------------------------------------------
# VPP's test Makefile, with the paths it would derive itself from TAG=vpp_debug. Our own
# make's variables stay out of it.
vpp_make() {
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u TEST -u SKIP_TESTS \
    make -C "$WS/test" WS_ROOT="$WS" BR="$BR" TEST_DIR="$WS/test" TAG=vpp_debug \
    VPP_BUILD_DIR="$B" VPP_BIN="$I/bin/vpp" \
    VPP_INSTALL_PATH="$BR/install-vpp_debug-native$variant/" "$@"
}

phase_start
say "preparing VPP's test venv (first run: from VPP's pinned requirements)"
vpp_make test-dep >"$VPP_WORK/logs/venv.log" 2>&1 || {
  tail -n 40 "$VPP_WORK/logs/venv.log" >&2
  die "VPP's test venv failed (log: $VPP_WORK/logs/venv.log)"
}
phase_end "test venv"

# Reads VPP's "TEST RESULTS:" block: one number, 0 when the line is absent.
count() {
  local n
  n=$(sed -e 's/\x1b\[[0-9;]*m//g' "$1" | awk -v k="$2" -F': *' '
    /TEST RESULTS:/ { on = 1 } on && $1 ~ "^ *" k "$" { print $2 + 0; exit }')
  echo "${n:-0}"
}

summary=()
failed_groups=()
for i in "${!group_names[@]}"; do
  g=${group_names[$i]}
  tests=${group_tests[$i]}
  skip_var="skip_$g[*]"
  skips=""
  n_skip_by_name=0
  if [ "${VPP_TEST_NO_SKIP:-0}" != 1 ]; then
    skips=$(IFS=,; echo "${!skip_var}")
    n_skip_by_name=$(wc -w <<<"${!skip_var}")
  fi
  log=$VPP_WORK/logs/test-$g.log
  phase_start
  say "running VPP's tests $tests (EXTENDED_TESTS=1${skips:+, skipping $skips}); log: $log"
  rc=0
  vpp_make test TEST="$tests" SKIP_TESTS="$skips" EXTENDED_TESTS=1 \
    EXTERN_TESTS="$extern_tests" 2>&1 | tee "$log" ||
    rc=$?
  phase_end "tests $g"
  scheduled=$(count "$log" 'Scheduled tests')
  passed=$(count "$log" 'Passed tests')
  skipped=$(( $(count "$log" 'Skipped tests') +
    $(count "$log" 'Tests skipped due to lack of CPUS') ))
  failures=$(( $(count "$log" 'Failures') + $(count "$log" 'Errors') +
    $(count "$log" 'Unexpected passes') ))
  not_run=$(count "$log" 'Not Executed tests')
  summary+=("$(printf '%-5s %-32s ran %3s passed %3s failed %2s not run %s skipped %2s by VPP, %s by name' \
    "$g" "$tests" "$scheduled" "$passed" "$failures" "$not_run" "$skipped" "$n_skip_by_name")")
  # The failed tests' names, as VPP lists them after "FAILURES AND ERRORS IN TESTS:".
  if [ "$rc" -ne 0 ] || [ "$failures" -ne 0 ] || [ "$not_run" -ne 0 ] ||
     [ "$scheduled" -eq 0 ]; then
    failed_groups+=("$g")
    summary+=("$(sed -e 's/\x1b\[[0-9;]*m//g' "$log" |
      awk '/FAILURES AND ERRORS IN TESTS:/ { on = 1; next } on && /^=+$/ { exit } on' |
      sed 's/^/         /')")
  fi
done

echo
echo "=================================== $me summary ==================================="
echo "VPP: $WS ($([ "$baseline" = 1 ] && echo "VPP's own ipfix-export, baseline" || echo "vpp-ipfix in libvnet"))"
printf '%s\n' "${summary[@]}"
echo "time: $(IFS=,; echo "${timings[*]}" | sed 's/,/, /g')"
echo "skipped by VPP: extended-only or too few CPUs; by name: known upstream failures"
echo "logs: $VPP_WORK/logs; failed tests leave theirs in /tmp/vpp-failed-unittests/"
echo "===================================================================================="
{
  printf '%s\n' "${summary[@]}"
  echo "time: ${timings[*]}"
} >"$VPP_WORK/logs/summary.txt"
if [ ${#failed_groups[@]} -ne 0 ]; then
  die "VPP's tests failed in: ${failed_groups[*]}"
fi
say "all of VPP's IPFIX tests passed"
exit 0
}
