#!/usr/bin/env bash
# Measures `nca bench` against the plain PyTorch reference (shared/peer/reference_nca.py) in one
# run, at the reference setting (40 px lizard, pad 16, batch 8, rollouts 64-95, 2 threads),
# alternating them ROUNDS times so that a busy machine affects both alike, and prints the ratios.
#   scripts/bench-vs-reference.sh [ROUNDS] [MODEL]
# Environment: REF (reference script), REF_ITERS (reference iterations, default 6), NCA_ITERS
# (nca bench iterations, default 10), THREADS (default 2), NCA_BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
model=${2:-data/models/lizard-regenerating.pt}
ref=${REF:-../shared/peer/reference_nca.py}
threads=${THREADS:-2}
nca=${NCA_BUILD_DIR:-build}/nca
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  /usr/bin/python3 "$ref" --target data/lizard.png --experiment regenerating --threads "$threads" \
    --iters "${REF_ITERS:-6}" --log-every 1000 | grep '^summary:' | tee -a "$out/ref.txt"
  "$nca" bench --target data/lizard.png --config configs/regenerating.toml --model "$model" \
    --threads "$threads" --iters "${NCA_ITERS:-10}" --json | tail -n 1 | tee -a "$out/nca.txt"
done
python3 - "$out/ref.txt" "$out/nca.txt" <<'EOF'
import json, re, statistics, sys
ref = [dict(re.findall(r"(\w+)=(\S+)", line)) for line in open(sys.argv[1])]
nca = [json.loads(line) for line in open(sys.argv[2])]
for i, (a, b) in enumerate(zip(ref, nca)):
    print(f"round {i + 1}: reference {float(a['cell_steps_per_s']):.4g} cell-steps/s, "
          f"{float(a['sec_per_iter']):.3f} s/iter, {float(a['peak_rss_mb']):.0f} MB | nca "
          f"{b['train_cell_steps_per_s']:.4g} cell-steps/s, {b['sec_per_iter']:.3f} s/iter, "
          f"{b['peak_rss_mb']:.0f} MB | throughput x{b['train_cell_steps_per_s'] / float(a['cell_steps_per_s']):.1f}, "
          f"memory 1/{float(a['peak_rss_mb']) / b['peak_rss_mb']:.1f}")
tp = [b["train_cell_steps_per_s"] / float(a["cell_steps_per_s"]) for a, b in zip(ref, nca)]
mem = [float(a["peak_rss_mb"]) / b["peak_rss_mb"] for a, b in zip(ref, nca)]
print(f"median: throughput x{statistics.median(tp):.1f}, memory 1/{statistics.median(mem):.1f}")
EOF
