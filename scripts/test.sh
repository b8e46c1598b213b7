#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build, run every test with CTest.
# With --sanitize, or when CI=true, then also: the suite again under ASan + UBSan
# (scripts/sanitize.sh) and a short run of each fuzz target (scripts/fuzz.sh, NCA_FUZZ_SECONDS
# each, default 45).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=false
[[ "${CI:-}" == true || "${1:-}" == --sanitize ]] && sanitize=true
scripts/deps.sh
scripts/build.sh
(cd "${NCA_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)")
if $sanitize; then
  scripts/sanitize.sh
  scripts/fuzz.sh "${NCA_FUZZ_SECONDS:-45}"
fi
