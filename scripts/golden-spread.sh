#!/usr/bin/env bash
# Measures how far the loss-curve goldens (tests/golden/*_loss.csv) move when nothing that
# training computes changes: other thread counts, kernel targets (NCA_FAST_KERNELS), the plain
# LibTorch backend; and, for scale, how far another seed moves them. docs/testing.md sets the
# tolerances of tests/cli/loss_curve.sh from this output.
#   scripts/golden-spread.sh [EXPERIMENT...]     default: growing persistent regenerating
# NCA (default build/nca) is the binary measured; NCA_SPREAD_VARIATIONS picks among "threads
# kernels backend seeds" (default all); NCA_SPREAD_SEEDS (default "101 102 103").
# Per variation: the largest relative loss difference in the first EXACT iterations, the first
# iteration whose loss differs by more than 1e-3 relative, and the largest difference of a
# WINDOW-iteration mean of log10 loss after the first EXACT (EXACT, WINDOW as in loss_curve.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
nca=${NCA:-$src/build/nca}
exact=${NCA_LOSS_EXACT:-20}
window=${NCA_LOSS_WINDOW:-10}
experiments=("$@")
[[ ${#experiments[@]} -gt 0 ]] || experiments=(growing persistent regenerating)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# spread GOLDEN RUN: one result line.
spread() {
  awk -F, -v exact="$exact" -v window="$window" '
    function abs(v) { return v < 0 ? -v : v }
    FNR == 1 { next }
    FILENAME == ARGV[1] { loss[$1] = $2; lg[$1] = $3; next }
    { d = abs($2 - loss[$1]) / loss[$1]
      if ($1 < exact && d > worst) worst = d
      if (d > 1e-3 && first == "") first = $1
      if ($1 >= exact) { w = int(($1 - exact) / window); r[w] += $3; g[w] += lg[$1]; c[w]++ } }
    END { for (w = 0; w in c; w++) { x = abs(r[w] - g[w]) / c[w]; if (x > wd) wd = x }
      printf "first %d: %.1e  first > 1e-3: %-5s  windows: %.4f\n", exact, worst,
        first == "" ? "none" : first, wd }' "$1" "$2"
}

# variation NAME ENV... -- FLAGS...: trains EXPERIMENT's config with them and prints its spread.
variation() {
  local name=$1 env=() flags=()
  shift
  while [[ $1 != -- ]]; do env+=("$1"); shift; done
  shift
  flags=("$@")
  rm -rf "$tmp/run"
  env "${env[@]}" "$nca" train --target data/lizard.png --config "tests/golden/$e.toml" \
    "${flags[@]}" --run-dir "$tmp/run" >/dev/null 2>&1
  printf "%-13s %-26s %s\n" "$e" "$name" "$(spread "tests/golden/${e}_loss.csv" "$tmp/run/loss.csv")"
}

echo "nca: $nca ($("$nca" --version 2>/dev/null || echo '?'))"
for e in "${experiments[@]}"; do
  for v in ${NCA_SPREAD_VARIATIONS:-threads kernels backend seeds}; do
    case $v in
      threads) for t in 1 2; do variation "threads $t" -- --threads "$t"; done ;;
      kernels)  # every Highway target this CPU runs but the best, the default of the others
        for k in $("$nca" bench --kernels list | tail -n +2); do
          variation "kernels $k" NCA_FAST_KERNELS="$k" --
        done ;;
      backend) variation "backend torch" -- --backend torch ;;
      seeds) for s in ${NCA_SPREAD_SEEDS:-101 102 103}; do variation "seed $s (scale)" -- --seed "$s"; done ;;
      *) echo "golden-spread: unknown variation '$v'" >&2; exit 2 ;;
    esac
  done
done
