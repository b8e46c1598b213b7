# The loss-curve regression (tests/cli/test_loss_{growing,persistent,regenerating}.sh), on top of
# lib.sh: one tiny fixed-seed training per experiment against its golden curve in tests/golden/.
# What is compared, and why these tolerances (measured): docs/testing.md.
#   - every row: the same iteration, rollout length and learning rate (they come from the
#     generator and the schedule, not from float arithmetic);
#   - the first EXACT iterations: loss within RTOL relative of the golden's;
#   - after them, windows of WINDOW iterations: mean log10 loss within BAND of the golden's.
EXACT=${NCA_LOSS_EXACT:-20}
RTOL=${NCA_LOSS_RTOL:-1e-3}
WINDOW=${NCA_LOSS_WINDOW:-10}

# compare_curves GOLDEN RUN BAND: the checks above; prints each difference found.
compare_curves() {
  awk -F, -v exact="$EXACT" -v rtol="$RTOL" -v window="$WINDOW" -v band="$3" '
    function abs(v) { return v < 0 ? -v : v }
    FNR == 1 { next }
    FILENAME == ARGV[1] { n++; it[n] = $1; loss[n] = $2; lg[n] = $3; steps[n] = $4; lr[n] = $5; next }
    { m++
      if (m > n) { printf "row %d: more rows than the golden (%d)\n", m, n; bad = 1; next }
      if ($1 != it[m] || $4 != steps[m] || $5 != lr[m]) {
        printf "row %d: iteration, steps, lr %s, %s, %s; golden %s, %s, %s\n", m, $1, $4, $5, it[m], steps[m], lr[m]
        bad = 1 }
      if (it[m] < exact) {
        d = abs($2 - loss[m]) / loss[m]
        if (d > worst) worst = d
        if (d > rtol) { printf "iteration %d: loss %s, golden %s (relative %.1e)\n", $1, $2, loss[m], d; bad = 1 }
      } else { w = int((it[m] - exact) / window); r[w] += $3; g[w] += lg[m]; c[w]++ }
    }
    END {
      if (m != n) { printf "%d rows, golden %d\n", m, n; bad = 1 }
      printf "first %d iterations: largest relative loss difference %.1e (allowed %g)\n", exact, worst, rtol
      wd = 0
      for (w = 0; w in c; w++) {
        d = abs(r[w] - g[w]) / c[w]
        if (d > wd) wd = d
        if (d > band) {
          printf "iterations %d-%d: mean log10 loss %.4f, golden %.4f (off by %.4f)\n", exact + w * window,
            exact + w * window + c[w] - 1, r[w] / c[w], g[w] / c[w], d
          bad = 1 }
      }
      printf "windows of %d: largest difference of the mean log10 loss %.4f (allowed %g)\n", window, wd, band
      exit bad }' "$1" "$2"
}

# loss_curve EXPERIMENT BAND: trains tests/golden/EXPERIMENT.toml and compares with its golden.
loss_curve() {
  local e=$1 band=$2 golden=$SRC/tests/golden/$1_loss.csv
  "$NCA" train --target "$SRC/data/lizard.png" --config "$SRC/tests/golden/$e.toml" \
    --run-dir run >train.log 2>&1 || { cat train.log; fail "training run"; finish; exit; }
  check "$e: the curve follows $golden" compare_curves "$golden" run/loss.csv "$band"
  finish
}
