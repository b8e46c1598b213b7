#!/usr/bin/env bash
# The run directory is written by one process at a time: while `nca train` runs, a second
# train on the same --run-dir (new, --resume or --force) exits 1 with one line naming the
# holder's pid, and touches nothing; after kill -9 of the holder the OS has released the lock,
# so --resume continues at once, and loss.csv holds every iteration exactly once.
# --force replaces only an nca run directory, and in it only what nca wrote: any other non-empty
# directory (".", a thesis folder) is refused with exit 2 and left as it was.
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
finish
