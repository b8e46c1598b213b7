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

# Into a folder holding an earlier run's frames: those go (the folder holds one run), nothing else
# does: not other files, not a file named like a frame that is not a PNG, not a link.
touch g/notes.txt g/keep.png
echo "not a png" >g/frame_00077.png
ln -s frame_00003.png g/frame_00100.png
"$NCA" grow --model run --steps 4 --every 2 --scale 2 --out g >grow2.txt 2>&1 || fail "grow again"
check "grow again: says it removed the 5 old frames" grep -q "removed 5 frames of an earlier run from g" grow2.txt
check "grow again: only this run's frames and the non-PNG" \
  test "$(cd g && ls frame_* | tr '\n' ' ')" = "frame_00000.png frame_00002.png frame_00004.png frame_00077.png frame_00100.png "
check "grow again: other files stay" test -f g/notes.txt -a -f g/keep.png
check "grow again: the link stays a link" test -L g/frame_00100.png
check "grow again: GIF has this run's 3 frames" test "$("$PROBE" gif g/growth.gif)" = "24 24 3"

# --step-counter writes the step into the frame: the seed frame differs from one without it.
"$NCA" grow --model run --steps 2 --scale 8 --out sc --step-counter >/dev/null 2>&1 ||
  fail "grow --step-counter"
"$NCA" grow --model run --steps 2 --scale 8 --out nc >/dev/null 2>&1 || fail "grow without counter"
check "grow --step-counter: frames differ" bash -c "! cmp -s sc/frame_00000.png nc/frame_00000.png"
check "grow --step-counter: frames stay 96x96" test "$("$PROBE" png sc/frame_00002.png)" = "96 96"

# --video: an MP4 of the same frames, decoded back through libavformat/libavcodec.
"$NCA" grow --model run --steps 10 --every 3 --scale 2 --out gv --video gv.mp4 >gv.txt 2>&1 ||
  fail "grow --video"
check "grow --video: 24x24, 5 frames, H.264" test "$("$PROBE" video gv.mp4)" = "24 24 5 h264"
check "grow --video: says what it wrote" grep -q "wrote gv.mp4 (libx264, 5 frames, 24x24)" gv.txt
check "grow --video: no temporary file left" test "$(ls | grep -c 'gv.mp4')" -eq 1
"$NCA" regen --model run --at 5 --steps 6 --scale 2 --out rv --cut half --video rv.mp4 \
  >/dev/null 2>&1 || fail "regen --video"
check "regen --video: the GIF's 13 frames" test "$("$PROBE" video rv.mp4)" = "24 24 13 h264"
expect 2 "--video 'v.gif': a video path must end in .mp4" -- grow --model run --video v.gif
expect 1 "cannot write video 'no/such/v.mp4': folder 'no/such' does not exist" -- \
  grow --model run --steps 2 --video no/such/v.mp4

# --out with a trailing slash is not printed doubled.
"$NCA" grow --model run --steps 2 --scale 1 --out slash/ >slash.txt 2>&1 || fail "grow --out slash/"
check "grow --out slash/: 'slash/' once" grep -q "frames to slash/ and slash/growth.gif" slash.txt
check "grow --out slash/: no '//'" bash -c "! grep -q '//' slash.txt"

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
# regen on another grid (height x width) and with the perception turned, as grow.
"$NCA" regen --model run --at 5 --steps 6 --scale 1 --out rgrid --cut square --cut-size 4 \
  --grid 20x30 --angle 90 >rgrid.txt 2>&1 || fail "regen --grid 20x30 --angle 90"
check "regen --grid 20x30: 30x20 frames" test "$("$PROBE" png rgrid/frame_00011.png)" = "30 20"
check "regen --grid 20x30: GIF of 13 frames" test "$("$PROBE" gif rgrid/regen.gif)" = "30 20 13"
check "regen --grid 20x30: says so" grep -q "(20x30 grid" rgrid.txt
check "regen --grid 20x30: prints recovered=" grep -Eq "^recovered=(-?[0-9.]+|n/a \(.+\))$" rgrid.txt
"$NCA" regen --model run --at 2 --steps 2 --scale 1 --out rsmall --grid 5 >rsmall.txt 2>&1 ||
  fail "regen --grid 5"
check "regen on a grid smaller than the target: says the loss counts what is on it" \
  grep -q "the target does not fit on the 5x5 grid" rsmall.txt
expect 2 "--grid 'abc': expected N or HxW" -- regen --model run --grid abc
expect 2 "--grid 9999: a grid is 3 to 8192 cells a side, got 9999x9999" -- regen --model run --grid 9999
expect 2 "--cut-size 16 does not fit the 12x8 grid" -- regen --model run --cut square --cut-size 16 --grid 12x8
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

expect 2 "--steps 0 is out of range: 1 to 100000" -- grow --model run --steps 0
expect 2 "--grid 'abc': expected N or HxW" -- grow --model run --grid abc
expect 2 "--grid 9999: a grid is 3 to 8192 cells a side, got 9999x9999" -- grow --model run --grid 9999
expect 2 "unknown cut 'diagonal'" -- regen --model run --cut diagonal
expect 2 "--gif 'x.mp4': a GIF path must end in .gif" -- grow --model run --steps 2 --gif x.mp4
check "--gif x.mp4: nothing written" test ! -e x.mp4
expect 2 "--gif 'r.png': a GIF path must end in .gif" -- regen --model run --gif r.png
expect 2 "cannot load model 'nope.pt': no such file" -- grow --model nope.pt
touch a-file
expect 1 "cannot create output folder 'a-file/x'" -- grow --model run --steps 2 --out a-file/x
printf 'not a model' >bad.pt
expect 1 "cannot load model 'bad.pt'" -- regen --model bad.pt
finish
