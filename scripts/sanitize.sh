#!/usr/bin/env bash
# The sanitizer stage of scripts/test.sh: builds baton with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer into build-asan/ (with libFuzzer's instrumentation, so the same
# build serves the fuzz harnesses), runs the unit, actor and Lua tests there, then replays the
# fuzz corpus and fuzzes each target for BATON_FUZZ_SECONDS (default 10). Any sanitizer report
# fails the test. Why this subset and what it costs: README.md, "Sanitizers and fuzzing".
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-asan
fuzz_targets=(request_parser script_replies resume_token config_loader http_request)

# -O0 with line tables only: reports keep file:line (and are easier to read unoptimised), and
# each file compiles in ~39% less time than at -O1 (actors/breaker/breaker_fleet_actor.cpp with
# ASan, UBSan and fuzzer instrumentation: 13.7 s at -O1, 8.4 s at -O0); the tests here are
# small and fast either way (README.md, "Sanitizers and fuzzing"). Warnings are errors for
# clang too, as for the gcc build (scripts/setup.sh). Eight files to a unity unit: at -O0 a
# file's cost is mostly parsing headers (CAF's, Asio's), and the build took 291 s instead of
# ~400 s; the gcc build compiles each file alone, so a header that misses an include still
# fails there.
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0 -gline-tables-only -DNDEBUG" \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 \
  -DBATON_SANITIZE=ON -DBATON_FUZZ=ON -DBATON_WERROR=ON ${BATON_CMAKE_ARGS:-}
nice -n 10 cmake --build "$build" -j"$(nproc)" --target baton_unit_tests baton_actor_tests \
  baton_lua_tests "${fuzz_targets[@]/%/_fuzz}"

# A report stops the process, so a finding fails its test rather than scrolling past. The
# suppression files name the reports that are not baton's, each with why.
supp=$PWD/tests/sanitizers
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$supp/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp}
(cd "$build" && ctest --output-on-failure -j"$(nproc)" --timeout 300 -R '^(unit|actors|lua):')

BATON_FUZZ_BUILD_DIR=$build bash scripts/fuzz.sh "${BATON_FUZZ_SECONDS:-10}"
