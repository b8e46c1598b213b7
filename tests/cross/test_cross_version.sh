#!/usr/bin/env bash
# Files cross LibTorch generations both ways: what nca on LibTorch 1.13 (Debian 12, the host's
# build/) writes, nca on LibTorch 2.6 (the Debian 13 chroot's build-debian13/) reads, and the
# other way round. Run by scripts/debian13.sh once both builds exist:
#   tests/cross/test_cross_version.sh HOST_BUILD_DIR CHROOT_DIR DEBIAN13_SCRIPT
# Checked, each way: a training run with its pool resumes on the other version (through the
# archive guard, which checks every model.pt and pool.pt it opens) and continues without a gap;
# the shipped models give the same `nca regen` figures on both; a TorchScript export from each
# version loads in Python PyTorch 1.13 and 2.6 and computes what the C++ model computes.
set -uo pipefail
HOST_BUILD=$(cd "$1" && pwd)
DEBIAN13=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
cd "$SRC" || exit 1
# Scratch space inside the tree, so that the chroot (which sees the tree at /nca) sees it too.
WORK=build-cross
rm -rf "$WORK"
mkdir -p "$WORK"
failures=0
checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() {
  local what=$1
  shift
  checks=$((checks + 1))
  if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

# v113 / v26 ARGS...: nca on LibTorch 1.13 / 2.6, from the tree's root.
v113() { timeout 300 "$HOST_BUILD/nca" "$@"; }
v26() {
  local quoted
  printf -v quoted '%q ' "$@"
  timeout 300 "$DEBIAN13" exec "build-debian13/nca $quoted"
}
py113() { timeout 300 /usr/bin/python3 "$@"; }
version() { [[ $1 == 113 ]] && echo 1.13 || echo 2.6; }
py26() {
  local quoted
  printf -v quoted '%q ' "$@"
  timeout 300 "$DEBIAN13" exec "python3 $quoted"
}

TINY=(--target data/lizard.png --experiment regenerating --size 8 --pad 2 --batch 4 --pool 8
  --min-steps 4 --max-steps 6 --threads 1 --snapshot-every 0 --save-every 3 --seed 5)

# iterations_once DIR N: loss.csv holds iterations 0..N-1, each exactly once.
iterations_once() {
  [[ $(tail -n +2 "$1/loss.csv" | cut -d, -f1 | tr '\n' ' ') == "$(seq -s ' ' 0 $(($2 - 1))) " ]]
}
# same_losses A B: the two loss.csv files give the same loss per iteration, within 1e-3 relative.
same_losses() {
  paste -d, <(tail -n +2 "$1/loss.csv" | cut -d, -f1,2) <(tail -n +2 "$2/loss.csv" | cut -d, -f1,2) |
    awk -F, '$1 != $3 {bad = 1} {d = $2 - $4; if (d < 0) d = -d; if (d > 1e-3 * $2) bad = 1; n++}
             END {exit bad || n == 0}'
}

# A run trained on one version resumes on the other, with its optimiser, generator and pool.
for way in "113 26" "26 113"; do
  read -r from to <<<"$way"
  run=$WORK/run-$from
  check "a run trained on LibTorch $(version "$from")" "v$from" train "${TINY[@]}" --iters 6 \
    --run-dir "$run"
  check "... resumes on LibTorch $(version "$to") (model.pt and pool.pt through the archive guard)" \
    "v$to" train --run-dir "$run" --resume --iters 10 --threads 1
  check "... and continues without a gap or a repeat: iterations 0-9 once each" \
    iterations_once "$run" 10
  check "an uninterrupted run of 10 iterations on LibTorch $(version "$from")" "v$from" train \
    "${TINY[@]}" --iters 10 --run-dir "$run-straight"
  check "... has the resumed run's losses (optimiser, generator and pool carried over)" \
    same_losses "$run" "$run-straight"
  check "... its model grows on LibTorch $(version "$from") again" "v$from" grow --model "$run" --steps 20 \
    --every 20 --out "$WORK/grow-$from"
done

# The shipped regenerating lizard heals the same on both.
v113 regen --cut half --at 200 --steps 300 --every 100 --seed 0 --out "$WORK/regen-113" \
  >"$WORK/regen-113.txt"
v26 regen --cut half --at 200 --steps 300 --every 100 --seed 0 --out "$WORK/regen-26" \
  >"$WORK/regen-26.txt"
cat "$WORK/regen-113.txt"
# same_figures: every figure of the two reports agrees within 1e-3 relative.
same_figures() {
  paste -d' ' <(grep -oE '[0-9]+\.[0-9]+' "$WORK/regen-113.txt") \
    <(grep -oE '[0-9]+\.[0-9]+' "$WORK/regen-26.txt") |
    awk 'NF != 2 {bad = 1} {d = $1 - $2; if (d < 0) d = -d; if (d > 1e-3 * $1 + 1e-7) bad = 1;
         n++} END {exit bad || n < 4}'
}
check "nca regen on the shipped lizard: the same figures on LibTorch 1.13 and 2.6" same_figures

# TorchScript exports from each version load in Python PyTorch of each version.
REF=$HOST_BUILD/tests/nca_reference
MODEL=data/models/lizard-regenerating.pt
check "the C++ reference for the export check" "$REF" "$MODEL" "$WORK/ref.json" 72 120 0 1
check "export --torch on LibTorch 1.13" v113 export --model "$MODEL" --torch "$WORK/export-113.pt"
check "export --torch on LibTorch 2.6" v26 export --model "$MODEL" --torch "$WORK/export-26.pt"
for from in 113 26; do
  for py in 113 26; do
    check "the LibTorch $(version "$from") export in Python PyTorch $(version "$py")" \
      "py$py" tests/export/check_torch.py "$WORK/export-$from.pt" "$WORK/ref.json" 72
  done
done

echo "$((checks - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
