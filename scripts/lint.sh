#!/usr/bin/env bash
# The formatting check CI runs: every C++ file git knows must be as clang-format (.clang-format,
# Google style at 100 columns) would write it. `clang-format -i FILE` fixes one.
#   scripts/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || scripts/deps.sh --lint
mapfile -t files < <(git ls-files '*.cpp' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "lint: ${#files[@]} C++ files formatted as .clang-format says"
