#!/usr/bin/env bash
# Disk trouble while training: the run directory removed under a running `nca train`; a full
# disk (a small tmpfs) hit by each kind of save (pool.pt, model.pt, a checkpoint copy, loss.csv);
# a read-only file system. Each time: exit 1, one error line that names the file, the reason and
# what to do; the previous model.pt intact and loadable; no temporary file left; and --resume,
# once there is room again, continues without a gap, exactly as a run never stopped.
# The tmpfs cases need a private mount namespace (root, as in CI): without one they are skipped
# (exit 77) after the rest has run, except under CI=true, where that is a failure.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
# A checkpoint every iteration, so that saves are frequent and every kind of write is reached;
# a pool of 1024 seeds instead of TINY's 8, so that pool.pt (stored compact: 100 KB here, 4 KB
# for 8 states) fills the disk over a range of sizes rather than at one exact size.
args=()
for ((i = 0; i < ${#TINY[@]}; i++)); do
  args+=("${TINY[i]}")
  [[ ${TINY[i]} == --pool ]] && args+=(1024) && i=$((i + 1))
done
args+=(--save-every 1)
faults=0

# one_error_line FILE REGEX: FILE holds exactly one line, and it matches REGEX.
one_error_line() {
  local file=$1 regex=$2
  check "one error line (got: $(cat "$file"))" test "$(error_lines "$file" | grep -c .)" -eq 1
  check "error matches /$regex/ (got: $(cat "$file"))" grep -Eq -- "$regex" "$file"
}

rows() { echo $(($(wc -l <"$1") - 1)); }

# resume_continues RUN: after room was made, --resume goes on from model.pt's iteration,
# loss.csv holds every iteration exactly once, and its rows are those of a run never stopped
# (ref/, made in the namespace below): pool.pt is the pool of model.pt's iteration, whichever
# write failed.
resume_continues() {
  local run=$1 it rc
  it=$("$PROBE" model "$run/model.pt")
  timeout 120 "$NCA" train --run-dir "$run" --resume --iters $((it + 2)) >"$WORK/resume.log" 2>&1
  rc=$?
  check "resume from iteration $it succeeds (exit $rc): $(tail -n 1 "$WORK/resume.log")" test $rc -eq 0
  check "resume: model.pt at iteration $((it + 2))" test "$("$PROBE" model "$run/model.pt")" = $((it + 2))
  check "resume: loss.csv holds iterations 0..$((it + 1)) exactly once" \
    cmp -s <(tail -n +2 "$run/loss.csv" | cut -d, -f1) <(seq 0 $((it + 1)))
  check "resume: loss.csv's rows are those of a run never stopped" \
    cmp <(cut -d, -f1-5 "$run/loss.csv") <(head -n $((it + 3)) ref/loss.csv | cut -d, -f1-5)
}

if [[ ${NCA_DISK_IN_NAMESPACE:-} != 1 ]]; then
  # --- The run directory removed while training ------------------------------------------------
  timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --iters 100000 --run-dir gone \
    >"$WORK/log" 2>"$WORK/err" &
  pid=$!
  for _ in $(seq 600); do
    [[ -f gone/loss.csv ]] && [[ $(rows gone/loss.csv) -ge 3 ]] && break
    sleep 0.1
  done
  # rm -rf can race with a save creating a file in it: repeat until it is gone.
  for _ in $(seq 50); do
    rm -rf gone 2>/dev/null
    [[ -e gone ]] || break
  done
  faults=$((faults + 1))
  wait $pid
  rc=$?
  check "run dir removed: exit 1 (got $rc)" test $rc -eq 1
  one_error_line "$WORK/err" "nca train: error: cannot write 'gone/[^']+': No such file or directory; the run directory 'gone' was removed while training"
  check "the directory was not recreated" test ! -e gone

  # --- The tmpfs cases, in a private mount namespace ---------------------------------------
  if [[ $(id -u) -ne 0 ]] || ! unshare -m true 2>/dev/null; then
    echo "the full-disk cases need a private mount namespace (root); ran the rest:"
    finish || exit 1
    skip "full-disk cases: no private mount namespace (needs root and unshare)"
  fi
  out=$(NCA_DISK_IN_NAMESPACE=1 unshare -m bash "$0" "$NCA" "$SRC" 2>&1)
  inner=$?
  echo "$out"
  [[ $inner -eq 0 || $inner -eq 77 ]] || fail "full-disk cases (exit $inner)"
  echo "faults injected here: $faults (run directory removed)"
  if [[ $inner -eq 77 ]]; then
    finish || exit 1
    skip "full-disk cases: cannot mount a tmpfs in the namespace"
  fi
  finish
  exit
fi

# --- Inside the namespace: a small tmpfs per case -----------------------------------------------
mkdir -p disk
if ! mount -t tmpfs -o size=64k tmpfs disk 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here"
  exit 77
fi
umount disk
timeout 300 "$NCA" train --target "$LIZ" "${args[@]}" --iters 40 --run-dir ref >/dev/null 2>&1 ||
  fail "the uninterrupted reference run"

# full_disk KB: trains on a KB-sized tmpfs until a write fails, then checks what is left.
# Prints the file whose write failed.
declare -A failed_files
full_disk() {
  local kb=$1 rc it
  mount -t tmpfs -o size="${kb}k" tmpfs disk
  timeout 300 "$NCA" train --target "$LIZ" "${args[@]}" --iters 30 --run-dir disk/run \
    >"$WORK/log" 2>"$WORK/err"
  rc=$?
  faults=$((faults + 1))
  check "${kb}k: exit 1 (got $rc)" test $rc -eq 1
  one_error_line "$WORK/err" "cannot write '[^']+': No space left on device"
  local file
  file=$(sed -nE "s/.*cannot write 'disk\/run\/([^']+)'.*/\1/p" "$WORK/err" | sed -E 's/[0-9]+/N/')
  failed_files[$file]=1
  echo "${kb}k tmpfs: the write of $file failed: $(cat "$WORK/err")"
  check "${kb}k: no temporary file left" test -z "$(find disk/run -name '.*.tmp-*')"
  if [[ -f disk/run/model.pt ]]; then
    it=$("$PROBE" model disk/run/model.pt)
    check "${kb}k: model.pt loads (iteration '$it')" test -n "$it"
    check "${kb}k: the message gives model.pt's iteration and the way on" \
      grep -q "disk/run/model.pt still holds iteration $it: once that is fixed, continue with: $NCA train --run-dir disk/run --resume" "$WORK/err"
    if [[ -f disk/run/pool.pt ]]; then
      local pool
      pool=$("$PROBE" pool disk/run/pool.pt)
      check "${kb}k: pool.pt loads, finite, not behind model.pt ($pool vs $it)" \
        test "${pool#* }" = finite -a "${pool% *}" -ge "$it"
    fi
    mount -o remount,size=4m disk  # make room
    resume_continues disk/run
  else
    check "${kb}k: says no model was saved yet" grep -q "no model was saved yet" "$WORK/err"
  fi
  umount disk
}

# model.pt is about 37 pages (148 KB) here, pool.pt 25, config.toml, target.png and loss.csv
# one each; checkpoints/ holds hard links (no space). Each size runs out at another write
# (measured: the pool from 16 to 110 KB, model.pt 120-260, the pool 270-360, model.pt 370-400):
# the pool (written as pool.next.pt) or model.pt, in the first save (no model.pt yet) or a later
# one (model.pt at iteration 1).
for kb in 60 190 310 390; do full_disk "$kb"; done
for f in pool.next.pt model.pt; do
  check "the sweep ran out of space while writing $f (got: ${!failed_files[*]})" \
    test -n "${failed_files[$f]:-}"
done

# --- The disk fills up between saves: the loss.csv row cannot be written --------------------------
mount -t tmpfs -o size=4m tmpfs disk
timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --iters 2 --run-dir disk/run >/dev/null 2>&1
timeout 300 "$NCA" train --run-dir disk/run --resume --iters 100000 --save-every 0 \
  >"$WORK/log" 2>"$WORK/err" &
pid=$!
for _ in $(seq 600); do
  [[ $(rows disk/run/loss.csv) -ge 4 ]] && break
  sleep 0.1
done
dd if=/dev/zero of=disk/filler bs=4k 2>/dev/null  # until the disk is full
faults=$((faults + 1))
wait $pid
check "loss.csv on a full disk: exit 1 (got $?)" test $? -eq 1
one_error_line "$WORK/err" "cannot write 'disk/run/loss.csv': No space left on device; disk/run/model.pt still holds iteration 2: once that is fixed"
echo "full disk between saves: $(cat "$WORK/err")"
rm -f disk/filler
resume_continues disk/run
umount disk

# --- A read-only file system: resume refuses cleanly, model.pt untouched ------------------------
mount -t tmpfs -o size=4m tmpfs disk
timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --iters 3 --run-dir disk/run >/dev/null 2>&1
check "read-only: the first run trains" test $? -eq 0
sum=$(md5sum <disk/run/model.pt)
mount -o remount,ro disk
faults=$((faults + 1))
timeout 120 "$NCA" train --run-dir disk/run --resume --iters 6 >"$WORK/log" 2>"$WORK/err"
check "read-only: exit 1 (got $?)" test $? -eq 1
one_error_line "$WORK/err" "cannot write 'disk/run/[^']+': Read-only file system"
check "read-only: model.pt unchanged" test "$(md5sum <disk/run/model.pt)" = "$sum"
check "read-only: model.pt still loads" test "$("$PROBE" model disk/run/model.pt)" = 3
timeout 120 "$NCA" grow --model disk/run --steps 2 --out disk/frames >"$WORK/log" 2>"$WORK/err"
check "read-only: grow into it exits 1 (got $?)" test $? -eq 1
one_error_line "$WORK/err" "Read-only file system"
mount -o remount,rw disk
resume_continues disk/run
umount disk

# --- export --torch to a full disk: one line and exit 1, nothing left behind ----------------------
mount -t tmpfs -o size=16k tmpfs disk
faults=$((faults + 1))
timeout 120 "$NCA" export --model ref --torch disk/m.pt >"$WORK/log" 2>"$WORK/err"
check "export --torch on a full disk: exit 1 (got $?)" test $? -eq 1
one_error_line "$WORK/err" "cannot write 'disk/m.pt': No space left on device"
check "export --torch on a full disk: nothing left" test -z "$(ls -A disk)"
umount disk

echo "faults injected here: $faults (full disk and read-only)"
finish
