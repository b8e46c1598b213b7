#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-fuzz/) and runs each for SECONDS
# (default 60) from its seed corpus, tests/fuzz/corpus/<target>/, printing how many inputs each
# executed. New interesting inputs go to build-fuzz/corpus/<target>/ (the seeds in the repository
# are only read). A finding (crash, sanitizer report, hang, memory blow-up) stops that target,
# is saved as build-fuzz/findings/<target>-crash-<sha1> (or -timeout-, -oom-), and the script
# fails after the other targets ran; reproduce with build-fuzz/tests/fuzz/fuzz_<target> FILE.
# Once fixed, add the file to the seed corpus: ctest replays every seed (fuzz.replay.*).
#
# The targets run side by side, as many at a time as there are cores.
# --seed N repeats, as closely as libFuzzer allows, what CI runs: libFuzzer's random seed is N
# and the run starts from the seed corpus alone (build-fuzz/corpus-seed-N/, emptied first,
# never reloaded), so it starts with the same inputs in the same order on every machine. It is
# not an exact repeat: coverage differs a little from run to run (LibTorch keys state by
# address), and after a thousand or so inputs the two runs drift apart.
#   scripts/fuzz.sh [--seed N] [SECONDS] [TARGET...]   targets: image config checkpoint distill
#                                                     (all)
set -uo pipefail
cd "$(dirname "$0")/.."
seed=
if [[ "${1:-}" == --seed ]]; then
  seed=${2:?--seed needs a number}
  shift 2
fi
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(image config checkpoint distill)
scripts/sanitize.sh --build-only || exit 1
source tests/sanitizers/env.sh
# Leaks are checked by the sanitized test suite; inside a fuzzer LibTorch's one-time caches
# would read as a leak of the first input that filled them.
export ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"
mkdir -p build-fuzz/findings
# fuzz_one TARGET: runs one target; its summary goes to build-fuzz/fuzz-TARGET.result, and its exit
# status says whether it found something.
fuzz_one() {
  local t=$1 bin out seed_flag=() dict=() log rc execs
  bin=build-fuzz/tests/fuzz/fuzz_$t
  out=build-fuzz/corpus/$t
  if [[ -n $seed ]]; then
    out=build-fuzz/corpus-seed-$seed/$t
    rm -rf "$out"
    seed_flag=(-seed="$seed" -reload=0)
  fi
  mkdir -p "$out"
  [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
  log=build-fuzz/fuzz-$t.log
  # -rss_limit_mb (also the largest single allocation): a 16-megapixel image, the largest
  # accepted, takes about 0.5 GB to load; anything near 4 GB is a finding.
  "$bin" "$out" "tests/fuzz/corpus/$t" "${dict[@]}" "${seed_flag[@]}" \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$t-" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "${execs:-0}" >"build-fuzz/fuzz-$t.execs"
  if [[ $rc -ne 0 ]]; then
    {
      echo "fuzz $t: FINDING after ${execs:-0} executions (exit $rc); log: $log"
      grep -E "^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" "$log" | head -n 5
    } >"build-fuzz/fuzz-$t.result"
    return
  fi
  echo "fuzz $t: ${execs:-0} executions in ${seconds}s, no finding ($(ls "$out" | wc -l) inputs in $out)" \
    >"build-fuzz/fuzz-$t.result"
}

# The targets run side by side, one per core (each fuzzer is one process).
for t in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $(nproc) ]]; do wait -n || true; done
  fuzz_one "$t" &
done
wait
total=0
failed=()
for t in "${targets[@]}"; do
  cat "build-fuzz/fuzz-$t.result"
  grep -q "^fuzz $t: FINDING" "build-fuzz/fuzz-$t.result" && failed+=("$t")
  total=$((total + $(cat "build-fuzz/fuzz-$t.execs")))
done
echo "fuzz: $total executions in all"
[[ ${#failed[@]} -eq 0 ]] || { echo "fuzz: findings in: ${failed[*]}"; exit 1; }
