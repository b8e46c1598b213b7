#!/usr/bin/env bash
# Two runs with the same --seed and --threads write identical iter/loss columns.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png
args=(train --target "$LIZ" --size 12 --pad 3 --batch 4 --pool 16 --min-steps 8 --max-steps 12
  --iters 12 --threads 2 --snapshot-every 0)
"$NCA" "${args[@]}" --seed 3 --run-dir a >/dev/null || fail "first run"
"$NCA" "${args[@]}" --seed 3 --run-dir b >/dev/null || fail "second run"
"$NCA" "${args[@]}" --seed 4 --run-dir c >/dev/null || fail "third run"
check "12 rows" test "$(tail -n +2 a/loss.csv | wc -l)" -eq 12
check "same seed: identical iter,loss" cmp <(cut -d, -f1,2 a/loss.csv) <(cut -d, -f1,2 b/loss.csv)
check "other seed: other losses" bash -c "! cmp -s <(cut -d, -f2 a/loss.csv) <(cut -d, -f2 c/loss.csv)"
check "csv header" test "$(head -1 a/loss.csv)" = "iter,loss,log10_loss,steps,lr,seconds"
finish
