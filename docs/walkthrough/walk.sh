#!/usr/bin/env bash
# The walkthrough of docs/walkthrough.md, as a new user does it: a fresh clone, scripts/demo.sh,
# then an image of one's own (star.py) trained with the regenerating quick preset, grown with a
# video, cut in half and filmed healing, cut as Distill cuts, and exported.
# Prints every command with "$ " before it and what it printed (stdout and stderr), with the
# wall time of each, so that the page can quote them.
#   bash docs/walkthrough/walk.sh REPOSITORY WORKDIR     (WORKDIR must not exist)
# The pictures the page shows are copied from WORKDIR/nca/runs/star afterwards.
set -euo pipefail
repo=${1:?usage: walk.sh REPOSITORY WORKDIR}
work=${2:?usage: walk.sh REPOSITORY WORKDIR}
[[ ! -e $work ]] || { echo "walk.sh: $work exists; give a new directory" >&2; exit 2; }
mkdir -p "$work"
cd "$work"

step() {  # step COMMAND...: show it, run it, show its output and how long it took
  echo "\$ $*"
  local t0=$SECONDS
  "$@" 2>&1
  echo "(${FUNCNAME[0]}: $((SECONDS - t0)) s)"
}

step git clone --quiet "$repo" nca
cd nca
step bash scripts/demo.sh
step python3 docs/walkthrough/star.py
mv star.png runs/
nca=build/nca
run=runs/star
step "$nca" train --target runs/star.png --config configs/quick.toml --run-dir "$run"
step "$nca" grow --model "$run" --out "$run/grow" --video "$run/grow/star.mp4" --step-counter
step "$nca" regen --model "$run" --out "$run/regen" --cut half --video "$run/heal.mp4" --step-counter
# Distill's own cut, a 16x16 square out of the middle.
step "$nca" regen --model "$run" --out "$run/regen-square" --cut square
step "$nca" export --model "$run" --web "$run/web"
step ls "$run"
