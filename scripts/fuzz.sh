#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang (ASan + UBSan) and, for each target,
# replays its seed corpus (fuzz/corpus/<target>/) and then fuzzes it for N seconds (default
# 20). New inputs the fuzzer finds go to a scratch directory, not into the repository: a crash
# is fixed, and its input added to the corpus by hand under the bug's name (fuzz/README.md).
#   bash scripts/fuzz.sh [seconds]
# BATON_FUZZ_BUILD_DIR picks the build directory (default build-fuzz; scripts/test.sh points it
# at its sanitizer build, which builds the harnesses too).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
build=${BATON_FUZZ_BUILD_DIR:-build-fuzz}
targets=(request_parser script_replies resume_token config_loader http_request)

if [[ ! -f $build/CMakeCache.txt ]]; then
  # Warnings are errors for clang too, as for the gcc build (scripts/setup.sh).
  CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATON_FUZZ=ON \
    -DBATON_WERROR=ON ${BATON_CMAKE_ARGS:-}
fi
nice -n 10 cmake --build "$build" -j"$(nproc)" --target "${targets[@]/%/_fuzz}"

# Replay first: every seed and regression input must pass before any new fuzzing.
(cd "$build" && ctest --output-on-failure -L fuzz)

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  echo "== fuzzing $target for ${seconds}s"
  mkdir -p "$scratch/$target"
  # New inputs into the scratch corpus (first directory); the seeds are read from the second.
  # A fixed random seed: the short run in CI explores the same way each time, so it fails
  # only when the code changed, not by luck (BATON_FUZZ_SEED=0 asks libFuzzer for a fresh one,
  # for long runs by hand).
  if ! "$build/fuzz/${target}_fuzz" -max_total_time="$seconds" -print_final_stats=1 \
      -seed="${BATON_FUZZ_SEED:-1}" \
      -artifact_prefix="$scratch/$target-" "$scratch/$target" "fuzz/corpus/$target" \
      >"$scratch/$target.log" 2>&1; then
    tail -n 60 "$scratch/$target.log"
    for crash in "$scratch/$target"-*; do
      [[ -e $crash ]] || continue
      mkdir -p "$build/fuzz-crashes"
      cp "$crash" "$build/fuzz-crashes/"
      echo "fuzz.sh: $target crashed; input kept in $build/fuzz-crashes/$(basename "$crash")"
    done
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$scratch/$target.log" |
    tr '\n' ' '
  echo
done
echo "fuzz.sh: ${#targets[@]} targets replayed and fuzzed ${seconds}s each, no crash"
