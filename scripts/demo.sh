#!/usr/bin/env bash
# From a fresh clone to a trained lizard: installs what is missing, builds (Release), trains
# data/lizard.png with configs/quick.toml (a regenerating lizard), grows it into a GIF, cuts it
# in half and watches it heal, and says where everything is.
#   scripts/demo.sh [RUN_DIR]      (default runs/demo-lizard; replaced if it exists)
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:-runs/demo-lizard}
scripts/deps.sh
NCA_BUILD_TARGET=nca scripts/build.sh
nca=${NCA_BUILD_DIR:-build}/nca
"$nca" train --target data/lizard.png --config configs/quick.toml --run-dir "$run" --force
"$nca" grow --model "$run" --steps 200 --every 2 --out "$run/grow"
"$nca" regen --model "$run" --cut half --out "$run/regen"
cat <<MSG

Done. Look at:
  $run/target.png         what the network was asked to grow
  $run/loss.png           the loss curve
  $run/batch.png          the last batch before and after its rollout
  $run/pool/              pool snapshots during training
  $run/growth.gif         the lizard growing from one cell ($run/grow/frame_*.png: the frames)
  $run/regen/regen.gif    the lizard cut in half at step 200, healing
  $run/model.pt           the model: $nca grow --model $run, $nca regen --model $run
MSG
