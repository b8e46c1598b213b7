#!/usr/bin/env bash
# The shipped models in data/models/ do what they were trained for: the regenerating lizard heals
# a cut-off right half and Distill's centred 16x16 square (recovered >= 0.9 after 300 steps) and the persistent lizard keeps its
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

"$NCA" grow --steps 1000 --every 100 --seed 0 --out "$out/grow" >/dev/null ||
  fail "grow on the shipped persistent model"
l200=$(awk -F, '$1 == 200 {print $2}' "$out/grow/loss.csv")
l1000=$(awk -F, '$1 == 1000 {print $2}' "$out/grow/loss.csv")
echo "persistent: loss at step 200 $l200, at step 1000 $l1000"
check "grow keeps the lizard: loss(1000)=$l1000 <= 2 x loss(200)=$l200" \
  awk -v a="$l200" -v b="$l1000" 'BEGIN {exit !(b <= 2 * a && a < 0.05)}'
finish
