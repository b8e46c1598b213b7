#!/usr/bin/env bash
# Regenerates tests/golden/tiny_loss.csv, the golden curve of tests/cli/test_loss_curve.sh, by
# running the same tiny training with the current build. Run it only after a deliberate change to
# what training computes, and say why in the commit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${NCA_BUILD_DIR:-build}"/nca train --target data/lizard.png --config tests/golden/tiny.toml \
  --run-dir "$tmp/run"
cp "$tmp/run/loss.csv" tests/golden/tiny_loss.csv
echo "wrote tests/golden/tiny_loss.csv"
