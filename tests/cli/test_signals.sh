#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM save model.pt and exit 0 within seconds; --resume continues from
# the saved iteration, and the loss curve goes on without a gap or a restart.
source "$(dirname "$0")/lib.sh"
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

"$NCA" train --resume --iters $((m + 2)) "${args[@]}" 2>"$WORK/log" >/dev/null
check "final resume finishes" test $? -eq 0
check "iterations run 0..$((m + 1)) without gaps" \
  cmp <(tail -n +2 run/loss.csv | cut -d, -f1) <(seq 0 $((m + 1)))
finish
