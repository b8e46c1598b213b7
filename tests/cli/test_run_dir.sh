#!/usr/bin/env bash
# The run directory is written by one process at a time: while `nca train` runs, a second
# train on the same --run-dir (new, --resume or --force) exits 1 with one line naming the
# holder's pid, and touches nothing; after kill -9 of the holder the OS has released the lock,
# so --resume continues at once, and loss.csv holds every iteration exactly once.
# --force replaces only an nca run directory, and in it only what nca wrote: any other non-empty
# directory (".", a thesis folder) is refused with exit 2 and left as it was; when one of its files
# cannot be removed (a read-only folder), it removes none.
# The commands a run prints at its end (next: ..., continue with: ...) run as printed in a shell,
# whatever the run directory is called (quotes, a leading dash, a newline).
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
args=("${TINY[@]}" --save-every 1)

rows() { echo $(($(wc -l <"$1") - 1)); }

# --- A second writer while one trains --------------------------------------------------------
# Not under timeout: the pid in the message must be nca's own. --iters bounds it instead.
"$NCA" train --target "$LIZ" "${args[@]}" --iters 3000 --run-dir run >"$WORK/log" 2>&1 &
holder=$!
for _ in $(seq 600); do
  [[ -f run/model.pt ]] && [[ $(rows run/loss.csv) -ge 3 ]] && break
  sleep 0.1
done
busy="run directory 'run' is in use by another nca process \(pid $holder\)"
expect 1 "^nca train: error: $busy" -- train --target "$LIZ" "${args[@]}" --iters 5 --run-dir run
expect 1 "^nca train: error: $busy" -- train "${args[@]}" --iters 5 --run-dir run --resume
expect 1 "^nca train: error: $busy" -- train --target "$LIZ" "${args[@]}" --iters 5 --run-dir run --force
check "the holder still runs" kill -0 $holder
check "the refused writers left no files of their own" test -z "$(find run -name '.*tmp*' ! -name "*tmp-$holder")"

# --- kill -9 leaves no stale lock ------------------------------------------------------------
kill -9 $holder
wait $holder 2>/dev/null
check "the lock file stays, unlocked" test -f run/.nca.lock
it=$("$PROBE" model run/model.pt)
check "model.pt loads after kill -9 (iteration $it)" test -n "$it"
timeout 120 "$NCA" train --run-dir run --resume --iters $((it + 2)) >"$WORK/resume.log" 2>&1
rc=$?
check "resume after kill -9 succeeds (exit $rc): $(tail -n 1 "$WORK/resume.log")" test $rc -eq 0
check "model.pt at iteration $((it + 2))" test "$("$PROBE" model run/model.pt)" = $((it + 2))
check "loss.csv holds iterations 0..$((it + 1)) exactly once" \
  cmp -s <(tail -n +2 run/loss.csv | cut -d, -f1) <(seq 0 $((it + 1)))

# --- --force and directories nca did not make ---------------------------------------------------
mkdir -p thesis/chapters && echo "three years" >thesis/notes.txt && echo x >thesis/chapters/1.tex
notrun="'thesis' is not empty and is not an nca run directory"
expect 2 "^nca train: error: $notrun \(--force replaces only those\): pick a new or empty --run-dir$" \
  -- train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir thesis --force
expect 2 "^nca train: error: $notrun: pick a new or empty --run-dir$" \
  -- train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir thesis
check "--force left the thesis alone" test "$(cat thesis/notes.txt)" = "three years" -a -f thesis/chapters/1.tex
check "--force created nothing in it" test "$(find thesis | wc -l)" -eq 4
(cd thesis && expect 2 "^nca train: error: '\.' is not empty and is not an nca run directory \(--force" \
  -- train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir . --force; exit $failures)
check "--run-dir . --force refused" test $? -eq 0
check "--run-dir . --force left it alone" test "$(find thesis | wc -l)" -eq 4

# In a run directory, --force removes nca's files and keeps the others.
echo "my notes" >run/notes.txt
echo "mine" >run/checkpoints/keep.txt
ckpts=$(find run/checkpoints -name 'model_*.pt' | wc -l)
check "the old run has checkpoints ($ckpts)" test "$ckpts" -gt 0
timeout 120 "$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir run --force >"$WORK/log" 2>&1
check "--force on a run directory succeeds: $(tail -n 1 "$WORK/log")" test $? -eq 0
check "--force says what it kept" grep -q "kept 2 entries in run that nca did not write" "$WORK/log"
check "--force kept notes.txt" test "$(cat run/notes.txt)" = "my notes"
check "--force kept checkpoints/keep.txt" test "$(cat run/checkpoints/keep.txt)" = "mine"
check "--force removed the old checkpoints" test -z "$(find run/checkpoints -name 'model_*.pt')"
check "the new model.pt loads at iteration 2" test "$("$PROBE" model run/model.pt)" = 2
check "the new loss.csv holds iterations 0..1 once" \
  cmp -s <(tail -n +2 run/loss.csv | cut -d, -f1) <(seq 0 1)

# --- The printed commands run as printed ----------------------------------------------------
# printed LOG WHAT: the first command after WHAT ("next: " or "continue with: ") in the log, up to
# a "  |" or a " (" that follows it.
printed() {
  local line
  line=$(grep -m 1 -- "$2" "$1")
  line=${line#*"$2"}
  line=${line%%  |*}
  echo "${line%% (*}"
}
for name in "it's odd" "-dash" $'two\nlines'; do
  timeout 120 "$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 "--run-dir=$name" \
    >/dev/null 2>"$WORK/log"
  check "run directory $(printf %q "$name"): trained" test -s "$name/model.pt"
  check "run directory $(printf %q "$name"): every line on stderr is a log line" \
    test "$(error_lines "$WORK/log" | grep -c .)" -eq 0
  cmd=$(printed "$WORK/log" "next: ")
  check "run directory $(printf %q "$name"): a next: line ($cmd)" test -n "$cmd"
  rm -rf -- "$name/grow"
  (eval "\"\$NCA\" ${cmd#"$NCA" } --steps 3") >/dev/null 2>&1
  check "run directory $(printf %q "$name"): its next: grow runs as printed" \
    test -s "$name/grow/frame_00003.png"
done
# A stop says how to continue: that command runs as printed too.
"$NCA" train --target "$LIZ" "${TINY[@]}" --iters 100000 --save-every 0 "--run-dir=-dash" --force \
  >"$WORK/log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [[ -f ./-dash/loss.csv ]] && [[ $(rows ./-dash/loss.csv) -ge 3 ]] && break
  sleep 0.1
done
kill -INT $pid
wait $pid
cmd=$(printed "$WORK/log" "continue with: ")
check "a stop prints how to continue ($cmd)" test -n "$cmd"
n=$("$PROBE" model ./-dash/model.pt)
(eval "timeout 120 \"\$NCA\" ${cmd#"$NCA" } --iters $((n + 1))") >/dev/null 2>&1
check "its continue with: runs as printed (iteration $n + 1)" \
  test "$("$PROBE" model ./-dash/model.pt)" = $((n + 1))

# --- --force removes all of nca's files or none --------------------------------------------------
if [[ $(id -u) -ne 0 ]] || ! unshare -m true 2>/dev/null; then
  skip "--force on a read-only folder: needs root and a private mount namespace (unshare)"
fi
timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --iters 2 --run-dir ro >/dev/null 2>&1
# The lock holds the pid of the last process that took it: every other file is compared.
files() { (cd ro && find . -type f ! -name .nca.lock | sort | xargs md5sum); }
before=$(files)
# checkpoints/ read-only, in a namespace of its own: its files cannot be removed, the others can.
unshare -m bash -c 'mount --bind ro/checkpoints ro/checkpoints &&
  mount -o remount,ro,bind ro/checkpoints && exec timeout 120 "$@"' _ \
  "$NCA" train --target "$LIZ" "${TINY[@]}" --iters 2 --run-dir ro --force >/dev/null 2>"$WORK/log"
rc=$?
check "--force with a read-only checkpoints/ exits 1 (got $rc)" test $rc -eq 1
check "--force with a read-only checkpoints/: one line naming the file and why" grep -Eq \
  "^nca train: error: --force cannot replace 'ro': cannot remove 'ro/checkpoints/model_[0-9]+\.pt': Read-only file system; nothing was removed$" \
  "$WORK/log"
check "--force with a read-only checkpoints/: one line" test "$(error_lines "$WORK/log" | grep -c .)" -eq 1
check "--force with a read-only checkpoints/: every file as it was" \
  test "$(files)" = "$before"
finish
