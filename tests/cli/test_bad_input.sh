#!/usr/bin/env bash
# Bad input: one clear error line and exit code 2 (usage) or 1 (runtime), never a crash.
source "$(dirname "$0")/lib.sh"
D=$SRC/tests/data
LIZ=$SRC/data/lizard.png

# Targets.
expect 2 "cannot read target image 'nope.png'.*(no such file|missing)" -- train --target nope.png
expect 2 "cannot read target image .*not-an-image.png" -- train --target "$D/not-an-image.png"
expect 2 "cannot read target image .*empty.png" -- train --target "$D/empty.png"
expect 2 "cannot read target image .*truncated.png" -- train --target "$D/truncated.png"
expect 2 "transparent" -- train --target "$D/transparent.png"
expect 2 "target is required" -- train --iters 3
expect 2 "cannot read target image .*huge-header.png" -- train --target "$D/huge-header.png"
expect 2 "rle-tga-bomb.tga': image too large \(1029x31232 pixels, at most 4096 a side\)" \
  -- train --target "$SRC/tests/fuzz/corpus/image/rle-tga-bomb.tga"
expect 2 "wide-gif-65283x250.gif': image too large \(65283x250 pixels, at most 4096 a side\)" \
  -- train --target "$SRC/tests/fuzz/corpus/image/wide-gif-65283x250.gif"
expect 2 "cannot read target image .*: is a directory|not an image" -- train --target "$D"
expect 2 "cannot read target image .*corrupt.png': cannot decode the image" -- train --target "$D/corrupt.png"
expect 2 "cannot read target image .*unsupported.ppm': not an image" -- train --target "$D/unsupported.ppm"
expect 2 "cannot read target image .*no-alpha.jpg': JPEG is not supported .*save the image as a PNG" \
  -- train --target "$D/no-alpha.jpg"

# Unusual but valid images train (one iteration here), with a warning when nothing is transparent.
accepts() {
  local file=$1 warn=$2
  checks=$((checks + 1))
  if ! "$NCA" train --target "$D/$file" "${TINY[@]}" --iters 1 --run-dir "ok-$file" >out.txt 2>&1; then
    fail "$file should train: $(cat out.txt)"
  elif [[ $warn == warn ]] && ! grep -q "no transparency" out.txt; then
    fail "$file: expected the no-transparency warning"
  fi
}
accepts one-pixel.png warn
accepts grayscale.png warn
accepts grayscale-alpha.png no
accepts rgba16.png no
# The other formats nca reads (seed files of the image fuzzer).
for f in raw32.tga rle32.tga bitfields.bmp palette8.bmp interlaced-local.gif; do
  checks=$((checks + 1))
  "$NCA" train --target "$SRC/tests/fuzz/corpus/image/$f" "${TINY[@]}" --iters 1 --run-dir "ok-$f" \
    >out.txt 2>&1 || fail "$f should train: $(cat out.txt)"
done
# The largest image allowed: 4096 x 4096 (16.8 megapixels), made here rather than kept in the
# repository. It is shrunk to the target size and trains. (Larger: huge-header.png above, and
# tests/fuzz/corpus/image/rle-tga-bomb.tga, 94 bytes claiming 1029 x 31232.)
PROBE=${NCA_PROBE:?set by ctest}
checks=$((checks + 1))
if ! "$PROBE" make-png 4096x4096 big.png; then
  fail "could not write big.png"
elif ! timeout 300 "$NCA" train --target big.png "${TINY[@]}" --iters 1 --run-dir ok-big >out.txt 2>&1; then
  fail "a 4096x4096 image should train: $(cat out.txt)"
elif ! grep -q "target big.png: 8x8 image" out.txt; then
  fail "4096x4096 should be shrunk to 8x8: $(cat out.txt)"
fi

# Impossible configs.
expect 2 "batch \(9\) cannot be larger than pool \(8\)" -- train --target "$LIZ" --batch 9 --pool 8
expect 2 "min-steps \(10\) must be less than max-steps \(10\)" -- train --target "$LIZ" --min-steps 10 --max-steps 10
expect 2 "size must be positive, got 0" -- train --target "$LIZ" --size 0
expect 2 "size must be positive, got -3" -- train --target "$LIZ" --size -3
expect 2 "iters must be positive" -- train --target "$LIZ" --iters 0
expect 2 "fire-rate must be in" -- train --target "$LIZ" --fire-rate 2
expect 2 "--lr: 'inf' is not a decimal number" -- train --target "$LIZ" --lr inf
expect 2 "lr must be positive and at most 1e30, got 1e\+31" -- train --target "$LIZ" --lr 1e31
expect 2 "hidden must be in 1..4096, got 100000" -- train --target "$LIZ" --hidden 100000
expect 2 "unknown experiment 'grow'" -- train --target "$LIZ" --experiment grow
expect 2 "unknown device 'gpu'" -- train --target "$LIZ" --device gpu
expect 2 "--device cuda: this LibTorch has no CUDA" -- train --target "$LIZ" --device cuda
expect 2 "--iters: 'many' is not a whole number in decimal digits" -- train --target "$LIZ" --iters many
expect 2 "unknown argument '--itters 5'" -- train --target "$LIZ" --itters 5
expect 2 "unknown command 'trian'" -- trian

# Config files.
printf 'iter = 10\n' >unknown-key.toml
expect 2 "unknown key 'iter'" -- train --target "$LIZ" --config unknown-key.toml
printf 'iters = "lots"\n' >wrong-type.toml
expect 2 "config file 'wrong-type.toml' line 1: iters takes a number, got \"lots\"" -- train --target "$LIZ" --config wrong-type.toml
printf 'iters = lots\n' >wrong-type-unquoted.toml
expect 2 "--iters: 'lots' is not a whole number in decimal digits" -- train --target "$LIZ" --config wrong-type-unquoted.toml
printf 'batch = 2000\n' >range.toml
expect 2 "batch \(2000\) cannot be larger than pool" -- train --target "$LIZ" --config range.toml
expect 2 "cannot read config file 'missing.toml'" -- train --target "$LIZ" --config missing.toml
# Flags that a config file cannot give, said in the user's words (not CLI11's).
printf 'new-pool = true\n' >new-pool.toml
expect 2 "config file key 'new-pool' is a command-line flag only: give --new-pool on the command line" \
  -- train --target "$LIZ" --config new-pool.toml
# A 200 KB value: the error quotes a short prefix of it (and does not crash).
printf 'iters = "%s"\n' "$(head -c 200000 /dev/zero | tr '\0' 'x')" >long-value.toml
expect 2 "line 1: iters takes a number, got \"x{20,80}\.\.\.\"" -- train --target "$LIZ" --config long-value.toml
printf 'target = "a\x01b.png"\n' >control-char.toml
expect 2 "target 'a\\?b.png' holds a quote, backslash, '#' or control character" \
  -- train --config control-char.toml

# Run directories.
touch a-file
expect 1 "cannot create run directory 'a-file/run'" -- train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir a-file/run
expect 2 "nothing to resume in 'empty-run'" -- train --target "$LIZ" --run-dir empty-run --resume
check "tiny run trains" "$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir run 2>/dev/null
expect 2 "already exists: --resume continues it, --force replaces it" -- train --target "$LIZ" "${TINY[@]}" --run-dir run
check "--force replaces a run" "$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir run --force 2>/dev/null

# Corrupt and truncated checkpoints on --resume.
cp run/model.pt good.pt
head -c 300 good.pt >run/model.pt
expect 1 "cannot load model '.*model.pt'.*(corrupt|truncated)" -- train --run-dir run --resume --iters 4
printf 'garbage' >run/model.pt
expect 1 "cannot load model '.*model.pt'" -- train --run-dir run --resume --iters 4
# A 29 KB model.pt whose data.pkl claims a 4 GB string (found by fuzzing): refused before
# LibTorch's unpickler would allocate it.
expect 1 "cannot load model '.*unpickler-4gb-string.pt': not a readable checkpoint .*data.pkl has a string that claims 4294967295 bytes" \
  -- grow --model "$SRC/tests/fuzz/corpus/checkpoint/unpickler-4gb-string.pt" --steps 2 --out frames
cp good.pt run/model.pt
check "resume works again with the good file" "$NCA" train --run-dir run --resume --iters 4 2>/dev/null
# A corrupt pool.pt beside a good model.pt.
cp run/pool.pt good-pool.pt
printf 'garbage' >run/pool.pt
expect 1 "cannot load pool '.*pool.pt': corrupt or truncated" -- train --run-dir run --resume --iters 5
cp good-pool.pt run/pool.pt
# A model of another architecture in the run directory: what model.pt was made with is what the
# resume is checked against.
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 1 --hidden 32 --run-dir other 2>/dev/null
cp other/model.pt run/model.pt
expect 2 "it has hidden = 32, not 128 \(leave those settings out" -- train --run-dir run --resume --iters 6

finish
