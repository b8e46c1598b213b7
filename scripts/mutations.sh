#!/usr/bin/env bash
# The mutation table of docs/testing.md: plants each bug of tests/mutations/*.patch, one at a
# time, in a scratch git worktree of HEAD (never in this tree), rebuilds there, and runs the
# training regression tests: the three loss-curve goldens and the independent PyTorch replay.
# Every mutation must fail at least one of them. Prints a Markdown table (mutation, the tests that
# failed); exits 1 when the unmutated tree fails a test or a mutation fails none.
#   scripts/mutations.sh                     every patch in tests/mutations/
#   scripts/mutations.sh tests/mutations/03-damage-highest-loss.patch ...
# NCA_MUTATION_DIR (default /tmp/nca-mutations) holds the worktree and its build directory; it is
# kept between runs, so that a second run only rebuilds what the patches touch.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir=${NCA_MUTATION_DIR:-/tmp/nca-mutations}
tests='^(cli\.test_loss_|training\.replay\.)'
patches=("$@")
[[ ${#patches[@]} -gt 0 ]] || patches=(tests/mutations/*.patch)
for p in "${patches[@]}"; do [[ -f $p ]] || { echo "mutations: no patch '$p'" >&2; exit 2; }; done

if [[ -d $dir/.git || -f $dir/.git ]]; then
  git -C "$dir" checkout -q -- .  # a run that was stopped may have left a patch applied
  git -C "$dir" checkout -q --detach "$(git rev-parse HEAD)"
else
  git worktree prune
  git worktree add -q --detach "$dir" HEAD
fi
echo "mutations: worktree $dir at $(git -C "$dir" rev-parse --short HEAD)" >&2

build() {
  cmake -S "$dir" -B "$dir/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$dir/build" -j 2 --target nca nca_train_trace >"$dir/build.log" 2>&1 ||
    { tail -n 30 "$dir/build.log" >&2; return 1; }
}

# run_tests: the names of the regression tests that fail, space-separated ("" when none).
run_tests() {
  (cd "$dir/build" && ctest -j 2 -R "$tests" >"$dir/ctest.log" 2>&1) || true
  awk '/tests FAILED:/ {on = 1; next} on && $2 == "-" {print $3}' "$dir/ctest.log" | sort |
    tr '\n' ' ' | sed 's/ $//'
}

build
failed=$(run_tests)
if [[ -n $failed ]]; then
  echo "mutations: the unmutated tree fails: $failed (see $dir/ctest.log)" >&2
  exit 1
fi
echo "mutations: unmutated tree passes $(grep -c 'Test *#' "$dir/ctest.log") tests" >&2

survivors=0
echo "| mutation | tests that failed |"
echo "|---|---|"
for p in "${patches[@]}"; do
  name=$(basename "$p" .patch)
  git -C "$dir" apply "$repo/$p"
  if build; then
    failed=$(run_tests)
  else
    failed="(does not build)"
  fi
  git -C "$dir" checkout -q -- .
  [[ -n $failed ]] || { failed="NONE: survived"; survivors=$((survivors + 1)); }
  echo "| $name | ${failed// /, } |"
done
build  # leave the scratch build unmutated
[[ $survivors -eq 0 ]]
