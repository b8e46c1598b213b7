#!/usr/bin/env bash
# The run directory is written by one process at a time: while `nca train` runs, a second
# train on the same --run-dir (new, --resume or --force) exits 1 with one line naming the
# holder's pid, and touches nothing; after kill -9 of the holder the OS has released the lock,
# so --resume continues at once, and loss.csv holds every iteration exactly once.
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
finish
