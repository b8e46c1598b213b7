#!/usr/bin/env bash
# The signal matrix: SIGINT, SIGTERM and SIGHUP sent to nca, and Ctrl-C (SIGINT to the whole
# process group) of `nca train 2>&1 | tee log` and of `nca train 2>&1 | head -1` (head left after the
# first line: nca goes on writing into a closed pipe), 5 times each, at a moment of training
# drawn at random (the first time within 0.1 s, the others within 1.2 s): in the first
# iteration, in the middle of a later rollout, or past one, in the backward pass. Each time nca
# exits 0 within seconds, model.pt loads and holds the iterations loss.csv has (each once), and
# --resume goes on from there without a gap or a repeat; at the end all 25 runs must have the
# same loss for each iteration (training is deterministic), so a stop leaves no trace.
# test_signals.sh and test_pipes.sh try each case once, at a moment they choose; this one
# looks for the moments they miss.
# The moments come from a fixed seed: a failure comes back when the script is run again, and
# each run prints its case, its moment, nca's exit status and the iteration model.pt holds.
# A moment is counted from the start of training, once nca catches the three signals, not
# from the start of the process: before main() the dynamic loader is still loading LibTorch (a
# second or more on a busy machine), and a signal there ends any program.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
RANDOM=4242
REPEATS=5
# Rollouts of 300 to 900 steps of a tiny grid: an iteration takes a tenth of a second or more, so
# that a moment lands in the first one now and then.
args=(--size 8 --pad 2 --batch 4 --pool 8 --min-steps 300 --max-steps 900 --threads 1
  --snapshot-every 0 --save-every 0 --log-every 1)

# A script's background jobs start with SIGINT ignored (a shell without job control does
# that), and so would every process of a pipeline started from one: nca installs its handler
# over that, but tee and head would outlive the Ctrl-C. A terminal's jobs have the default.
if ! env --default-signal=INT true 2>/dev/null; then
  skip "env --default-signal (coreutils 8.31) is needed to start a job as a terminal does"
fi
job=(env --default-signal=INT)

# catches PID: the signals PID catches, a number (0 when it is gone).
catches() { echo $((0x$(sed -n 's/^SigCgt:\s*//p' "/proc/$1/status" 2>/dev/null || echo 0))); }

iterations() { tail -n +2 "$1/loss.csv" | cut -d, -f1; }

# ok_loss DIR N WHAT: loss.csv holds iterations 0..N-1, each once.
ok_loss() {
  check "$3: loss.csv holds iterations 0..$(($2 - 1)) once" \
    cmp -s <(iterations "$1") <(seq 0 $(($2 - 1)))
}

# gone PID: waits up to 10 s for PID to end; false when it does not.
gone() {
  for _ in $(seq 200); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.05
  done
  return 1
}

declare -A landed=()

# one CASE REPEAT: a run, interrupted at a random moment, checked, then resumed.
one() {
  local how=$1 k=$2
  # The first of each five within 0.1 s of the start of training: mostly in the first iteration.
  local dir=$how-$k ms=$((RANDOM % 1201))
  ((k == 1)) && ms=$((ms % 101))
  local delay what
  delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  what="$how #$k at ${delay} s"
  local train=("$NCA" train --target "$LIZ" "${args[@]}" --iters 100000 --run-dir "$dir")
  case $how in
    INT | TERM | HUP)
      "${job[@]}" "${train[@]}" >"$dir.log" 2>&1 &
      ;;
    tee | head)
      # setsid: a process group of its own, as a terminal's foreground job is; kill -INT -PGID is
      # what Ctrl-C does to it. The shell traps INT (its children get the default) so that it
      # lives to record nca's exit status.
      setsid "${job[@]}" bash -c 'trap true INT; dir=$1 how=$2; shift 2
        if [[ $how == head ]]; then
          "$@" 2>&1 | head -1 >"$dir.out"
          echo "${PIPESTATUS[0]}" >"$dir.rc"
        else
          "$@" 2>&1 | tee "$dir.log" >/dev/null
          echo "${PIPESTATUS[0]}" >"$dir.rc"
        fi' _ "$dir" "$how" "${train[@]}" &
      ;;
  esac
  local pid=$! nca=
  # Training has begun once nca catches SIGINT, SIGTERM and SIGHUP (bits 2, 1 and 15 of SigCgt);
  # with | head -1, head has also had its line (nca logs one at start) and is gone or going.
  for _ in $(seq 1200); do
    [[ -z $nca ]] && case $how in
      INT | TERM | HUP) nca=$pid ;;
      *) nca=$(pgrep -g $pid -x "$(basename "$NCA" | cut -c1-15)") ;;
    esac
    [[ -n $nca ]] && ((($(catches "$nca") & 0x4003) == 0x4003)) &&
      [[ $how != head || -s $dir.out ]] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
  done
  if ! { [[ -n $nca ]] && ((($(catches "$nca") & 0x4003) == 0x4003)); }; then
    fail "$what: training did not begin within a minute"
    kill -KILL -- -$pid $pid 2>/dev/null
    wait $pid
    return
  fi
  sleep "$delay"
  local t_signal
  t_signal=$(date +%s%N)
  case $how in
    INT | TERM | HUP) kill -"$how" $pid ;;
    *) kill -INT -- -$pid ;;
  esac
  local stopped=yes
  gone $pid || { stopped=no && kill -KILL -- -$pid $pid 2>/dev/null; }
  wait $pid
  local rc=$?
  [[ $how == tee || $how == head ]] && rc=$(cat "$dir.rc" 2>/dev/null || echo none)
  local n
  n=$("$PROBE" model "$dir/model.pt" 2>&1)
  # Where the signal landed, from the time loss.csv was last written: a row written after the
  # signal is an iteration that was past its rollout and finished; none, a rollout abandoned.
  # (The file system's clock may lag by a few ms: a guess for the log, never checked.)
  local t_row where kind
  t_row=$(stat -c %.9Y "$dir/loss.csv" 2>/dev/null | tr -d .)
  if [[ $n == 0 ]]; then
    kind="in the first rollout"
    where="in the rollout of iteration 0"
  elif [[ -n $t_row ]] && ((t_row > t_signal)); then
    kind="past a rollout"
    where="past the rollout of iteration $((n - 1)), which finished"
  else
    kind="in a later rollout"
    where="in the rollout of iteration $n, abandoned"
  fi
  landed[$kind]=$((${landed[$kind]:-0} + 1))
  echo "$how #$k: signal ${delay} s into training, $where; exit $rc, model.pt at iteration $n"
  check "$what: stopped within 10 s of the signal" test $stopped = yes
  check "$what: nca exits 0 (got $rc)" test "$rc" = 0
  if ! [[ $n =~ ^[0-9]+$ ]]; then
    fail "$what: model.pt does not load: $n"
    return
  fi
  ok_loss "$dir" "$n" "$what"
  check "$what: no temporary file left" test -z "$(find "$dir" -name '.*tmp*')"
  case $how in
    INT | TERM | HUP)
      check "$what: says where it stopped and how to continue" \
        grep -q "stopped at iteration $n: .*--resume" "$dir.log"
      ;;
  esac
  [[ $how == head ]] && check "$what: head read one line and left" test "$(wc -l <"$dir.out")" = 1

  timeout 120 "$NCA" train --run-dir "$dir" --resume --iters $((n + 2)) >"$dir.resume" 2>&1
  rc=$?
  check "$what: --resume --iters $((n + 2)) exits 0 (got $rc)" test $rc -eq 0
  check "$what: the resume starts at iteration $n" \
    grep -q "resuming $dir at iteration $n\$" "$dir.resume"
  check "$what, resumed: trained to iteration $((n + 2))" \
    grep -q "done: $((n + 2)) iterations" "$dir.resume"
  ok_loss "$dir" $((n + 2)) "$what, resumed"
}

for how in INT TERM HUP tee head; do
  for k in $(seq "$REPEATS"); do
    one "$how" "$k"
  done
done
for w in "in the first rollout" "in a later rollout" "past a rollout"; do
  echo "signals $w: ${landed[$w]:-0}"
done
# Training is deterministic (one thread, the default seed): every run, however it was stopped
# and resumed, went through the same iterations. An abandoned rollout leaves no trace (the
# generator is put back) and a resume goes on as if never stopped, so each iteration has the
# same row (but its time) in every loss.csv.
check "every run has the same losses, iteration by iteration" \
  test -z "$(cut -d, -f1-5 ./*/loss.csv | grep -v '^iter' | LC_ALL=C sort -u | cut -d, -f1 |
    LC_ALL=C sort | uniq -d)"
finish
