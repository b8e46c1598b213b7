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
expect 2 "cannot read target image .*: is a directory|not an image" -- train --target "$D"

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
accepts no-alpha.jpg warn
accepts rgba16.png no

# Impossible configs.
expect 2 "batch \(9\) cannot be larger than pool \(8\)" -- train --target "$LIZ" --batch 9 --pool 8
expect 2 "min-steps \(10\) must be less than max-steps \(10\)" -- train --target "$LIZ" --min-steps 10 --max-steps 10
expect 2 "size must be positive, got 0" -- train --target "$LIZ" --size 0
expect 2 "size must be positive, got -3" -- train --target "$LIZ" --size -3
expect 2 "iters must be positive" -- train --target "$LIZ" --iters 0
expect 2 "fire-rate must be in" -- train --target "$LIZ" --fire-rate 2
expect 2 "unknown experiment 'grow'" -- train --target "$LIZ" --experiment grow
expect 2 "unknown device 'gpu'" -- train --target "$LIZ" --device gpu
expect 1 "--device cuda: this LibTorch has no CUDA" -- train --target "$LIZ" --device cuda
expect 2 "invalid value 'many' for --iters" -- train --target "$LIZ" --iters many
expect 2 "unknown argument '--itters 5'" -- train --target "$LIZ" --itters 5
expect 2 "unknown command 'trian'" -- trian

# Config files.
printf 'iter = 10\n' >unknown-key.toml
expect 2 "unknown key 'iter'" -- train --target "$LIZ" --config unknown-key.toml
printf 'iters = "lots"\n' >wrong-type.toml
expect 2 "invalid value 'lots' for --iters" -- train --target "$LIZ" --config wrong-type.toml
printf 'batch = 2000\n' >range.toml
expect 2 "batch \(2000\) cannot be larger than pool" -- train --target "$LIZ" --config range.toml
expect 2 "cannot read config file 'missing.toml'" -- train --target "$LIZ" --config missing.toml

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
cp good.pt run/model.pt
check "resume works again with the good file" "$NCA" train --run-dir run --resume --iters 4 2>/dev/null
# A model of another architecture in the run directory.
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 1 --hidden 32 --run-dir other 2>/dev/null
cp other/model.pt run/model.pt
expect 1 "trained with 16 channels, hidden 32" -- train --run-dir run --resume --iters 6

finish
