#!/usr/bin/env bash
# Numbers and sizes: every number read exactly as written (flags and config files alike), one set
# of limits for every command (refused up front, exit 2, the limit in the line), the memory
# estimate that refuses a run the machine cannot hold, a --resume that cannot silently change the
# run, and wrong input answered with exit 2. After each refusal the victim run directory is
# intact: model.pt loads, loss.csv has each iteration once.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
args=("${TINY[@]}" --iters 3)

# intact DIR ITERS: model.pt loads at ITERS and loss.csv holds 0..ITERS-1 once.
intact() {
  check "$1: model.pt loads at iteration $2" test "$("$PROBE" model "$1/model.pt")" = "$2"
  check "$1: loss.csv holds iterations 0..$(($2 - 1)) once" \
    cmp -s <(tail -n +2 "$1/loss.csv" | cut -d, -f1) <(seq 0 $(($2 - 1)))
}

"$NCA" train --target "$LIZ" "${args[@]}" --run-dir run >/dev/null 2>&1
intact run 3

# --- Numbers as written ----------------------------------------------------------------------
# A leading zero is decimal (CLI11 alone reads 010 as octal 8).
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 010 --run-dir octal >/dev/null 2>&1
check "--iters 010 runs ten iterations" test "$(($(wc -l <octal/loss.csv) - 1))" = 10
expect 2 "--iters: '0x10' is not a whole number in decimal digits" -- train --target "$LIZ" --iters 0x10
expect 2 "--iters: '1e3' is not a whole number" -- train --target "$LIZ" --iters 1e3
expect 2 "--iters: '99999999999999999999' is out of range" -- train --target "$LIZ" --iters 99999999999999999999
expect 2 "--seed: '-1' must be zero or more" -- train --target "$LIZ" --seed -1
expect 2 "invalid value '3000000000' for --batch" -- train --target "$LIZ" --batch 3000000000
expect 2 "--lr: 'nan' is not a decimal number" -- train --target "$LIZ" --lr nan
expect 2 "--lr: '1e999' is out of the range of a double" -- train --target "$LIZ" --lr 1e999
expect 2 "--fire-rate: 'inf' is not a decimal number" -- train --target "$LIZ" --fire-rate inf
expect 2 "--angle: 'nan' is not a decimal number" -- grow --angle nan
expect 2 "--angle: '-inf' is not a decimal number" -- grow --angle=-inf
expect 2 "--scale: '0x4' is not a whole number" -- grow --scale 0x4
# The value is quoted, not echoed whole.
expect 2 "--iters: '7{60}\.\.\.' is out of range" -- train --target "$LIZ" --iters "$(printf '7%.0s' $(seq 5000))"

# Config files: the same numbers, one value per key.
cfg() { printf '%s\n' "$@" >c.toml; }
cfg 'lr = 0,002'
expect 2 "config file 'c.toml' line 1: lr = 0,002: a number is written with a point, not a comma \(lr = 0.002\)" \
  -- train --target "$LIZ" --config c.toml
cfg 'iters = 0x10'
expect 2 "--iters: '0x10' is not a whole number" -- train --target "$LIZ" --config c.toml
cfg 'lr = nan'
expect 2 "--lr: 'nan' is not a decimal number" -- train --target "$LIZ" --config c.toml
cfg 'iters = 3' 'batch = 4' 'iters = 5'
expect 2 "config file 'c.toml' line 3: key 'iters' is given twice \(first on line 1\)" -- train --target "$LIZ" --config c.toml
cfg 'iters ='
expect 2 "config file 'c.toml' line 1: key 'iters' has no value" -- train --target "$LIZ" --config c.toml
cfg 'iters = "100"'
expect 2 "line 1: iters = \"100\": a number is written without quotes \(iters = 100\)" -- train --target "$LIZ" --config c.toml
cfg 'target = lizard.png'
expect 2 "line 1: target = lizard.png: text is written in quotes" -- train --config c.toml
cfg 'experiment = growing'
expect 2 "line 1: experiment = growing: text is written in quotes" -- train --target "$LIZ" --config c.toml
# A flag's key takes true or false, unquoted: a training config may say force = true.
"$NCA" train --target "$LIZ" "${args[@]}" --run-dir forced >/dev/null 2>&1
cfg 'force = true'
"$NCA" train --target "$LIZ" "${args[@]}" --run-dir forced --config c.toml >forced.txt 2>&1
rc=$?
check "force = true in a config replaces the run (exit $rc: $(tail -1 forced.txt))" test $rc -eq 0
cfg 'iters 100'
expect 2 "line 1: expected key = value, got 'iters 100'" -- train --target "$LIZ" --config c.toml
# A run's own config.toml is read back exactly (floats in their shortest form).
check "config.toml writes lr-decay = 0.1" grep -qx 'lr-decay = 0.1' run/config.toml
# Floats that need all 17 digits, and ones that need one: written shortest, read back as the
# same doubles, so a --resume with the same flags (or none) changes nothing but iters, and the
# config.toml it writes is the one it read.
floats=(--lr 0.30000000000000004 --lr-decay 0.1 --fire-rate 0.7 --alive-threshold 0.15)
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 1 "${floats[@]}" --run-dir floats >/dev/null 2>&1
check "config.toml: lr = 0.30000000000000004" grep -qx 'lr = 0.30000000000000004' floats/config.toml
check "config.toml: alive-threshold = 0.15" grep -qx 'alive-threshold = 0.15' floats/config.toml
grep -v '^iters' floats/config.toml >floats-first.toml
"$NCA" train --run-dir floats --resume --iters 2 "${floats[@]}" >floats.txt 2>&1
check "resume with the same floats: only iters changes" \
  test "$(grep -o 'resuming with [a-z-]*' floats.txt | tr '\n' ' ')" = "resuming with iters "
"$NCA" train --run-dir floats --resume --iters 3 >floats.txt 2>&1
check "resume reading config.toml: only iters changes" \
  test "$(grep -o 'resuming with [a-z-]*' floats.txt | tr '\n' ' ')" = "resuming with iters "
check "config.toml after two resumes: the same floats" \
  cmp -s floats-first.toml <(grep -v '^iters' floats/config.toml)

# --- One set of limits ------------------------------------------------------------------------
expect 2 "threads must be 0 \(all cores\) to [0-9]+ \(4 per core" -- train --target "$LIZ" --threads 1000
expect 2 "^nca train: error: --threads takes one value, got 2$" -- \
  train --target "$LIZ" --threads 1 --threads 2
expect 2 "--threads 100000 is out of range: 0 \(all cores\) to [0-9]+" -- grow --threads 100000 --steps 1
expect 2 "--threads 1000 is out of range" -- regen --threads 1000 --steps 1
expect 2 "threads must be 0 \(all cores\) to" -- bench --threads 1000 --target "$LIZ" --model "$SRC/data/models/lizard-regenerating.pt"
expect 2 "max-steps must be at most 100000, got 2147483647" -- train --target "$LIZ" --max-steps 2147483647
expect 2 "min-steps \(1000000\) must be less than max-steps" -- train --target "$LIZ" --min-steps 1000000
expect 2 "--steps 100001 is out of range: 1 to 100000" -- grow --steps 100001
expect 2 "--at 100001 is out of range: 1 to 100000" -- regen --at 100001
# The same frame limit for grow and regen (regen used to write 207-megapixel frames).
expect 2 "--scale 600 makes 43200x43200 frames of a 72x72 grid: at most 64 megapixels" -- grow --scale 600 --steps 1
expect 2 "--scale 600 makes 43200x43200 frames of a 72x72 grid: at most 64 megapixels" -- regen --scale 600 --steps 1
expect 2 "invalid value '4294967296' for --scale" -- grow --scale 4294967296
expect 2 "--grid 9000: a grid is 3 to 8192 cells a side, got 9000x9000" -- grow --grid 9000 --steps 1
expect 2 "size must be at most 4096, got 5000" -- train --target "$LIZ" --size 5000
expect 2 "size \+ 2 pad \(the grid\) must be at most 8192 cells, got 4294967334" -- train --target "$LIZ" --pad 2147483647
expect 2 "hidden must be in 1..4096, got 5000" -- train --target "$LIZ" --hidden 5000
expect 2 "--gif-delay 70000 is out of range: 1 to 65535" -- grow --gif-delay 70000 --steps 1
check "no frames were written by the refusals" test ! -e frames -a ! -e regen

# --- Memory estimate --------------------------------------------------------------------------
# 8 samples x 72 x 72 cells x 99,999 steps cannot fit in any machine this runs on; nothing is
# written before the refusal.
expect 2 "this run needs about [0-9.]+ [GT]B of memory \(pool [0-9]+ MB, rollout of 99999 steps [0-9.]+ [GT]B, program [0-9]+ MB\), more than this machine's [0-9.]+ GB: lower --max-steps" \
  -- train --target "$LIZ" --max-steps 100000 --run-dir huge
check "the refused run wrote nothing" test ! -e huge
expect 2 "this run needs about .* more than this machine's" \
  -- train --target "$LIZ" --pool 100000000 --batch 8 --run-dir huge
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 1 --run-dir small >out.txt 2>&1
check "a run says its estimated peak memory in the cost line" grep -Eq "info cost: .*; peak memory about [0-9]+ MB;" out.txt

# --- --resume cannot silently change the run --------------------------------------------------
cp "$LIZ" other.png
expect 2 "--resume goes on with the run as it was set up: it has target = \"[^\"]*lizard.png\", not \"other.png\"" \
  -- train --run-dir run --resume --iters 5 --target other.png
expect 2 "it has hidden = 128, not 32" -- train --run-dir run --resume --iters 5 --hidden 32
expect 2 "it has experiment = \"regenerating\", not \"growing\"" -- train --run-dir run --resume --experiment growing
cfg 'pool = 16'
expect 2 "it has pool = 8, not 16; size = 8, not 40; pad = 2, not 16 \(leave those settings out" \
  -- train --run-dir run --resume --config c.toml
intact run 3
mv run/pool.pt pool.saved
expect 2 "'run/pool.pt' is missing: the run's sample pool. Put it back, or go on with a new pool of seeds with --new-pool" \
  -- train --run-dir run --resume --iters 5
intact run 3
expect 2 "--new-pool goes with --resume" -- train --target "$LIZ" "${args[@]}" --new-pool --run-dir np
mv pool.saved run/pool.pt
"$NCA" train --run-dir run --resume --iters 5 >out.txt 2>&1
check "a resume that runs longer says so (exit $?)" grep -q "resuming with iters = 5 (was 3)" out.txt
intact run 5
rm run/pool.pt
"$NCA" train --run-dir run --resume --iters 6 --new-pool >/dev/null 2>&1
check "--new-pool resumes without pool.pt (exit $?)" test -s run/pool.pt
intact run 6
# What model.pt was made with is what a resume checks against: an edited config.toml, or another
# run's model.pt, cannot change the run silently.
cp run/config.toml config.saved
sed -i 's/^experiment = .*/experiment = "growing"/' run/config.toml
expect 2 "it has experiment = \"regenerating\", not \"growing\" \(leave those settings out" \
  -- train --run-dir run --resume --iters 7
cp config.saved run/config.toml
sed -i 's/^lr = .*/lr = 0.001/' run/config.toml
"$NCA" train --run-dir run --resume --iters 7 >out.txt 2>&1
check "an lr edited into config.toml is said on resume (exit $?)" \
  grep -q "resuming with lr = 0.001 (was 0.002)" out.txt
intact run 7
"$NCA" train --target "$LIZ" "${args[@]}" --seed 1 --run-dir seed1 >/dev/null 2>&1
cp -r run copied && cp seed1/model.pt copied/model.pt
expect 2 "it has seed = 1, not 0 \(leave those settings out" -- train --run-dir copied --resume --iters 8
cp -r run noconf && rm noconf/config.toml
"$NCA" train --run-dir noconf --resume --iters 8 >out.txt 2>&1
check "config.toml removed: the resume takes the settings model.pt holds (exit $?)" \
  grep -q "resuming noconf at iteration 7" out.txt
intact noconf 8
cp noconf/loss.csv loss.saved
head -n 4 loss.saved >noconf/loss.csv
expect 2 "'noconf/loss.csv' holds rows for iterations 0..2 only, but model.pt is at iteration 8: put the run's whole loss.csv back, or remove it" \
  -- train --run-dir noconf --resume --iters 9
: >noconf/loss.csv
expect 2 "'noconf/loss.csv' has no header \(iter,loss,...\), but model.pt is at iteration 8" \
  -- train --run-dir noconf --resume --iters 9
cp loss.saved noconf/loss.csv
intact noconf 8

expect 2 "^nca train: error: --resume continues the run and --force replaces it: give one of them$" \
  -- train --run-dir run --resume --force --iters 9
TORCHELASTIC_RESTART_COUNT=abc "$NCA" train --target "$LIZ" "${args[@]}" --run-dir run >out.txt 2>&1
check "TORCHELASTIC_RESTART_COUNT=abc without a launcher does not resume a run (exit $?)" \
  grep -q "already exists" out.txt

# --- A long path is shortened in the middle of the line, which still says why -------------------
long=$(printf 'd%.0s' $(seq 4000))
expect 1 "^nca train: error: cannot create run directory 'dddd.*\.\.\..*dddd': File name too long$" \
  -- train --target "$LIZ" "${args[@]}" --run-dir "$long"

# --- Wrong input is exit 2, not 1 -------------------------------------------------------------
expect 2 "cannot load model 'nope.pt': no such file" -- regen --model nope.pt
expect 2 "--device cuda: this LibTorch has no CUDA" -- grow --device cuda --steps 1
finish
