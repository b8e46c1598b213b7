#!/usr/bin/env bash
# The loss-curve regression: a tiny fixed-seed run must fall (mean loss of the last 20 iterations
# below half of the first 20) and stay within a band around the golden curve, window by window.
source "$(dirname "$0")/lib.sh"
G=$SRC/tests/golden
"$NCA" train --target "$SRC/data/lizard.png" --config "$G/tiny.toml" --run-dir run 2>/dev/null ||
  fail "training run"
check "200 iterations" test "$(tail -n +2 run/loss.csv | wc -l)" -eq 200
check "the curve falls" awk -F, 'NR > 1 && $1 < 20 {a += $2} NR > 1 && $1 >= 180 {b += $2}
  END {printf "first 20 mean %.5f, last 20 mean %.5f\n", a / 20, b / 20; exit !(b < a / 2)}' run/loss.csv
# Windows of 20 iterations: mean log10 loss within 0.25 of the golden run's (a factor of 1.8).
check "within the band around the golden curve" awk -F, '
  FNR == 1 {next}
  FILENAME == ARGV[1] {g[int($1 / 20)] += $3; next}
  {r[int($1 / 20)] += $3}
  END {bad = 0
    for (w in g) {d = (r[w] - g[w]) / 20; if (d < 0) d = -d
      if (d > 0.25) {printf "window %d: log10 %.3f vs golden %.3f\n", w, r[w] / 20, g[w] / 20; bad = 1}}
    exit bad}' "$G/tiny_loss.csv" run/loss.csv
finish
