#!/usr/bin/env bash
# nca export: what it writes (a self-contained page, a TorchScript archive) and how it refuses
# bad input. The page's behaviour and the module's numbers are tested in tests/export.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir run >/dev/null || fail "tiny training"

check "export --help lists its flags" bash -c "'$NCA' export --help > help.txt"
for flag in --model --web --torch --grid; do
  check "export --help mentions $flag" grep -q -- "$flag" help.txt
done
check "nca --help lists export" bash -c "'$NCA' --help | grep -q '^  export'"

expect 2 "nothing to export" -- export --model run
mkdir elsewhere
# Without --model: the shipped model, found from any directory through the source tree.
pushd elsewhere >/dev/null || exit 1
if [[ -f $SRC/data/models/lizard-regenerating.pt ]]; then
  check "no --model: the shipped model" bash -c "'$NCA' export --web page >/dev/null"
  check "no --model: page written" test -s page/index.html
else
  expect 2 "shipped model data/models/lizard-regenerating.pt is not here" -- export --web page
  check "nothing written without a model" test ! -e page
fi
popd >/dev/null || exit 1
expect 2 "cannot load model 'nope.pt': no such file" -- export --model nope.pt --web page
echo "not a model" > junk.pt
expect 1 "cannot load model 'junk.pt'" -- export --model junk.pt --torch out.pt
check "no output for a bad model" test ! -e out.pt
touch afile
expect 2 "is a file, not a directory" -- export --model run --web afile
expect 2 "each side must be 3..512" -- export --model run --web page --grid 2
expect 2 "--grid 'x': expected N or HxW" -- export --model run --web page --grid x
expect 1 "cannot write 'nodir/m.pt'" -- export --model run --torch nodir/m.pt

# A run directory works as --model; both exports at once.
check "export --web and --torch" bash -c "'$NCA' export --model run --web page --torch m.pt 2> out.txt"
check "index.html written" test -s page/index.html
check "one file in the page directory" test "$(ls -A page | wc -l)" -eq 1
check "the log names both files" bash -c "grep -q 'page/index.html' out.txt && grep -q 'm.pt' out.txt"
check "page embeds the model" grep -q '"w1":"' page/index.html
check "page fetches nothing: no URL" bash -c "! grep -Eiq 'https?://|//cdn|src=\"' page/index.html"
check "page keeps crisp pixels" grep -q 'image-rendering: pixelated' page/index.html
check "TorchScript archive (zip)" bash -c "head -c 2 m.pt | grep -q PK"
check "no temporary files left" bash -c "! ls -A . page | grep -q '\.tmp-'"
"$NCA" export --model run --web page2 --grid 40 >/dev/null
check "--grid sets the page's grid" grep -q '"width":40,"height":40' page2/index.html
# Without --grid, the model's training grid (12 x 12 for the tiny model), not a fixed 72.
"$NCA" export --model run --web page3 >/dev/null
check "export: the page runs the training grid" grep -q '"width":12,"height":12' page3/index.html
# --grid HxW, as grow and regen take it: height x width.
"$NCA" export --model run --web page4 --grid 30x40 >/dev/null
check "--grid 30x40: 40 wide, 30 high" grep -q '"width":40,"height":30' page4/index.html

# The page is subtitled with the run directory's name, not "model.pt", whichever way the model
# is named: the run directory, its model.pt (from anywhere), one of its checkpoints.
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 --save-every 1 --run-dir star-growing \
  >/dev/null || fail "tiny training into star-growing"
"$NCA" export --model star-growing --web sub1 >/dev/null
check "subtitle of a run directory" grep -q '"description":"star-growing, 2 training iterations"' \
  sub1/index.html
"$NCA" export --model star-growing/model.pt --web sub2 >/dev/null
check "subtitle of a run directory's model.pt" \
  grep -q '"description":"star-growing, 2 training iterations"' sub2/index.html
(cd star-growing && "$NCA" export --model ./model.pt --web ../sub3 >/dev/null)
check "subtitle of ./model.pt in the run directory" \
  grep -q '"description":"star-growing, 2 training iterations"' sub3/index.html
"$NCA" export --model star-growing/checkpoints/model_000001.pt --web sub4 >/dev/null
check "subtitle of a checkpoint" \
  grep -q '"description":"star-growing, 1 training iteration"' sub4/index.html
cp star-growing/model.pt loose.pt
"$NCA" export --model loose.pt --web sub5 >/dev/null
check "subtitle of a model file elsewhere: its name" \
  grep -q '"description":"loose.pt, 2 training iterations"' sub5/index.html
finish
