#!/usr/bin/env bash
# install-into-vpp.sh: puts vpp-ipfix into an FD.io VPP source tree in place of VPP's
# IPFIX exporter (src/vnet/ipfix-export/flow_report.c and flow_api.c).
#
#   install-into-vpp.sh VPP_SRC [--lib PATH]   install, or refresh an installed copy
#   install-into-vpp.sh VPP_SRC --uninstall    restore VPP's files exactly
#   install-into-vpp.sh VPP_SRC --check        exit 0 when installed, 1 when not
#
# Why inside libvnet: VPP dlopen()s its plugins without RTLD_GLOBAL, so flowprobe's and
# NAT's calls to vnet_flow_report_* bind to libvnet's definitions, and those callers
# reach the exporter's struct fields directly. So the shim sources (vpp-shim/*.c) and
# our Rust static library are compiled and linked into libvnet where flow_report.c was,
# and VPP's flow_report.h is replaced by ours, which every caller is compiled against.
#
# What it changes, all under VPP_SRC/src/vnet:
#   ipfix-export/vpp-ipfix/   new: the shim's .c and .h files (not flow_report.h),
#                             include/vpp_ipfix.h, libvpp_ipfix.a, vnet-rust-local.map
#                             (keeps Rust's std out of libvnet's exports), and INSTALLED
#                             (marker: our git describe and the installed files' hashes)
#   ipfix-export/flow_report.h   ours; VPP's kept as flow_report.h.vpp-orig
#   CMakeLists.txt            VPP's kept as CMakeLists.txt.vpp-orig; ours is made from it:
#                             the flow_report.c and flow_api.c source lines become the shim
#                             files, and a marked block at the end links the library into
#                             the vnet target
# Running it again rewrites only the files whose content changed, so ninja rebuilds the
# minimum; the backups are only ever made from VPP's own files.
#
# The library: --lib PATH, else $VPP_IPFIX_LIB, else <target>/release/libvpp_ipfix.a
# (built with `cargo build --release` when missing).
set -euo pipefail

me=install-into-vpp
say() { echo "$me: $*"; }
die() { echo "$me: error: $1" >&2; exit "${2:-1}"; }
usage() {
  echo "usage: $me.sh VPP_SRC [--lib PATH] | VPP_SRC --uninstall | VPP_SRC --check" >&2
  exit 2
}

shim_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$shim_dir/.." && pwd)

vpp_src="" mode=install lib="${VPP_IPFIX_LIB:-}" lib_given=${VPP_IPFIX_LIB:+1}
while [ $# -gt 0 ]; do
  case $1 in
    --uninstall) mode=uninstall ;;
    --check) mode=check ;;
    --lib) [ $# -ge 2 ] || usage; lib=$2; lib_given=1; shift ;;
    --lib=*) lib=${1#--lib=}; lib_given=1 ;;
    -h|--help) usage ;;
    -*) echo "$me: unknown option $1" >&2; usage ;;
    *) [ -z "$vpp_src" ] || usage; vpp_src=$1 ;;
  esac
  shift
done
[ -n "$vpp_src" ] || usage

vnet=$vpp_src/src/vnet
ipfix=$vnet/ipfix-export
dest=$ipfix/vpp-ipfix
marker=$dest/INSTALLED
header=$ipfix/flow_report.h
cmake=$vnet/CMakeLists.txt
header_orig=$header.vpp-orig
cmake_orig=$cmake.vpp-orig
begin_mark="# >>> vpp-ipfix"
end_mark="# <<< vpp-ipfix"

# --- is this a VPP tree we know? ----------------------------------------------------
lists_flow_report() { [ -f "$1" ] && grep -Eq '^[[:space:]]*ipfix-export/flow_report\.c[[:space:]]*$' "$1"; }
if ! { [ -f "$header" ] || [ -f "$header_orig" ]; } ||
   ! { lists_flow_report "$cmake" || lists_flow_report "$cmake_orig" || [ -f "$marker" ]; }; then
  die "$vpp_src is not a VPP source tree this script knows: it wants
  src/vnet/ipfix-export/flow_report.h, and src/vnet/CMakeLists.txt listing
  ipfix-export/flow_report.c (or a vpp-ipfix install marker, $marker)" 2
fi

# --- check --------------------------------------------------------------------------
if [ "$mode" = check ]; then
  if [ -f "$marker" ] && [ -f "$header_orig" ] && [ -f "$cmake_orig" ]; then
    say "installed in $vpp_src ($(sed -n 's/^repo: //p' "$marker"))"
    exit 0
  fi
  if [ -e "$dest" ] || [ -f "$header_orig" ] || [ -f "$cmake_orig" ]; then
    say "partly installed in $vpp_src (an interrupted install: install again, or --uninstall)"
  else
    say "not installed in $vpp_src"
  fi
  exit 1
fi

# --- uninstall ----------------------------------------------------------------------
# Restores by copying, not moving: the restored files get a new mtime, so ninja rebuilds
# what was compiled against ours (a moved backup keeps its old mtime and would not).
restore() {
  local orig=$1 file=$2
  if [ -f "$orig" ]; then
    cp "$orig" "$file.vpp-ipfix.tmp" && mv "$file.vpp-ipfix.tmp" "$file" && rm "$orig"
    say "restored ${file#"$vpp_src"/}"
  fi
}
if [ "$mode" = uninstall ]; then
  if [ ! -e "$dest" ] && [ ! -f "$header_orig" ] && [ ! -f "$cmake_orig" ]; then
    say "not installed in $vpp_src: nothing to do"
    exit 0
  fi
  restore "$header_orig" "$header"
  restore "$cmake_orig" "$cmake"
  rm -rf "$dest"
  say "removed ${dest#"$vpp_src"/}: $vpp_src builds VPP's own ipfix-export again"
  exit 0
fi

# --- install ------------------------------------------------------------------------
shopt -s nullglob
shim_c=("$shim_dir"/*.c)
shim_h=()
for h in "$shim_dir"/*.h; do
  [ "${h##*/}" = flow_report.h ] || shim_h+=("$h")
done
shopt -u nullglob
[ ${#shim_c[@]} -gt 0 ] || die "no shim sources in $shim_dir (*.c)"
[ -f "$shim_dir/flow_report.h" ] || die "no $shim_dir/flow_report.h"
[ -f "$repo/include/vpp_ipfix.h" ] || die "no $repo/include/vpp_ipfix.h"

if [ -z "$lib" ]; then
  lib=${CARGO_TARGET_DIR:-$repo/target}/release/libvpp_ipfix.a
  if [ ! -f "$lib" ]; then
    say "no $lib: building it (cargo build --release)"
    (cd "$repo" && cargo build --release)
  fi
fi
[ -f "$lib" ] || die "no static library at $lib${lib_given:+ (from --lib or VPP_IPFIX_LIB)}"

changed=0
# Copies only when the content differs, through a temporary file so a failure never
# leaves half a file.
put() {
  local src=$1 dst=$2
  if ! cmp -s "$src" "$dst"; then
    cp "$src" "$dst.vpp-ipfix.tmp" && mv "$dst.vpp-ipfix.tmp" "$dst"
    changed=$((changed + 1))
    say "updated ${dst#"$vpp_src"/}"
  fi
}

mkdir -p "$dest"
wanted=()
for f in "${shim_c[@]}" "${shim_h[@]}" "$repo/include/vpp_ipfix.h" "$lib"; do
  name=${f##*/}
  [ "$f" = "$lib" ] && name=libvpp_ipfix.a
  put "$f" "$dest/$name"
  wanted+=("$name")
done
# A version script for libvnet: everything stays exported as before, but for the
# symbols of Rust's std inside libvpp_ipfix.a (v0- and legacy-mangled names, the
# runtime's hooks), which would otherwise be exported from libvnet and interpose on any
# other Rust code in VPP's process. VPP's C code has no name with these prefixes.
map_tmp=$(mktemp)
cat >"$map_tmp" <<'MAP'
/* vpp-ipfix (install-into-vpp.sh): Rust's std in libvpp_ipfix.a stays local to libvnet */
{
  global: *;
  local: _R*; _ZN*; rust_*; __rust*; __rdl*; __rg*;
};
MAP
put "$map_tmp" "$dest/vnet-rust-local.map"
rm -f "$map_tmp"
wanted+=(vnet-rust-local.map)

# Files of an earlier install that the shim no longer has.
for f in "$dest"/*; do
  name=${f##*/}
  [ "$name" = INSTALLED ] && continue
  if ! printf '%s\n' "${wanted[@]}" | grep -qxF "$name"; then
    rm -rf "$f"
    changed=$((changed + 1))
    say "removed ${f#"$vpp_src"/} (no longer in the shim)"
  fi
done

# The backups are made once, from VPP's files: never from ours.
if [ ! -f "$header_orig" ]; then
  cmp -s "$header" "$shim_dir/flow_report.h" &&
    die "$header is already ours but $header_orig is missing: restore VPP's flow_report.h first"
  cp -p "$header" "$header_orig"
fi
put "$shim_dir/flow_report.h" "$header"

if [ ! -f "$cmake_orig" ]; then
  grep -qF "$begin_mark" "$cmake" &&
    die "$cmake already has a vpp-ipfix block but $cmake_orig is missing: restore VPP's CMakeLists.txt first"
  cp -p "$cmake" "$cmake_orig"
fi
# Ours is always made from VPP's, so it follows the shim's file list.
shim_lines=$(for f in "${shim_c[@]}"; do echo "ipfix-export/vpp-ipfix/${f##*/}"; done)
new_cmake=$(mktemp)
trap 'rm -f "$new_cmake"' EXIT
awk -v shim="$shim_lines" -v begin="$begin_mark" -v end="$end_mark" '
  /^[[:space:]]*ipfix-export\/flow_report\.c[[:space:]]*$/ {
    indent = $0; sub(/[^[:space:]].*$/, "", indent)
    n = split(shim, files, "\n")
    for (i = 1; i <= n; i++) print indent files[i]
    found_report++; next
  }
  /^[[:space:]]*ipfix-export\/flow_api\.c[[:space:]]*$/ { found_api++; next }
  { print }
  END {
    if (found_report != 1 || found_api != 1) exit 3
    print ""
    print begin ": added by vpp-ipfix'"'"'s vpp-shim/install-into-vpp.sh (--uninstall restores"
    print "# CMakeLists.txt.vpp-orig). The shim in ipfix-export/vpp-ipfix/ replaces"
    print "# ipfix-export/flow_report.c and flow_api.c above; here the exporter core, a Rust"
    print "# static library, is linked into libvnet with the system libraries Rust'"'"'s std"
    print "# needs (rustc --print native-static-libs), Rust'"'"'s own symbols are kept out of"
    print "# libvnet'"'"'s exports (vnet-rust-local.map), and vpp_ipfix.h is installed with the"
    print "# flow_report.h that includes it."
    print "target_include_directories(vnet_objs PRIVATE"
    print "  ${CMAKE_CURRENT_SOURCE_DIR}/ipfix-export/vpp-ipfix)"
    print "target_link_libraries(vnet"
    print "  ${CMAKE_CURRENT_SOURCE_DIR}/ipfix-export/vpp-ipfix/libvpp_ipfix.a"
    print "  gcc_s util rt pthread m dl)"
    print "target_link_options(vnet PRIVATE"
    print "  -Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/ipfix-export/vpp-ipfix/vnet-rust-local.map)"
    print "set_property(TARGET vnet APPEND PROPERTY LINK_DEPENDS"
    print "  ${CMAKE_CURRENT_SOURCE_DIR}/ipfix-export/vpp-ipfix/vnet-rust-local.map)"
    print "install(FILES ipfix-export/vpp-ipfix/vpp_ipfix.h"
    print "  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vnet/ipfix-export/vpp-ipfix"
    print "  COMPONENT vpp-dev)"
    print end
  }' "$cmake_orig" >"$new_cmake" || {
  status=$?
  [ "$status" -eq 3 ] || die "could not write the new CMakeLists.txt (awk exit $status)"
  die "$cmake_orig does not list ipfix-export/flow_report.c and ipfix-export/flow_api.c
  once each as source lines: a VPP this script does not know" 2
}
put "$new_cmake" "$cmake"

# The marker: which vpp-ipfix, and the hashes of what is installed.
describe=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
hashes=$(cd "$vnet" && sha256sum $(printf 'ipfix-export/vpp-ipfix/%s\n' "${wanted[@]}" | sort) \
  ipfix-export/flow_report.h CMakeLists.txt)
new_marker=$(mktemp)
{
  echo "vpp-ipfix installed by vpp-shim/install-into-vpp.sh; --uninstall reverts it"
  echo "repo: $describe"
  echo "files-sha256: $(sha256sum <<<"$hashes" | cut -d' ' -f1)"
  echo "$hashes"
} >"$new_marker"
cmp -s "$new_marker" "$marker" || cat "$new_marker" >"$marker"
rm -f "$new_marker"

if [ "$changed" -eq 0 ]; then
  say "up to date in $vpp_src ($describe)"
else
  say "installed in $vpp_src ($describe): $changed file(s) changed"
fi
