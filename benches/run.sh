#!/usr/bin/env bash
# The benchmark table of vpp-ipfix (docs/performance.md), in one run:
#
#   benches/run.sh [--runs R] [--records N] [--only SUBSTRING] [--no-instr]
#   (or `make bench`; BENCH_ARGS='...' passes these)
#
# 1. builds the release library, the C benchmark (benches/c) and the Rust one
#    (benches/rust_api.rs);
# 2. counts instructions per record under valgrind --tool=callgrind: every case of the
#    C benchmark in one run, each measured loop between client requests; each Rust case
#    in its own run, with --toggle-collect on its measured loop;
# 3. times every case without valgrind: R runs (default 5) of N records per thread
#    (default 2,000,000), median ns per record, packets per second;
# 4. prints the table with the ratios, and the targets of issue 4 with what was
#    measured, and writes both to target/bench/table.md.
#
# Needs gcc, make, valgrind, and libfixbuf-dev for the libfixbuf row. Instructions are
# exact and repeatable; nanoseconds move with whatever else the machine runs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=5
RECORDS=2000000
INSTR_RECORDS=100000
ONLY=""
INSTR=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --records) RECORDS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --no-instr) INSTR=0; shift ;;
    *) echo "usage: benches/run.sh [--runs R] [--records N] [--only SUBSTRING] [--no-instr]" >&2
       exit 2 ;;
  esac
done

CARGO=${CARGO:-cargo}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
OUT=$TARGET_DIR/bench
mkdir -p "$OUT"

echo "bench: building" >&2
$CARGO build --release --quiet
make -s -C benches/c LIBDIR="$TARGET_DIR/release" OUT="$OUT"
RUST_BENCH=$($CARGO bench --quiet --bench rust_api --no-run --message-format=json 2>/dev/null |
  sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$RUST_BENCH" ] || { echo "bench: no rust_api benchmark binary" >&2; exit 1; }
C_BENCH=$OUT/bench

only_args=()
[ -n "$ONLY" ] && only_args=(--only "$ONLY")

# --- instructions -------------------------------------------------------------------
: > "$OUT/instr.tsv"
if [ "$INSTR" = 1 ]; then
  command -v valgrind >/dev/null || { echo "bench: valgrind is needed (or --no-instr)" >&2; exit 1; }
  echo "bench: instructions (callgrind)" >&2
  rm -rf "$OUT/callgrind" && mkdir -p "$OUT/callgrind"
  valgrind --tool=callgrind --collect-atstart=no \
    --callgrind-out-file="$OUT/callgrind/c.out" \
    "$C_BENCH" --instr --records "$INSTR_RECORDS" "${only_args[@]}" \
    > "$OUT/callgrind/c.tsv" 2> "$OUT/callgrind/c.log"
  # One dump per case: "desc: Trigger: Client Request: <case>" and "totals: <Ir>".
  for f in "$OUT"/callgrind/c.out.*; do
    [ -e "$f" ] || continue
    awk '/^desc: Trigger: Client Request: / { sub(/^desc: Trigger: Client Request: /, ""); name = $0 }
         /^totals: / { print name "\t" $2 }' "$f"
  done > "$OUT/callgrind/c.totals"
  awk -F'\t' -v OFS='\t' 'NR == FNR { ir[$1] = $2; next }
       $1 == "instr" && ($2 in ir) { print "instr", $2, $3, $4, ir[$2] }' \
    "$OUT/callgrind/c.totals" "$OUT/callgrind/c.tsv" >> "$OUT/instr.tsv"
  for c in $("$RUST_BENCH" --table-list); do
    if [ -n "$ONLY" ] && [[ "$c" != *"$ONLY"* ]]; then continue; fi
    f="$OUT/callgrind/rust.$(echo "$c" | tr '/' '_').out"
    line=$(valgrind --tool=callgrind --toggle-collect='*measured_loop*' \
      --callgrind-out-file="$f" "$RUST_BENCH" --table-instr --case "$c" \
      --records "$INSTR_RECORDS" 2>> "$OUT/callgrind/rust.log")
    ir=$(sed -n 's/^totals: //p' "$f")
    printf '%s\t%s\n' "$line" "$ir" | cut -f1-4,6 >> "$OUT/instr.tsv"
  done
fi

# --- time ---------------------------------------------------------------------------
echo "bench: wall clock ($RUNS runs, medians)" >&2
"$C_BENCH" --time --runs "$RUNS" --records "$RECORDS" "${only_args[@]}" > "$OUT/time.tsv"
if [ -n "$ONLY" ]; then
  for c in $("$RUST_BENCH" --table-list); do
    [[ "$c" == *"$ONLY"* ]] || continue
    "$RUST_BENCH" --table-time --runs "$RUNS" --records "$RECORDS" --case "$c" >> "$OUT/time.tsv"
  done
else
  "$RUST_BENCH" --table-time --runs "$RUNS" --records "$RECORDS" >> "$OUT/time.tsv"
fi

# --- the table ----------------------------------------------------------------------
{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)); $RUNS runs of $RECORDS records per thread (libfixbuf and UDP: 1/8 of that), instructions over $INSTR_RECORDS."
  echo
  awk -F'\t' -f benches/table.awk "$OUT/instr.tsv" "$OUT/time.tsv"
} | tee "$OUT/table.md"
