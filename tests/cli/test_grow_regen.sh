#!/usr/bin/env bash
# grow and regen on a tiny model trained here: frame counts and sizes, the GIF as giflib decodes
# it, loss.csv, the printed regen report, and bad input.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
"$NCA" train --target "$SRC/data/lizard.png" "${TINY[@]}" --iters 3 --run-dir run >/dev/null ||
  fail "training the tiny model"

# 10 steps, every 3rd: steps 0, 3, 6, 9 and the last (10); 12x12 grid upscaled twice.
"$NCA" grow --model run --steps 10 --every 3 --scale 2 --out g >/dev/null || fail "grow"
check "grow: 5 frames" test "$(ls g/frame_*.png | wc -l)" -eq 5
check "grow: frame 10 exists" test -f g/frame_00010.png
check "grow: frames are 24x24" test "$("$PROBE" png g/frame_00003.png)" = "24 24"
check "grow: GIF is 24x24 with 5 frames" test "$("$PROBE" gif g/growth.gif)" = "24 24 5"
check "grow: loss.csv has a row per frame" test "$(tail -n +2 g/loss.csv | cut -d, -f1 | tr '\n' ' ')" = "0 3 6 9 10 "

# A larger grid than the model was trained on (height x width), and a named GIF.
"$NCA" grow --model run/model.pt --steps 4 --grid 20x30 --scale 1 --out big --gif big.gif \
  --angle 45 >/dev/null || fail "grow --grid"
check "grow --grid: 30x20 frames" test "$("$PROBE" png big/frame_00004.png)" = "30 20"
check "grow --grid: GIF where asked" test "$("$PROBE" gif big.gif)" = "30 20 5"
check "grow --grid: no loss without the training grid" test ! -e big/loss.csv

# regen: 5 steps, cut, 6 more; the GIF shows step 5 before and after the cut.
"$NCA" regen --model run --at 5 --steps 6 --scale 1 --out r --cut square --cut-size 4 >r.txt 2>&1 ||
  fail "regen"
check "regen: GIF frames 0..5, cut 5, 6..11" test "$("$PROBE" gif r/regen.gif)" = "12 12 13"
check "regen: PNG frames 0..11" test "$(ls r/frame_*.png | wc -l)" -eq 12
check "regen: reports the 12 frames it wrote" grep -q "wrote 12 frames to r and r/regen.gif (13 frames" r.txt
check "regen: prints the losses" grep -q "loss before cut (step 5)" r.txt
check "regen: says how many cells the cut removed" grep -Eq "\([0-9]+ living cells removed\)" r.txt
check "regen: prints recovered=" grep -Eq "^recovered=(-?[0-9.]+|n/a \(.+\))$" r.txt
check "regen: never prints nan" bash -c "! grep -qi nan r.txt"
"$NCA" train --target "$SRC/data/lizard.png" "${TINY[@]}" --iters 3 --experiment growing \
  --run-dir run-growing >/dev/null 2>&1 || fail "training the tiny growing model"
"$NCA" regen --model run-growing --at 5 --steps 6 --scale 1 --out rg --cut half >rg.txt 2>&1 ||
  fail "regen on the growing model"
check "regen: a model never trained on damage gets a hint" \
  grep -q "^hint: this model was trained with experiment 'growing'" rg.txt
# A cut that misses the pattern (the left half, right after the seed's first step on a model
# trained three iterations): recovered is undefined, and regen says why instead of nan.
"$NCA" regen --model run --at 1 --steps 1 --scale 1 --out r0 --cut left >r0.txt 2>&1 ||
  fail "regen --cut left"
check "regen: an empty cut explains itself" grep -q "^recovered=n/a (the cut removed no living cell" r0.txt
expect 2 "--cut-size sets the side of --cut square; --cut half has no size" -- \
  regen --model run --cut half --cut-size 4
expect 2 "--cut-size 16 does not fit the 12x12 grid" -- regen --model run --cut square

expect 2 "--steps must be positive, got 0" -- grow --model run --steps 0
expect 2 "--grid 'abc': expected N or HxW" -- grow --model run --grid abc
expect 2 "--grid must be between 3 and 4096" -- grow --model run --grid 9999
expect 2 "unknown cut 'diagonal'" -- regen --model run --cut diagonal
expect 1 "cannot load model 'nope.pt': no such file" -- grow --model nope.pt
touch a-file
expect 1 "cannot create output folder 'a-file/x'" -- grow --model run --steps 2 --out a-file/x
printf 'not a model' >bad.pt
expect 1 "cannot load model 'bad.pt'" -- regen --model bad.pt
finish
