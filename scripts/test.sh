#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build, run every test with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh
cd "${NCA_BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)"
