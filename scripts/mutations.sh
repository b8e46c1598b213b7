#!/usr/bin/env bash
# The mutation table of docs/testing.md: plants each bug of tests/mutations/*.patch, one bug to a
# scratch copy of this tree (never in the tree itself), rebuilds there, and runs the
# training regression tests: the three loss-curve goldens and the independent PyTorch replay.
# Every mutation must fail at least one of them. Prints a Markdown table; exits 1 when the
# unmutated tree fails a test or a mutation fails none. The unmutated tree runs, after the
# mutations, the tests that failed for one (all five without --first): a test that fails without
# any bug planted would make every mutation look caught.
#   scripts/mutations.sh [--first] [PATCH ...]      (default: every patch in tests/mutations/)
#   --first   run the tests one at a time, fastest first, and stop at the first that fails:
#             the table then names the test that caught each mutation (what CI runs; without
#             it, all five tests run against every mutation: the full table, and a longer run)
# Needs the tree built first (scripts/build.sh; NCA_BUILD_DIR, default build, inside the tree).
#
# Why a copy mounted over the tree: a build directory is tied to its source path, so a worktree
# elsewhere would need a whole build of its own (about 10 min here). Each mutation gets a fresh
# copy of the tree that keeps every file's time stamp, build directory included, bind-mounted
# over this tree's path in a private mount namespace (unshare; root, or an unprivileged user
# namespace): there Ninja sees the same paths and rebuilds only what the patch touches (a copy
# for each mutation rather than reverting the last one, since a revert would be rebuilt too).
# Outside the namespace nothing changes, so several copies can run side by side, each in its own
# namespace: NCA_MUTATION_JOBS at a time (default: one per core, as the regression tests run on
# one thread). NCA_MUTATION_DIR (default /tmp/nca-mutations) holds the copies and the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir=${NCA_MUTATION_DIR:-/tmp/nca-mutations}
build=${NCA_BUILD_DIR:-build}
# The regression tests, fastest first (the order --first tries them in).
tests=(training.replay.fast cli.test_loss_growing training.replay.torch
  cli.test_loss_regenerating cli.test_loss_persistent)

die() { echo "mutations: $*" >&2; exit "${2:-1}"; }

first=false
inner=false
together=false
patches=()
for arg in "$@"; do
  case $arg in
    --first) first=true ;;
    --inner) inner=true ;;  # in the namespace: rebuild, print the failing tests
    --together) together=true ;;  # with --inner: all the tests in one ctest, in parallel
    -*) die "unknown option '$arg' (--first)" 2 ;;
    *) patches+=("$arg") ;;
  esac
done
[[ ${#patches[@]} -gt 0 ]] || patches=(tests/mutations/*.patch)
for p in "${patches[@]}"; do [[ -f $p ]] || die "no patch '$p'" 2; done

# rebuild TARGET...: builds what the tests about to run need (the replay tests run
# nca_train_trace, the loss-curve tests nca): with --first, nca is linked only when a mutation
# survives the replay tests, as a link of it takes seconds.
rebuild() {
  cmake --build "$build" -j "$(nproc)" --target "$@" >>"$dir/build.log" 2>&1 ||
    { tail -n 30 "$dir/build.log" >&2; return 1; }
}

# run_tests [--first]: the names of the regression tests that fail, space-separated ("" when
# none); with --first, at most one: the first that fails. An unbuildable mutation is
# "(unbuildable)".
run_tests() {
  local t failed=() built=(nca_train_trace)
  for t in "${tests[@]}"; do
    local target=nca_train_trace
    [[ $t == cli.* ]] && target=nca
    if [[ " ${built[*]} " != *" $target "* ]]; then
      rebuild "$target" || { echo "(unbuildable)"; return; }
      built+=("$target")
    fi
    if ! (cd "$build" && ctest -R "^${t//./\\.}\$" >"$dir/ctest-$t.log" 2>&1); then
      failed+=("$t")
      [[ ${1:-} == --first ]] && break
    fi
  done
  echo "${failed[*]}"
}

if $inner; then
  : >"$dir/build.log"
  if $together; then
    rebuild nca nca_train_trace || { echo "(unbuildable)"; exit 0; }
    # The unmutated check: the tests NCA_MUTATION_TESTS names (default all) at once, as the
    # suite runs them.
    read -r -a tests <<<"${NCA_MUTATION_TESTS:-${tests[*]}}"
    regex="^($(IFS='|'; echo "${tests[*]//./\\.}"))\$"
    (cd "$build" && ctest -j "$(nproc)" -R "$regex" >"$dir/ctest.log" 2>&1) || true
    awk '/tests FAILED:/ {on = 1; next} on && $2 == "-" {print $3}' "$dir/ctest.log" | sort |
      tr '\n' ' ' | sed 's/ $//'
    grep -q "tests passed, 0 tests failed out of ${#tests[@]}\$" "$dir/ctest.log" ||
      echo "(not all ${#tests[@]} tests ran: see $dir/ctest.log)"
  else
    rebuild nca_train_trace || { echo "(unbuildable)"; exit 0; }
    if $first; then run_tests --first; else run_tests; fi
  fi
  exit 0
fi

[[ $build != /* && -f $build/build.ninja ]] ||
  die "no Ninja build in '$build' inside the tree: run scripts/build.sh first"
# A patch that no longer applies (the code it mutates has changed) must be made again against
# the current source, as docs/testing.md says: it fails the run rather than being left out.
for p in "${patches[@]}"; do
  git apply --check "$p" 2>/dev/null ||
    die "$p no longer applies to this tree: plant the same bug again and save the new diff"
done

# in_copy SLOT [PATCH]: a fresh copy of the tree (every file git knows or would add, and the
# build directory, time stamps kept) in $dir/tree-SLOT with PATCH applied; rebuilt and tested in
# a namespace of its own, with its logs in $dir/slot-SLOT. Prints the failing tests.
ns=(unshare --mount --propagation private)
[[ $(id -u) -eq 0 ]] || ns+=(--map-root-user)
in_copy() {
  local slot=$1 patch=${2:-} tree=$dir/tree-$1
  rm -rf "$tree"
  mkdir -p "$tree" "$dir/slot-$slot"
  { git ls-files -z --cached --others --exclude-standard; printf '%s\0' "$build"; } |
    tar --null -T - -cf - | tar -C "$tree" -xf -
  [[ -z $patch ]] || git -C "$tree" apply "$repo/$patch"
  local mode=(--together)
  [[ -n $patch ]] && { if $first; then mode=(--first); else mode=(); fi; }
  NCA_MUTATION_DIR=$dir/slot-$slot "${ns[@]}" \
    bash -c 'mount --bind "$1" "$2" && cd "$2" && shift 2 && exec "$@"' _ \
    "$tree" "$repo" bash scripts/mutations.sh --inner "${mode[@]}"
}
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"/tree-*' EXIT

# The mutations, NCA_MUTATION_JOBS at a time (default: one per core; the regression tests run on
# one thread each), each slot taking every JOBS-th patch; the table comes out in patch order.
jobs=${NCA_MUTATION_JOBS:-$(nproc)}
[[ $jobs -ge 1 ]] || jobs=1
[[ $jobs -le ${#patches[@]} ]] || jobs=${#patches[@]}
rm -f "$dir"/result-*
for ((slot = 0; slot < jobs; slot++)); do
  (
    for ((i = slot; i < ${#patches[@]}; i += jobs)); do
      t0=$SECONDS
      failed=$(in_copy "$slot" "${patches[i]}")
      printf '%s\n%s\n' "$failed" $((SECONDS - t0)) >"$dir/result-$i"
    done
  ) &
done
wait

# The unmutated tree, with the tests that caught a mutation (with --first, the others never
# decided anything; without it, every test ran against every mutation, so all of them).
baseline=()
for t in "${tests[@]}"; do
  $first && ! grep -qwF -- "$t" "$dir"/result-* && continue
  baseline+=("$t")
done
if [[ ${#baseline[@]} -gt 0 ]]; then
  failed=$(NCA_MUTATION_TESTS="${baseline[*]}" in_copy 0)
  [[ -z $failed ]] || die "the unmutated tree fails: $failed (logs in $dir/slot-0)"
  echo "mutations: the unmutated tree passes ${baseline[*]}" >&2
fi

survivors=0
if $first; then
  echo "| mutation | caught first by (tests tried in the order ${tests[*]}) | seconds ($jobs at a time) |"
else
  echo "| mutation | tests that failed | seconds ($jobs at a time) |"
fi
echo "|---|---|---|"
for i in "${!patches[@]}"; do
  [[ -f $dir/result-$i ]] || die "no result for ${patches[i]} (logs in $dir)"
  { read -r failed; read -r seconds; } <"$dir/result-$i"
  [[ -n $failed ]] || { failed="NONE: survived"; survivors=$((survivors + 1)); }
  echo "| $(basename "${patches[i]}" .patch) | ${failed// /, } | $seconds |"
done
[[ $survivors -eq 0 ]]
