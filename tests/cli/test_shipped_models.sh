#!/usr/bin/env bash
# The shipped models in data/models/ do what they were trained for: the regenerating lizard heals
# a cut-off right half and Distill's centred 16x16 square (recovered >= 0.9 after 300 steps), on
# the training grid and on a larger one, and the persistent lizard keeps its
# shape (loss at step 1000 within 2x of the loss at step 200). Fixed seeds.
source "$(dirname "$0")/lib.sh"
cd "$SRC" || exit 1
out=$WORK

"$NCA" regen --cut half --at 200 --steps 300 --every 50 --seed 0 --out "$out/regen" >"$out/regen.txt" ||
  fail "regen on the shipped regenerating model"
cat "$out/regen.txt"
rec=$(sed -n 's/^recovered=//p' "$out/regen.txt")
check "regen --cut half: recovered=$rec >= 0.9" awk -v r="$rec" 'BEGIN {exit !(r >= 0.9)}'

# Distill's centred 16x16 square heals too (a 36x36 one, what --cut square used to be, does not).
"$NCA" regen --cut square --at 200 --steps 300 --every 50 --seed 0 --out "$out/square" \
  >"$out/square.txt" 2>/dev/null || fail "regen --cut square on the shipped regenerating model"
cat "$out/square.txt"
check "regen --cut square: 211 living cells removed" grep -q "(211 living cells removed)" "$out/square.txt"
rec=$(sed -n 's/^recovered=//p' "$out/square.txt")
check "regen --cut square: recovered=$rec >= 0.9" awk -v r="$rec" 'BEGIN {exit !(r >= 0.9)}'

# On a larger grid the target and the cut are placed around the seed cell: the same 211 cells
# go, the loss before the cut is as small as on the training grid (measured: 6e-6 against 1.2e-5
# on 72x72, over 1.8 times the cells), and the lizard heals (measured: 0.9996).
"$NCA" regen --cut square --grid 96 --at 200 --steps 300 --every 100 --scale 1 --seed 0 \
  --out "$out/square96" >"$out/square96.txt" 2>/dev/null || fail "regen --grid 96"
cat "$out/square96.txt"
check "regen --grid 96: 211 living cells removed" grep -q "(211 living cells removed)" "$out/square96.txt"
before=$(sed -n 's/^loss before cut (step 200) *//p' "$out/square96.txt")
check "regen --grid 96: loss before the cut $before < 1e-4" awk -v l="$before" 'BEGIN {exit !(l < 1e-4)}'
rec=$(sed -n 's/^recovered=//p' "$out/square96.txt")
check "regen --grid 96: recovered=$rec >= 0.9" awk -v r="$rec" 'BEGIN {exit !(r >= 0.9)}'
# With the perception turned a quarter, the lizard grows turned and the target turns with it
# (measured: 1.1e-5 before the cut; the unturned target would be 0.03 away).
"$NCA" regen --cut half --angle 90 --at 200 --steps 300 --every 100 --scale 1 --seed 0 \
  --out "$out/turned" >"$out/turned.txt" 2>/dev/null || fail "regen --angle 90"
cat "$out/turned.txt"
before=$(sed -n 's/^loss before cut (step 200) *//p' "$out/turned.txt")
check "regen --angle 90: loss before the cut $before < 1e-4" awk -v l="$before" 'BEGIN {exit !(l < 1e-4)}'

# grow --angle: loss.csv measures against the target turned with the pattern (measured: 0.0010
# at step 200; 0.031 against the unturned target).
"$NCA" grow --steps 200 --every 100 --scale 1 --angle 90 --seed 0 --out "$out/grow90" >/dev/null ||
  fail "grow --angle 90"
l200=$(awk -F, '$1 == 200 {print $2}' "$out/grow90/loss.csv")
check "grow --angle 90: loss at step 200 $l200 < 0.002" awk -v l="$l200" 'BEGIN {exit !(l < 0.002)}'

"$NCA" grow --steps 1000 --every 100 --seed 0 --out "$out/grow" >/dev/null ||
  fail "grow on the shipped persistent model"
l200=$(awk -F, '$1 == 200 {print $2}' "$out/grow/loss.csv")
l1000=$(awk -F, '$1 == 1000 {print $2}' "$out/grow/loss.csv")
echo "persistent: loss at step 200 $l200, at step 1000 $l1000"
check "grow keeps the lizard: loss(1000)=$l1000 <= 2 x loss(200)=$l200" \
  awk -v a="$l200" -v b="$l1000" 'BEGIN {exit !(b <= 2 * a && a < 0.05)}'
finish
