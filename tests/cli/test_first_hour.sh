#!/usr/bin/env bash
# What `nca train` shows a new user: logs on stderr and nothing on stdout; before
# training, one cost line (sizes, time, memory, disk) and a warning when the image is shrunk by
# more than 2x; target.png at the start and growth.gif at the end in the run directory; a summary
# line and the next commands with this run's path, which work as printed; a run directory that
# resumes and grows from another working directory after it was moved, its target image gone;
# a progress bar that fits a 60-column terminal and redraws in place.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
args=("${TINY[@]}" --experiment persistent)
mkdir -p images
"$PROBE" make-png 64x64 images/disc.png
"$PROBE" make-png 16x16 images/small.png

# --- a run, seen from stdout and stderr -------------------------------------------------------
timeout 120 "$NCA" train --target images/disc.png "${args[@]}" --iters 6 --run-dir runs/disc \
  >out.txt 2>err.txt
check "train exits 0 (got $?)" test $? -eq 0
check "train prints nothing on stdout: its logs are on stderr" test ! -s out.txt
grep -n . err.txt
cost=$(grep -n "info cost: " err.txt | head -1)
check "one cost line" test "$(grep -c "info cost: " err.txt)" = 1
check "the cost line gives the sizes: 64x64 shrunk to 8x8 in a 12x12 grid" \
  grep -q "cost: target 64x64 shrunk to 8x8 in a 12x12 grid; " <<<"$cost"
check "the cost line gives the time, memory and disk per save" \
  grep -Eq "; about [0-9hms]+ for 6 iterations \([0-9.]+ ms a rollout step of grown states\); peak memory about [0-9.]+ [KMG]B; about [0-9.]+ [KMG]?B on disk per save \(pool.pt [0-9.]+ [KMG]?B, model.pt [0-9.]+ [KMG]?B\)" <<<"$cost"
training=$(grep -n "info training " err.txt | cut -d: -f1)
check "the cost line comes before training starts" test "${cost%%:*}" -lt "${training:-0}"
check "a 64x64 image shrunk to 8x8 (8.0x) is warned about" \
  grep -q "warning target 64x64 is shrunk 8.0x to 8x8 (--size 8)" err.txt
check "the summary line: iterations, time, rate, the mean log10 loss of the last iterations" \
  grep -Eq "done: 6 iterations, model in runs/disc/model.pt; 6 iterations in [0-9hms]+ \([0-9.]+ it/s\), log10 loss -?[0-9.]+ \(mean of the last 6\)" err.txt
next=$(sed -n 's/.* info next: //p' err.txt)
# The program named as it was started: by its path, as PATH does not find this nca as `nca`.
check "the next commands name this run and this program" test "$next" = \
  "$NCA grow --model runs/disc --out runs/disc/grow  |  $NCA regen --model runs/disc --out runs/disc/regen  |  $NCA export --model runs/disc --web runs/disc/web"
read -r w h <<<"$("$PROBE" png runs/disc/target.png)"
check "target.png: the 12x12 grid, 4 pixels a cell (got ${w}x$h)" test "${w}x$h" = 48x48
read -r w h f <<<"$("$PROBE" gif runs/disc/growth.gif)"
check "growth.gif: 48x48, steps 0 to 200 every 2 (got ${w}x$h, $f frames)" test "${w}x${h}x$f" = 48x48x101
# The next commands, run as printed (the threads bounded for this machine).
IFS='|' read -ra commands <<<"$next"
for c in "${commands[@]}"; do
  read -ra words <<<"$c"
  [[ ${words[1]} == export ]] || words+=(--threads 1)
  timeout 120 "$NCA" "${words[@]:1}" >/dev/null 2>next.err
  check "'$c' works as printed (exit $?: $(tail -1 next.err))" test $? -eq 0
done
check "grow made its GIF" test -s runs/disc/grow/growth.gif
check "export made the page" test -s runs/disc/web/index.html
# growth.gif is `nca grow --model RUN --steps 200 --every 2` with its default seed.
timeout 120 "$NCA" grow --model runs/disc --steps 200 --every 2 --out again --threads 1 >/dev/null 2>&1
check "growth.gif is what grow --steps 200 --every 2 writes" cmp -s runs/disc/growth.gif again/growth.gif

# --- no warning when shrunk by 2x at most ------------------------------------------------------
timeout 120 "$NCA" train --target images/small.png "${args[@]}" --iters 1 --run-dir runs/small \
  >/dev/null 2>small.txt
check "16x16 shrunk to 8x8 (2x): in the cost line" grep -q "cost: target 16x16 shrunk to 8x8 in" small.txt
check "16x16 shrunk to 8x8 (2x): no warning" test -z "$(grep " warning " small.txt)"
check "one iteration is said in the singular" \
  grep -q "for 1 iteration (.*to 1 iteration (runs/small).*done: 1 iteration, " <<<"$(tr '\n' ' ' <small.txt)"

# --- self-contained: moved, its image gone, resumed and grown from elsewhere ------------------
mkdir -p elsewhere/deeper
mv runs/disc elsewhere/moved
rm images/disc.png
cd elsewhere/deeper || exit 1
timeout 120 "$NCA" train --run-dir ../moved --resume --iters 8 >/dev/null 2>resume.txt
check "a moved run directory resumes from another folder without its image (exit $?: $(tail -1 resume.txt))" test $? -eq 0
check "the resumed run takes its target from model.pt" grep -q "target from ../moved/model.pt (12x12 grid)" resume.txt
check "the resumed run reached iteration 8" test "$("$PROBE" model ../moved/model.pt)" = 8
timeout 120 "$NCA" grow --model ../moved --steps 10 --out g --threads 1 >/dev/null 2>&1
check "grow from another folder (exit $?)" test $? -eq 0
cd "$WORK" || exit 1

# --- the progress bar on a 60-column terminal -------------------------------------------------
"$PROBE" make-png 64x64 images/disc.png
script -qec "stty cols 60; '$NCA' train --target images/disc.png ${args[*]} --iters 300 --run-dir runs/tty" tty.txt >/dev/null 2>&1
check "train on a terminal exits 0" grep -q "done: 300 iterations" tty.txt
# Every redraw is a \r-separated piece; none may reach the 60th column (no wrapping).
longest=$(tr '\r' '\n' <tty.txt | sed 's/\x1b\[K//g' | grep -E '^ *[0-9]+%' | awk '{ if (length($0) > m) m = length($0) } END { print m }')
check "no redraw of the bar reaches column 60 (longest $longest)" test "$longest" -le 59
bar=$(tr '\r' '\n' <tty.txt | sed 's/\x1b\[K//g' | grep -E '^100%\|#+\| 300/300 \[[0-9:]+<00:00, [0-9.]+(it/s|s/it), log10 -?[0-9.]+\]$' | head -1)
check "the bar at the end: 100%, 300/300, elapsed<left, rate, log10 loss ($bar)" test -n "$bar"
check "the bar redraws in place (\\r), more than once" test "$(tr -cd '\r' <tty.txt | wc -c)" -ge 2
finish
