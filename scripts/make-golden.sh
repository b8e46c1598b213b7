#!/usr/bin/env bash
# Regenerates the loss-curve goldens tests/golden/<experiment>_loss.csv (growing, persistent,
# regenerating) of tests/cli/test_loss_*.sh by running tests/golden/<experiment>.toml with the
# current build. Run it only after a deliberate change to what training computes, say why in the
# commit, and re-measure the spread (scripts/golden-spread.sh, docs/testing.md).
#   scripts/make-golden.sh [EXPERIMENT...]
set -euo pipefail
cd "$(dirname "$0")/.."
experiments=("$@")
[[ ${#experiments[@]} -gt 0 ]] || experiments=(growing persistent regenerating)
scripts/build.sh >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for e in "${experiments[@]}"; do
  "${NCA_BUILD_DIR:-build}"/nca train --target data/lizard.png --config "tests/golden/$e.toml" \
    --run-dir "$tmp/$e" >/dev/null
  cp "$tmp/$e/loss.csv" "tests/golden/${e}_loss.csv"
  echo "wrote tests/golden/${e}_loss.csv"
done
