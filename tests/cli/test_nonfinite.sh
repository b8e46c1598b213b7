#!/usr/bin/env bash
# Non-finite values end to end, without any test hook in nca: a learning rate so large (1e30, the
# largest accepted) that the run diverges: the first step makes the weights huge, and every
# rollout after it overflows, so the loss, the states and the gradients are NaN or infinite.
# Every bad iteration is logged and skipped, training goes on to the end (exit 0), and what is
# saved is the last good state: model.pt loads (every tensor checked finite), pool.pt is finite,
# and --resume continues from it. tests/test_trainer.cpp checks that a skipped iteration leaves
# weights, Adam's moments and the pool exactly as they were, also when the optimiser step itself
# overflows (then they are put back).
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
args=(--size 8 --pad 2 --batch 4 --pool 8 --min-steps 4 --max-steps 6 --threads 1
  --snapshot-every 2 --save-every 2)
injected=0

# lr and what the log must say was not finite.
declare -A reason=([1e30]="(the loss|a state|a gradient) is not finite")
for lr in 1e30; do
  run=run-$lr
  log=$WORK/log-$lr
  timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --lr "$lr" --iters 5 --run-dir "$run" \
    >"$log" 2>&1
  check "lr $lr: the run finishes (exit $?)" test $? -eq 0
  skipped=$(grep -c "update skipped, the last good weights, optimiser state and pool kept" "$log")
  injected=$((injected + skipped))
  echo "lr $lr: $skipped of 5 iterations skipped: $(grep -m1 'update skipped' "$log")"
  check "lr $lr: non-finite iterations were logged and skipped" test "$skipped" -ge 4
  check "lr $lr: the log says what was not finite" grep -Eq "${reason[$lr]}" "$log"
  check "lr $lr: model.pt loads with every tensor finite" test "$("$PROBE" model "$run/model.pt")" = 5
  check "lr $lr: pool.pt is finite" test "$("$PROBE" pool "$run/pool.pt")" = "5 finite"
  check "lr $lr: the periodic checkpoint loads" test "$("$PROBE" model "$run/checkpoints/model_000004.pt")" = 4
  check "lr $lr: loss.csv has every iteration" cmp -s <(tail -n +2 "$run/loss.csv" | cut -d, -f1) <(seq 0 4)
  timeout 120 "$NCA" train --run-dir "$run" --resume --iters 7 >"$WORK/log" 2>&1
  check "lr $lr: --resume goes on (exit $?)" test $? -eq 0
  check "lr $lr: resumed to iteration 7" test "$("$PROBE" model "$run/model.pt")" = 7
done
echo "non-finite iterations injected: $injected"
finish
