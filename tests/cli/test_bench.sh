#!/usr/bin/env bash
# nca bench: one error line for a missing model or bad flags; a small run prints its table and a
# JSON line with the documented keys; --backend fast and torch both run.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png

expect 2 "model 'nope.pt' not found" -- bench --target "$LIZ" --model nope.pt
expect 2 "unknown backend 'gpu'" -- bench --target "$LIZ" --backend gpu

"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 3 --run-dir run >/dev/null 2>&1 || fail "training a tiny model"
for backend in fast torch; do
  "$NCA" bench --target "$LIZ" "${TINY[@]}" --model run --iters 2 --warmup 1 --grow-steps 8 \
    --backend "$backend" --json >"bench-$backend.txt" 2>&1 || fail "bench --backend $backend"
  check "bench --backend $backend: JSON keys on the last line" python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["backend"] == sys.argv[2], r
for k in ("sec_per_iter", "train_cell_steps_per_s", "grow_cell_steps_per_s", "peak_rss_mb"):
    assert r[k] > 0, (k, r)
' "bench-$backend.txt" "$backend"
  check "bench --backend $backend: table" grep -q "seconds per training iteration" "bench-$backend.txt"
done
# From any working directory: the shipped model and target are found as grow and regen find them.
mkdir elsewhere
(cd elsewhere && "$NCA" bench "${TINY[@]}" --iters 1 --warmup 0 --grow-steps 4 --json \
  >../bench-elsewhere.txt 2>&1) || fail "bench outside the checkout: $(cat bench-elsewhere.txt)"
check "bench outside the checkout: the shipped model" \
  grep -q "data/models/lizard-regenerating.pt" bench-elsewhere.txt
finish
