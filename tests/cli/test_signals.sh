#!/usr/bin/env bash
# Ctrl-C (SIGINT), SIGTERM and SIGHUP save model.pt and exit 0 within seconds; --resume
# continues from the saved iteration, and the loss curve goes on without a gap or a restart.
# A stop request in the middle of a long rollout abandons that iteration: model.pt, pool.pt and
# the generator stay those of the last finished one, so the resumed run's losses are those of an
# uninterrupted run.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
args=(--size 16 --pad 4 --batch 4 --pool 16 --min-steps 16 --max-steps 24 --threads 2
  --save-every 0 --snapshot-every 0 --run-dir run)

rows() { echo $(($(wc -l <run/loss.csv) - 1)); }

# interrupt SIGNAL ITERS: start a run (or resume), wait for a few more iterations, send SIGNAL.
interrupt() {
  local sig=$1 before=$2
  shift 2
  "$NCA" train "$@" >"$WORK/log" 2>&1 &
  local pid=$!
  for _ in $(seq 600); do
    [[ -f run/loss.csv ]] && [[ $(rows) -ge $((before + 3)) ]] && break
    sleep 0.1
  done
  local t0=$SECONDS
  kill -"$sig" $pid
  wait $pid
  local rc=$?
  check "SIG$sig: exit 0 (got $rc)" test $rc -eq 0
  check "SIG$sig: stopped within 10 s" test $((SECONDS - t0)) -le 10
  check "SIG$sig: says how to continue" grep -q -- "--resume" "$WORK/log"
}

interrupt INT 0 --target "$LIZ" --iters 100000 "${args[@]}"
n=$(rows)
check "model.pt written" test -s run/model.pt
check "no temporary files left" test -z "$(find run -name '.*tmp*')"

interrupt TERM "$n" --resume --iters 100000 "${args[@]}"
check "resume says where it starts" grep -q "resuming run at iteration $n" "$WORK/log"
m=$(rows)
check "the second run went on past $n (now $m)" test "$m" -gt "$n"

interrupt HUP "$m" --resume --iters 100000 "${args[@]}"
m=$(rows)

"$NCA" train --resume --iters $((m + 2)) "${args[@]}" 2>"$WORK/log" >/dev/null
check "final resume finishes" test $? -eq 0
check "iterations run 0..$((m + 1)) without gaps" \
  cmp <(tail -n +2 run/loss.csv | cut -d, -f1) <(seq 0 $((m + 1)))

# --- Mid-rollout: rollouts of 400 steps, SIGTERM once the first iteration is written ---------
long=(--size 8 --pad 2 --batch 4 --pool 8 --min-steps 400 --max-steps 401 --threads 1
  --snapshot-every 0 --save-every 0)
"$NCA" train --target "$LIZ" "${long[@]}" --iters 3 --run-dir long >"$WORK/log" 2>&1 &
pid=$!
for _ in $(seq 1200); do
  [[ -f long/loss.csv ]] && [[ $(wc -l <long/loss.csv) -ge 2 ]] && break
  sleep 0.1
done
kill -TERM $pid
wait $pid
check "mid-rollout SIGTERM: exit 0 (got $?)" test $? -eq 0
done_iters=$(($(wc -l <long/loss.csv) - 1))
check "mid-rollout: model.pt holds the iterations loss.csv has ($done_iters)" \
  test "$("$PROBE" model long/model.pt)" = "$done_iters"
"$NCA" train --run-dir long --resume --iters 3 >/dev/null 2>&1
check "mid-rollout: the resume finishes" test $? -eq 0
"$NCA" train --target "$LIZ" "${long[@]}" --iters 3 --run-dir straight >/dev/null 2>&1
check "mid-rollout: the resumed losses are an uninterrupted run's" \
  cmp <(cut -d, -f1-5 long/loss.csv) <(cut -d, -f1-5 straight/loss.csv)
finish
