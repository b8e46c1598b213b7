#!/usr/bin/env bash
# The data-parallel figures of docs/data-parallel.md and docs/performance.md ("On many machines"), on this
# machine, with the binary in build/ (scripts/build.sh first):
#   1. statistical equivalence: configs/quick-persistent.toml (batch 8) as 1 process against --nproc 2
#      (4 + 4), the mean log10 loss of the last 100 iterations of each (same seed, same
#      iteration count);
#   2. overhead at the reference setting (Distill: 72x72, batch 8, pool 1024, 64-96 steps):
#      1 process x 2 threads against --nproc 2 x 1 thread each, in alternating rounds, the
#      milliseconds per rollout step of iterations 2.. of each round (the first warms up; the
#      two runs draw different rollout lengths), and the ratio;
#   3. what one all-reduce of the 10,368 gradients costs (the tests' probe, 200 all-reduces).
# Usage: scripts/data-parallel-figures.sh [ROUNDS (default 3)] [ITERS per round (default 12)]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
iters=${2:-12}
nca=$PWD/build/nca
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# mean_log10 RUN FROM: the mean log10 loss of the iterations >= FROM in RUN/loss.csv.
mean_log10() {
  awk -F, -v from="$2" 'NR > 1 && $1 >= from { s += $3; n++ } END { printf "%.3f", s / n }' \
    "$1/loss.csv"
}
# ms_per_step RUN: milliseconds per rollout step over the iterations after the first (the runs
# draw different rollout lengths; every rank runs rank 0's, which loss.csv holds).
ms_per_step() {
  awk -F, 'NR > 2 { s += $6; n += $4 } END { printf "%.2f", 1000 * s / n }' "$1/loss.csv"
}

echo "== 1. configs/quick-persistent.toml, 1500 iterations: 1 process (batch 8) against 2 (4 + 4)"
"$nca" train --target data/lizard.png --config configs/quick-persistent.toml --threads 2 \
  --snapshot-every 0 --save-every 0 --run-dir "$work/q1" >/dev/null
"$nca" train --target data/lizard.png --config configs/quick-persistent.toml --nproc 2 \
  --snapshot-every 0 --save-every 0 --run-dir "$work/q2" >/dev/null
one=$(mean_log10 "$work/q1" 1400)
two=$(mean_log10 "$work/q2" 1400)
echo "mean log10 loss of iterations 1400-1499: 1 process $one, 2 processes $two," \
  "difference $(awk -v a="$one" -v b="$two" 'BEGIN { d = b - a; printf "%+.3f", d }')"

echo "== 2. the reference setting, $rounds alternating rounds of $iters iterations"
ref=(--target data/lizard.png --experiment regenerating --iters "$iters" --snapshot-every 0
  --save-every 0)
for r in $(seq "$rounds"); do
  "$nca" train "${ref[@]}" --threads 2 --run-dir "$work/r1-$r" >/dev/null
  "$nca" train "${ref[@]}" --nproc 2 --threads 1 --run-dir "$work/r2-$r" >/dev/null
  a=$(ms_per_step "$work/r1-$r")
  b=$(ms_per_step "$work/r2-$r")
  echo "round $r: 1 process x 2 threads $a ms/step, 2 processes x 1 thread $b ms/step," \
    "speed ratio (2 processes / 1) $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
done

echo "== 3. one all-reduce of the 10,368 gradients between 2 local processes (Gloo)"
probe=$PWD/build/tests/nca_dp_probe
[[ -x $probe ]] || probe=$(find build -name nca_dp_probe -type f | head -1)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$probe" allreduce 200 \
    >"$work/ar$r" &
done
wait
cat "$work/ar0"
