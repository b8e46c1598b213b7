#!/usr/bin/env bash
# Measures `nca bench` against the plain PyTorch reference (tests/training/reference.py: the same
# training, eager; or another script with its flags and output, REF=PATH) in one run, at the
# reference setting (40 px lizard, pad 16, batch 8, rollouts 64-95, 2 threads), running every
# contender once per round, ROUNDS times, so that a busy moment of the machine
# affects all of them alike; prints every round and the medians.
#   scripts/bench-vs-reference.sh [ROUNDS] [MODEL]
# Contenders (PEERS, in this order within a round; default "ref-1.13 nca-1.13"):
#   ref-1.13         the reference on Debian 12's python3-torch 1.13, eager
#   nca-1.13         build/nca (LibTorch 1.13)
#   nca-1.13/TARGET  the same with the fast step's kernels forced to a Highway target
#                    (`nca bench --kernels TARGET`; `nca bench --kernels list` names them)
#   ref-2.6          the reference on Debian 13's python3-torch 2.6, eager  } in the chroot of
#   ref-2.6-compile  the same with --compile (torch.compile)               } scripts/debian13.sh
#   nca-2.6          build-debian13/nca (LibTorch 2.6)                      }
#   ref-cpu, ref-cuda          the reference on $PYTHON's torch (default python3), on that device
#   ref-cpu-compile, ref-cuda-compile   the same with --compile
#   nca-cpu, nca-cuda          $NCA_BUILD_DIR/nca (default build/) with --device cpu or cuda
#                              (what scripts/gpu-check.sh measures on a GPU machine)
# Each nca contender is compared with the strongest reference of the same round.
# The reference's figure is its steady state: cell-steps per second over its iterations after the
# first REF_WARMUP (default 1; torch.compile compiles again in its second iteration, so 3 for
# ref-2.6-compile), from its per-iteration log lines.
# Environment: REF (reference script), REF_ITERS (reference iterations, default 6), NCA_ITERS
# (nca bench iterations, default 10), THREADS (default 2), PEERS, REF_WARMUP.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
model=${2:-data/models/lizard-regenerating.pt}
ref=${REF:-tests/training/reference.py}
threads=${THREADS:-2}
peers=(${PEERS:-ref-1.13 nca-1.13})
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The chroot sees only the tree: it gets its own copy of the reference.
mkdir -p build-bench
cp "$ref" build-bench/reference_nca.py

ref_args=(--target data/lizard.png --experiment regenerating --threads "$threads"
  --iters "${REF_ITERS:-6}" --log-every 1)
nca_args=(bench --target data/lizard.png --config configs/regenerating.toml --model "$model"
  --threads "$threads" --iters "${NCA_ITERS:-10}" --json)
in_chroot() { scripts/debian13.sh exec "$(printf '%q ' "$@")"; }
# steady WARMUP: the reference's summary line with cell_steps_per_s and sec_per_iter taken over
# its iterations after the first WARMUP ("iter I loss L log10 G steps S Ts" lines).
cells=$((8 * 72 * 72))
steady() {
  awk -v warm="$1" -v cells="$cells" '
    $1 == "iter" && $2 >= warm {n++; cs += cells * $8; t += substr($9, 1, length($9) - 1)}
    $1 == "summary:" {for (i = 2; i <= NF; i++) if ($i ~ /^peak_/) peaks = peaks " " $i}
    END {if (n == 0) exit 1; printf "summary: iters=%d sec_per_iter=%.4f cell_steps_per_s=%.4g%s\n", n, t / n, cs / t, peaks}'
}

run_peer() {
  case $1 in
    ref-1.13) /usr/bin/python3 build-bench/reference_nca.py "${ref_args[@]}" | steady "${REF_WARMUP:-1}" ;;
    ref-2.6) in_chroot python3 build-bench/reference_nca.py "${ref_args[@]}" | steady "${REF_WARMUP:-1}" ;;
    ref-2.6-compile)
      in_chroot python3 build-bench/reference_nca.py "${ref_args[@]}" --compile |
        steady "${REF_WARMUP:-3}" ;;
    nca-1.13) "${NCA_BUILD_DIR:-build}/nca" "${nca_args[@]}" 2>/dev/null | tail -n 1 ;;
    nca-1.13/*)
      "${NCA_BUILD_DIR:-build}/nca" "${nca_args[@]}" --kernels "${1#nca-1.13/}" 2>/dev/null |
        tail -n 1 ;;
    nca-2.6) in_chroot build-debian13/nca "${nca_args[@]}" 2>/dev/null | tail -n 1 ;;
    ref-cpu | ref-cuda)
      "${PYTHON:-python3}" build-bench/reference_nca.py "${ref_args[@]}" --device "${1#ref-}" |
        steady "${REF_WARMUP:-1}" ;;
    ref-cpu-compile | ref-cuda-compile)
      local device=${1#ref-}
      "${PYTHON:-python3}" build-bench/reference_nca.py "${ref_args[@]}" --device "${device%-compile}" \
        --compile | steady "${REF_WARMUP:-3}" ;;
    nca-cpu | nca-cuda)
      "${NCA_BUILD_DIR:-build}/nca" "${nca_args[@]}" --device "${1#nca-}" 2>/dev/null | tail -n 1 ;;
    *) echo "bench-vs-reference: unknown contender '$1'" >&2; exit 2 ;;
  esac
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "contenders: ${peers[*]}; $rounds rounds"
for r in $(seq "$rounds"); do
  for p in "${peers[@]}"; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(run_peer "$p")
    echo "round $r $p (load $load before): $line"
    echo "$r $p $line" >>"$out/results.txt"
  done
done
python3 - "$out/results.txt" <<'EOF'
import json, re, statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    r, peer, rest = line.split(" ", 2)
    if peer.startswith("ref"):
        d = dict(re.findall(r"(\w+)=(\S+)", rest))
        v = (float(d["cell_steps_per_s"]), float(d["sec_per_iter"]), float(d["peak_rss_mb"]))
    else:
        d = json.loads(rest)
        v = (d["train_cell_steps_per_s"], d["sec_per_iter"], d["peak_rss_mb"])
    rounds.setdefault(int(r), {})[peer] = v
ratios = {}
print("| round | " + " | ".join(f"{p} cell-steps/s (s/iter, peak MB)" for p in rounds[1]) + " |")
print("|---" * (len(rounds[1]) + 1) + "|")
for r, peers in sorted(rounds.items()):
    print(f"| {r} | " + " | ".join(f"{v[0]:.3g} ({v[1]:.3f}, {v[2]:.0f})" for v in peers.values()) + " |")
    refs = {p: v for p, v in peers.items() if p.startswith("ref")}
    if not refs:
        continue
    best = max(refs, key=lambda p: refs[p][0])
    for p, v in peers.items():
        if p.startswith("nca"):
            tp, mem = v[0] / refs[best][0], refs[best][2] / v[2]
            ratios.setdefault(p, []).append((tp, mem))
            print(f"round {r}: {p} against the strongest reference ({best}): throughput x{tp:.1f}, "
                  f"memory 1/{mem:.1f}")
for p, rs in ratios.items():
    print(f"median {p}: throughput x{statistics.median(t for t, _ in rs):.1f}, "
          f"memory 1/{statistics.median(m for _, m in rs):.1f} (rounds: "
          + ", ".join(f"x{t:.1f}" for t, _ in rs) + ")")
for p in rounds[1]:
    vals = [peers[p][0] for peers in rounds.values() if p in peers]
    print(f"{p}: cell-steps/s min {min(vals):.3g}, median {statistics.median(vals):.3g}, max {max(vals):.3g}")
EOF
