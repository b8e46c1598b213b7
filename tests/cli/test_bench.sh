#!/usr/bin/env bash
# nca bench: one error line for a missing model or bad flags; a small run prints its table and a
# JSON line with the documented keys; --backend fast and torch both run; --kernels lists the
# fast step's kernel targets and forces one, and a name this CPU does not run is refused.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png

expect 2 "model 'nope.pt' not found" -- bench --target "$LIZ" --model nope.pt
expect 2 "unknown backend 'gpu'" -- bench --target "$LIZ" --backend gpu

"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 3 --run-dir run >/dev/null 2>&1 || fail "training a tiny model"
# TINY less --snapshot-every, a flag bench does not take (it draws no pictures).
BENCH_TINY=()
for ((i = 0; i < ${#TINY[@]}; i += 2)); do
  [[ ${TINY[i]} == --snapshot-every ]] || BENCH_TINY+=("${TINY[i]}" "${TINY[i + 1]}")
done
for backend in fast torch; do
  "$NCA" bench --target "$LIZ" "${BENCH_TINY[@]}" --model run --iters 2 --warmup 1 --grow-steps 8 \
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
# --kernels list: the targets this CPU runs, one a line, the fallback last; each can be forced,
# and the JSON line and the table say which ran.
"$NCA" bench --kernels list >kernels.txt 2>&1 || fail "bench --kernels list: $(cat kernels.txt)"
check "bench --kernels list: one target a line, the fallback last" \
  grep -qxE 'scalar|emu128' <(tail -n 1 kernels.txt)
check "bench --kernels list: names only" bash -c "! grep -vxE '[a-z0-9_]+' kernels.txt"
last=$(tail -n 1 kernels.txt)
"$NCA" bench --target "$LIZ" "${BENCH_TINY[@]}" --model run --iters 1 --warmup 0 --grow-steps 4 \
  --kernels "$last" --json >bench-kernels.txt 2>&1 || fail "bench --kernels $last: $(cat bench-kernels.txt)"
check "bench --kernels $last: the JSON line names the target" python3 -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert r["kernels"] == sys.argv[2], r
' bench-kernels.txt "$last"
check "bench --kernels $last: the table names it" grep -q "fast ($last kernels)" bench-kernels.txt
check "bench --backend torch: no kernels in the JSON line" python3 -c '
import json, sys
assert json.loads(open(sys.argv[1]).read().splitlines()[-1])["kernels"] is None
' bench-torch.txt
expect 2 "--kernels: no fast-step kernels are named 'avx9'; choose one of $(head -n 1 kernels.txt)" -- \
  bench --target "$LIZ" --model run --kernels avx9
NCA_FAST_KERNELS=avx9 expect 2 "NCA_FAST_KERNELS=avx9: no fast-step kernels are named 'avx9'; choose one of" -- \
  bench --target "$LIZ" "${BENCH_TINY[@]}" --model run --iters 1 --warmup 0 --grow-steps 4
# From any working directory: the shipped model and target are found as grow and regen find them.
mkdir elsewhere
(cd elsewhere && "$NCA" bench "${BENCH_TINY[@]}" --iters 1 --warmup 0 --grow-steps 4 --json \
  >../bench-elsewhere.txt 2>&1) || fail "bench outside the checkout: $(cat bench-elsewhere.txt)"
check "bench outside the checkout: the shipped model" \
  grep -q "data/models/lizard-regenerating.pt" bench-elsewhere.txt
# A training config serves bench as it is: its keys for what bench does not do are accepted and
# change nothing (the model's hidden width stays the model's), while the flags are refused.
printf 'save-every = 7\nsnapshot-every = 0\nlog-every = 3\nhidden = 64\nrun-dir = "x"\nforce = true\n' >train.toml
"$NCA" bench --target "$LIZ" "${BENCH_TINY[@]}" --model run --iters 1 --warmup 0 --grow-steps 4 \
  --config train.toml --json >bench-config.txt 2>&1 || fail "bench --config train.toml: $(cat bench-config.txt)"
check "bench with a training config: results" grep -q "seconds per training iteration" bench-config.txt
check "bench with a training config: nothing written" test ! -e x
printf 'save-evry = 7\n' >typo.toml
expect 2 "config file has an unknown key 'save-evry'" -- bench --target "$LIZ" --model run --config typo.toml
expect 2 "unknown argument '--snapshot-every' \(see --help\)" -- bench --target "$LIZ" --model run --snapshot-every 0
finish
