#!/usr/bin/env bash
# Kill -9 at random moments, many of them during a save (a checkpoint every iteration): model.pt
# must always load and hold a completed iteration, and --resume must go on from it without a
# gap in the loss curve.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
RANDOM=42  # the moments are random, but the same on every run
args=(--size 12 --pad 3 --batch 4 --pool 8 --min-steps 6 --max-steps 10 --threads 2
  --save-every 1 --snapshot-every 3 --run-dir run)
"$NCA" train --target "$SRC/data/lizard.png" --iters 2 "${args[@]}" >/dev/null ||
  fail "first run"
kills=8
last=2
for k in $(seq $kills); do
  "$NCA" train --resume --iters 100000 "${args[@]}" >"$WORK/log" 2>&1 &
  pid=$!
  # Past start-up (a new loss.csv row), then a random 0..0.9 s into iterations and saves.
  rows=$(wc -l <run/loss.csv)
  for _ in $(seq 300); do
    [[ $(wc -l <run/loss.csv) -gt $rows ]] && break
    sleep 0.1
  done
  sleep "$((RANDOM % 10))e-1"
  kill -KILL $pid
  wait $pid 2>/dev/null
  it=$("$PROBE" model run/model.pt)
  check "kill $k: model.pt loads (iteration '$it')" test -n "$it"
  check "kill $k: never behind the previous save ($it >= $last)" test "${it:-0}" -ge "$last"
  last=${it:-$last}
done
"$NCA" train --resume --iters $((last + 2)) "${args[@]}" >"$WORK/log" 2>&1
check "final resume completes" test $? -eq 0
check "resume cleaned the temporary files" test -z "$(find run -name '.*.tmp-*')"
check "loss.csv: iterations 0..$((last + 1)) exactly once" \
  cmp <(tail -n +2 run/loss.csv | cut -d, -f1) <(seq 0 $((last + 1)))
check "the run went on across the kills ($last iterations)" test "$last" -gt 2
echo "faults injected: $kills SIGKILLs"
finish
