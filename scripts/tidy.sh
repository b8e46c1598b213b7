#!/usr/bin/env bash
# clang-tidy with .clang-tidy's checks over the library's and the CLI's sources that changed:
#   scripts/tidy.sh          those the last commit changed (HEAD~1), what CI runs
#   scripts/tidy.sh REV      those changed since REV (a header counts as its source file)
#   scripts/tidy.sh --all    every one (a few minutes here)
# Any finding fails it. The tests are left out (Catch2's macros are not written for these checks).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-tidy >/dev/null || scripts/deps.sh --lint
db=build-tidy
# A compile database with one entry per source: no unity batches, and no precompiled header
# (clang cannot read GCC's). Configured only, never built.
cmake -S . -B "$db" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ \
  -DNCA_UNITY=OFF -DNCA_PCH=OFF -DNCA_BUILD_TESTS=OFF >/dev/null
if [[ ${1:-} == --all ]]; then
  what="every source"
  mapfile -t changed < <(git ls-files 'src/*.cpp' 'src/cli/*.cpp')
else
  base=${1:-HEAD~1}
  what="the sources changed since $base"
  if ! git rev-parse --verify -q "$base^{commit}" >/dev/null; then
    # A shallow clone has no parent to compare with: say so rather than check nothing silently.
    [[ -z ${1:-} ]] || { echo "tidy: no commit '$base'" >&2; exit 2; }
    echo "tidy: this clone has no parent commit to compare with (shallow?): nothing checked; scripts/tidy.sh --all checks every source"
    exit 0
  fi
  mapfile -t changed < <(git diff --name-only --diff-filter=AM "$base" -- 'src/*.cpp' 'src/*.h' \
    'include/nca/*.h' | sed -E 's|^include/nca/(.*)\.h$|src/\1.cpp|; s|^(src/.*)\.h$|\1.cpp|' | sort -u)
fi
files=()
for f in "${changed[@]}"; do
  [[ -f $f && $f != src/stb_impl.cpp ]] && files+=("$f")
done
[[ ${#files[@]} -gt 0 ]] || { echo "tidy: no C++ source among $what"; exit 0; }
echo "tidy: ${files[*]}"
# clang-tidy counts the warnings it hid in LibTorch's headers on stderr ("327 warnings
# generated."): only its findings are shown.
status=0
clang-tidy -p "$db" --quiet "${files[@]}" 2> >(grep -v '^[0-9]* warnings\? generated\.$' >&2) ||
  status=$?
[[ $status -eq 0 ]] || { echo "tidy: findings above (.clang-tidy says why each check is on)" >&2; exit 1; }
echo "tidy: ${#files[@]} files of $what, no finding"
