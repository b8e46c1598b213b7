#!/usr/bin/env bash
# Inputs that are not regular files, outputs nca must not replace (special files, and files nca
# did not write), and outputs that are an input of the same command. Each is refused up front with exit 2 and
# one line, without waiting on a FIFO, and what was there is left as it was.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png

mkfifo fifo
printf 'iters = 2\n' >small.toml
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' '#' >big.toml

# --- inputs -------------------------------------------------------------------------------------
expect 2 "cannot read 'fifo': it is a FIFO, not a regular file" -- \
  train --target "$LIZ" "${TINY[@]}" --config fifo --run-dir r0
expect 2 "cannot read '/dev/zero': it is a character device, not a regular file" -- \
  train --target "$LIZ" "${TINY[@]}" --config /dev/zero --run-dir r0
expect 2 "cannot read '/dev/zero': it is a character device" -- \
  train --target "$LIZ" "${TINY[@]}" --config=/dev/zero --run-dir r0
expect 2 "cannot read 'big.toml': 2097152 bytes, more than the 1048576 nca reads" -- \
  train --target "$LIZ" "${TINY[@]}" --config big.toml --run-dir r0
expect 2 "cannot read 'fifo': it is a FIFO" -- bench --target "$LIZ" --config fifo
expect 2 "cannot read 'fifo': it is a FIFO" -- train --target fifo "${TINY[@]}" --run-dir r0
expect 2 "cannot read '/dev/zero': it is a character device" -- \
  train --target /dev/zero "${TINY[@]}" --run-dir r0
expect 2 "cannot read 'fifo': it is a FIFO" -- grow --model fifo --steps 2 --out g0
expect 2 "cannot read '/dev/zero': it is a character device" -- \
  regen --model /dev/zero --out g0
check "no run directory or frames left by refused inputs" test ! -e r0 -a ! -e g0

# --- a run to attack ------------------------------------------------------------------------------
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 3 --run-dir run >/dev/null 2>&1 ||
  fail "the tiny training run failed"
cp run/model.pt model.before
cp run/loss.csv loss.before
intact() {
  check "$1: model.pt is as it was" cmp run/model.pt model.before
  check "$1: loss.csv is as it was" cmp run/loss.csv loss.before
}

# --- outputs that are inputs --------------------------------------------------------------------
expect 2 "^nca grow: error: --out 'run' is a training run directory" -- \
  grow --model run --steps 2 --out run
expect 2 "^nca regen: error: --out 'run' is a training run directory" -- \
  regen --model run --out run
# (--gif must end in .gif and --video in .mp4, so only a model given such a name can be hit.)
cp run/model.pt model.gif
cp run/model.pt model.mp4
expect 2 "^nca grow: error: --gif 'model.gif' is the model being read" -- \
  grow --model model.gif --steps 2 --out g1 --gif model.gif
expect 2 "^nca regen: error: --gif 'model.gif' is the model being read" -- \
  regen --model model.gif --out g1 --gif model.gif
expect 2 "^nca grow: error: --video 'model.mp4' is the model being read" -- \
  grow --model model.mp4 --steps 2 --out g1 --video model.mp4
check "the models given as outputs are as they were" \
  bash -c 'cmp model.gif model.before && cmp model.mp4 model.before'
ln -s run/model.pt alias.pt
expect 2 "^nca export: error: --torch 'alias.pt' is the model being read" -- \
  export --model run --torch alias.pt
expect 2 "^nca export: error: --torch 'run/model.pt' is the model being read" -- \
  export --model run --torch run/model.pt
intact "outputs that are inputs"

# --- outputs nca must not replace ---------------------------------------------------------------
mkfifo fifo.gif
expect 2 "cannot write 'fifo.gif': is a FIFO, not a regular file" -- \
  grow --model run --steps 2 --out g2 --gif fifo.gif
check "the FIFO is still a FIFO" test -p fifo.gif
echo "keep" >real.gif
ln -s real.gif link.gif
expect 2 "cannot write 'link.gif': is a symbolic link: nca would replace the link" -- \
  grow --model run --steps 2 --out g2 --gif link.gif
check "the link is still a link, its file untouched" \
  bash -c 'test -L link.gif && test "$(cat real.gif)" = keep'
expect 2 "cannot write 'fifo': is a FIFO" -- export --model run --torch fifo
mkdir adir.gif
expect 2 "cannot write 'adir.gif': is a directory" -- \
  grow --model run --steps 2 --out g2 --gif adir.gif
if [[ $(id -u) -eq 0 ]]; then
  # A twin of /dev/null (same device numbers) in this scratch folder: as root, a rename would
  # have put a regular file in its place.
  mknod null.gif c 1 3
  expect 2 "cannot write 'null.gif': is a character device" -- \
    grow --model run --steps 2 --out g2 --gif null.gif
  check "the device node is still a device" test -c null.gif
  expect 2 "cannot write 'null.gif': is a character device" -- export --model run --torch null.gif
else
  echo "not root: the device-node output checks are left out"
fi
check "no frames written by refused outputs" test ! -e g2/frame_00000.png

# --- files nca did not write -------------------------------------------------------------------
# grow, regen and export replace only what nca wrote before: their own folder's frames, loss.csv
# and GIF (the folder has nca's mark), their own page, their own TorchScript module.
mkdir mine web
echo "my notes" >mine/loss.csv
cp "$LIZ" mine/frame_00001.png
echo "<p>my page</p>" >web/index.html
echo "my data" >notes.pt
cp run/model.pt other-run.pt
expect 2 "^nca grow: error: --out 'mine' holds 'frame_00001.png' and 1 more that nca did not write there" -- \
  grow --model run --steps 2 --out mine
expect 2 "^nca regen: error: --out 'mine' holds 'frame_00001.png' and 1 more" -- regen --model run --out mine
expect 2 "^nca export: error: --web 'web' holds an index.html that nca did not write" -- \
  export --model run --web web
expect 2 "^nca export: error: --torch 'notes.pt' exists and is not a TorchScript export of nca's" -- \
  export --model run --torch notes.pt
expect 2 "--torch 'other-run.pt' exists and is not a TorchScript export of nca's" -- \
  export --model run --torch other-run.pt
check "the files nca did not write are as they were" bash -c 'test "$(cat mine/loss.csv)" = "my notes" &&
  cmp mine/frame_00001.png "$0" && grep -q "my page" web/index.html && test "$(cat notes.pt)" = "my data" &&
  cmp other-run.pt model.before' "$LIZ"
"$NCA" grow --model run --steps 2 --out ours >/dev/null 2>&1
"$NCA" grow --model run --steps 2 --out ours >/dev/null 2>&1
check "grow replaces its own folder's frames (exit $?)" test -s ours/frame_00002.png
"$NCA" export --model run --web ours-web --torch ours.pt >/dev/null 2>&1
"$NCA" export --model run --web ours-web --torch ours.pt >/dev/null 2>&1
check "export replaces its own page and module (exit $?)" test -s ours.pt -a -s ours-web/index.html
expect 2 "^nca export: error: --web '/dev/full' is a character device, not a directory" -- \
  export --model run --web /dev/full
expect 2 "^nca export: error: --web 'small.toml' is a file, not a directory" -- \
  export --model run --web small.toml

# --- temporaries of a killed writer ---------------------------------------------------------------
# grow and export remove the temporaries their own files left in their folders when the process
# that wrote them is gone (pid 999999999 is above any pid_max); not those of a live process, nor
# anything of the user's.
dead=999999999
mkdir -p stale-out stale-web
touch "stale-out/.frame_00001.png.tmp-$dead" "stale-out/.loss.csv.tmp-$dead" \
  "stale-out/.frames.gif.tmp-$dead" "stale-out/.frame_00002.png.tmp-$$" \
  "stale-out/.notes.txt.tmp-$dead" "stale-web/.index.html.tmp-$dead" \
  "stale-web/.notes.txt.tmp-$dead" ".stale.pt.tmp-$dead" ".mine.pt.tmp-$dead"
"$NCA" grow --model run --steps 2 --out stale-out --gif stale-out/frames.gif >/dev/null 2>&1
check "grow: its dead temporaries are gone" \
  test ! -e "stale-out/.frame_00001.png.tmp-$dead" -a ! -e "stale-out/.loss.csv.tmp-$dead" \
  -a ! -e "stale-out/.frames.gif.tmp-$dead"
check "grow: a live writer's temporary and the user's file stay" \
  test -e "stale-out/.frame_00002.png.tmp-$$" -a -e "stale-out/.notes.txt.tmp-$dead"
"$NCA" export --model run --web stale-web --torch stale.pt >/dev/null 2>&1
check "export: its dead temporaries are gone" \
  test ! -e "stale-web/.index.html.tmp-$dead" -a ! -e ".stale.pt.tmp-$dead"
check "export: the user's files stay" \
  test -e "stale-web/.notes.txt.tmp-$dead" -a -e ".mine.pt.tmp-$dead"

# --- resume over a loss.csv that is a device ----------------------------------------------------
rm run/loss.csv
ln -s /dev/zero run/loss.csv
expect 2 "cannot read 'run/loss.csv': it is a character device" -- \
  train --run-dir run --resume --iters 5
rm run/loss.csv
cp loss.before run/loss.csv
intact "a refused resume"
"$NCA" train --run-dir run --resume --iters 5 >/dev/null 2>&1
check "after it, --resume continues: iterations 0..4, each once" \
  cmp <(tail -n +2 run/loss.csv | cut -d, -f1) <(seq 0 4)
finish
