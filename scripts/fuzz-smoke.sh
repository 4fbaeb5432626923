#!/usr/bin/env bash
# A short, bounded fuzzing run for `make test` (fuzz/README.md has the long one):
# replays fuzz/corpus/ through both targets without instrumentation (cargo test in
# fuzz/), then builds them with cargo-afl (AFL++ on stable Rust) and runs each under
# afl-fuzz for FUZZ_EXECS executions (at most FUZZ_SECONDS seconds). Fails on any crash,
# printing the finding's message. Installs cargo-afl when it is missing.
set -euo pipefail

execs=${FUZZ_EXECS:-200000}
seconds=${FUZZ_SECONDS:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz="$root/fuzz"
# Instrumented builds apart from the plain ones, so neither rebuilds the other.
afl_target="$fuzz/target/afl"
out="$fuzz/target/afl-smoke"

echo "fuzz-smoke: replaying fuzz/corpus/"
(cd "$fuzz" && cargo test --release --quiet)

if ! cargo afl --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-afl"
  cargo install --locked cargo-afl
fi
# Builds AFL++ and its runtime for this rustc once; says so when it is already there.
if ! log=$(cargo afl config --build 2>&1); then
  grep -q "already built" <<<"$log" || { echo "$log" >&2; exit 1; }
fi

(cd "$fuzz" && CARGO_TARGET_DIR="$afl_target" cargo afl build --release --features afl --quiet)

export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
  AFL_SKIP_CRASHES=0 AFL_NO_AFFINITY=1
status=0
for target in api_sequence template_build; do
  rm -rf "${out:?}/$target"
  mkdir -p "$out/$target"
  start=$SECONDS
  if ! (cd "$fuzz" && cargo afl fuzz -i "corpus/$target" -o "$out/$target" -E "$execs" \
    -V "$seconds" "$afl_target/release/$target" >"$out/$target.log" 2>&1); then
    echo "fuzz-smoke: afl-fuzz failed for $target (log: $out/$target.log):" >&2
    tail -20 "$out/$target.log" >&2
    status=1
    continue
  fi
  stats="$out/$target/default/fuzzer_stats"
  done_execs=$(awk -F' *: *' '$1 == "execs_done" { print $2 }' "$stats")
  corpus=$(awk -F' *: *' '$1 == "corpus_count" { print $2 }' "$stats")
  crashes=$(find "$out/$target/default/crashes" -type f -name 'id:*' | wc -l)
  echo "fuzz-smoke: $target: $done_execs executions in $((SECONDS - start)) s," \
    "corpus $corpus, crashes $crashes"
  if [ "$crashes" -ne 0 ]; then
    status=1
    echo "fuzz-smoke: $target crashed; the inputs are in $out/$target/default/crashes:" >&2
    (cd "$fuzz" && cargo run --release --quiet --example replay -- "$target" \
      "$out/$target"/default/crashes/id:* 2>&1 | grep -A2 panicked >&2) || true
  fi
done
exit $status
