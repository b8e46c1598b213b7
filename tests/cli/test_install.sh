#!/usr/bin/env bash
# `cmake --install` into a prefix: bin/nca, and the shipped models, images and presets in
# share/nca, which the installed nca finds from any working directory (not through the source
# tree it was built from). `nca --version` and the commands it advises name it as typed.
source "$(dirname "$0")/lib.sh"
build=$(dirname "$NCA")
prefix=$WORK/prefix
cmake --install "$build" --prefix "$prefix" >install.log 2>&1 || { cat install.log; fail "cmake --install"; }
for f in bin/nca share/nca/data/models/lizard-regenerating.pt share/nca/data/models/lizard-persistent.pt \
  share/nca/data/lizard.png share/nca/configs/quick.toml share/nca/configs/regenerating.toml; do
  check "installed: $f" test -f "$prefix/$f"
done
nca=$prefix/bin/nca
mkdir -p elsewhere && cd elsewhere || exit 1
check "nca --version" bash -c "'$nca' --version | grep -Eq '^nca [0-9]+\.[0-9]+\.[0-9]+$'"

# The shipped models and the shipped target, found beside the installed program.
"$nca" grow --steps 20 --every 10 --out grown --threads 1 2>grow.log || { cat grow.log; fail "installed grow"; }
check "grow ran the installed model" grep -q "$prefix/share/nca/data/models/lizard-persistent.pt" grow.log
check "grow wrote its frames" test -f grown/frame_00020.png
"$nca" regen --cut half --at 20 --steps 10 --every 10 --out healed --threads 1 >regen.txt 2>regen.log ||
  { cat regen.log; fail "installed regen"; }
check "regen ran the installed model" grep -q "$prefix/share/nca/data/models/lizard-regenerating.pt" regen.log
check "regen printed its figures" grep -q '^recovered=' regen.txt

# The commands a finished run advises name the program as it was started: by its path here, as
# `nca` once PATH finds it.
"$nca" train --target "$prefix/share/nca/data/lizard.png" "${TINY[@]}" --iters 2 --run-dir run 2>train.log ||
  { cat train.log; fail "installed train"; }
check "next: names the program by its path" grep -q "next: $prefix/bin/nca grow --model run" train.log
PATH="$prefix/bin:$PATH" "$nca" train --target "$prefix/share/nca/data/lizard.png" "${TINY[@]}" --iters 2 \
  --run-dir run2 2>train2.log || { cat train2.log; fail "installed train, on PATH"; }
check "next: says nca when PATH finds this nca" grep -q "next: nca grow --model run2" train2.log
finish
