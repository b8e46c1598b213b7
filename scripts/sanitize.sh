#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer: builds everything with
# clang in build-fuzz/ (-DNCA_FUZZ=ON: the same build dir holds the libFuzzer targets, which
# share every object with the tests) and runs ctest there, including a replay of the fuzz seed
# corpora. Any sanitizer report fails the test that triggered it.
#   scripts/sanitize.sh               build and test
#   scripts/sanitize.sh --build-only  build only (scripts/fuzz.sh uses this)
#   scripts/sanitize.sh -E REGEX      build, then test all but the tests REGEX names (test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --sanitize
build=build-fuzz
generator=()
command -v ninja >/dev/null && [[ ! -f "$build/CMakeCache.txt" ]] && generator=(-G Ninja)
# The unit tests run as one process (NCA_UNIT_TESTS_PER_FILE=OFF): an instrumented LibTorch process takes
# 2 s to start, and one per test case made 137 starts, 346 s of the suite's 1,400 CPU seconds.
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER=clang++ -DNCA_FUZZ=ON -DNCA_UNIT_TESTS_PER_FILE=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"
[[ "${1:-}" == --build-only ]] && exit 0
source tests/sanitizers/env.sh
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
