#!/usr/bin/env bash
# Distill's architecture and model files on the command line: --arch distill trains, exports to
# Distill's format and grows again from it; hostile model files get one line and exit 2; and with
# Distill's own files (NCA_DISTILL_MODELS) grow, regen, export and bench take them by their
# content, under an upstream emoji name too, and export --distill gives them back byte for byte.
source "$(dirname "$0")/lib.sh"

# Hostile files: one line, exit 2, whatever the command.
printf '[1, 2]' >numbers.json
expect 2 "cannot load model 'numbers.json': not a usable Distill model file: layer 1 is not an object" \
  -- grow --model numbers.json --steps 1 --out g
printf '  [{"data_b64": "AAAA", "in_ch": 48' >truncated.json
expect 2 "truncated.json': not a usable Distill model file: not valid JSON" \
  -- regen --model truncated.json --steps 1 --at 1 --out r
printf '[' >big.json
truncate -s 100M big.json
expect 2 "more than the 1048576 a Distill file may hold" -- export --model big.json --web page
expect 2 "not a usable Distill model file" -- bench --model numbers.json --iters 1
# The default architecture has no last bias: Distill's format cannot hold it.
expect 2 "--distill: Distill's format holds the notebook's network" \
  -- export --model "$SRC/data/models/lizard-regenerating.pt" --distill out.json
check "nothing written for a refused export" test ! -e out.json

# --arch distill: trains the notebook's network, exports to Distill's format, and the export
# grows again (and exports to the same bytes).
check "train --arch distill" "$NCA" train --target "$SRC/data/lizard.png" --arch distill \
  "${TINY[@]}" --iters 3 --run-dir run --experiment growing
check "config.toml says arch distill" grep -q '^arch = "distill"' run/config.toml
check "config.toml says perception distill" grep -q '^perception = "distill"' run/config.toml
check "export --distill" "$NCA" export --model run --distill run.json
check "grow from the export" "$NCA" grow --model run.json --steps 5 --out g1 --scale 1
check "export of the export" "$NCA" export --model run.json --distill again.json
check "the same bytes" cmp run.json again.json
expect 2 "arch distill is the Distill notebook's network" \
  -- train --target "$SRC/data/lizard.png" --arch distill --perception full "${TINY[@]}" --iters 1 \
  --run-dir run2

# Distill's own files, when their folder is here.
DISTILL=${NCA_DISTILL_MODELS:-}
if [[ -z $DISTILL || ! -f $DISTILL/ex3_lizard.json ]]; then
  [[ ${CI:-} == true ]] && fail "NCA_DISTILL_MODELS does not name Distill's model files (CI=true)"
  echo "note: NCA_DISTILL_MODELS unset: Distill's own files not tested (docs/distill.md)"
  finish
  exit
fi
cp "$DISTILL/ex3_lizard.json" "ex3_🦎.json"
"$NCA" grow --model "ex3_🦎.json" --steps 300 --every 100 --scale 1 --out lizard \
  --target "$SRC/data/lizard.png" 2>grow.log || fail "grow --model ex3_🦎.json"
check "grow measures the loss to --target" grep -q "loss to the target at step 300:" grow.log
check "grow wrote the GIF" test -s lizard/growth.gif
"$NCA" regen --model "ex3_🦎.json" --cut half --every 100 --scale 1 --out regen >regen.txt \
  2>/dev/null || fail "regen --model ex3_🦎.json"
cat regen.txt
check "regen says it measures against the model's own state" grep -q "own state" regen.txt
rec=$(sed -n 's/^recovered=//p' regen.txt)
check "regen --cut half: recovered=$rec >= 0.9" awk -v r="$rec" 'BEGIN {exit !(r >= 0.9)}'
check "export --distill of Distill's file" "$NCA" export --model "ex3_🦎.json" --distill back.json
check "byte for byte" cmp "ex3_🦎.json" back.json
check "export --web and --torch of Distill's file" "$NCA" export --model "ex3_🦎.json" --web page \
  --torch lizard.pt
check "bench on Distill's file" "$NCA" bench --model "ex3_🦎.json" --iters 1 --warmup 0 \
  --grow-steps 20 --batch 4 --pool 8 --threads 1
finish
