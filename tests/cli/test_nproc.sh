#!/usr/bin/env bash
# Data-parallel `nca train` (docs/design.md §8), 2 ranks over Gloo on 127.0.0.1 only:
#   - launched by --nproc 2 and by plain environment variables (RANK, WORLD_SIZE, MASTER_ADDR,
#     MASTER_PORT), the two give the same loss.csv, and a second --nproc run the same again;
#   - rank 1's checkpoint holds the same weights as rank 0's model.pt (they grow the same frames),
#     and model.pt loads in the single-process nca;
#   - --resume with the same world size continues exactly (the losses of an uninterrupted run);
#     another world size is refused with one line, and so is a run whose rank file was removed
#     (naming the file);
#   - Ctrl-C to --nproc stops both ranks at the same iteration, saved, exit 0; --resume goes on;
#   - a rank killed with -9 stops the other with one line within --dist-timeout, --nproc exits
#     non-zero, and --resume continues from the last save;
#   - a worker started again by its launcher (TORCHELASTIC_RESTART_COUNT) resumes by itself;
#   - processes started with other settings stop before training, naming the settings;
#   - the launcher killed with -9 leaves no rank running; a rank stopped with SIGSTOP does not
#     keep the launcher waiting;
#   - usage errors: --nproc under a launcher, a batch or pool that does not split.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png
# A flag given twice is refused: `common` leaves out what some runs set otherwise.
common=(--target "$LIZ" --size 8 --pad 2 --min-steps 4 --max-steps 6 --threads 1
  --snapshot-every 0 --dist-timeout 30)
base=("${common[@]}" --batch 4 --pool 8 --damage 2)
args=("${base[@]}" --save-every 0)

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# loss.csv without its seconds column (the one column that is a measurement).
losses() { cut -d, -f1-5 "$1/loss.csv"; }

# --- --nproc 2 ---------------------------------------------------------------------------------
timeout 300 "$NCA" train "${args[@]}" --iters 6 --nproc 2 --run-dir a >log 2>&1
rc=$?
check "--nproc 2: exit 0 (got $rc)" test $rc -eq 0 || cat log >&2
check "--nproc 2: says it starts 2 processes" grep -q "starting 2 processes on 127.0.0.1" log
check "--nproc 2: 6 iterations in loss.csv, each once" \
  cmp <(tail -n +2 a/loss.csv | cut -d, -f1) <(seq 0 5)
check "--nproc 2: rank 1's state saved beside model.pt" test -s a/ranks/rank1_000006.pt
check "--nproc 2: rank 1's pool shard saved" test -s a/ranks/pool1_000006.pt
"$NCA" grow --model a --steps 20 --out fa --gif fa.gif >/dev/null 2>&1
check "model.pt of 2 ranks loads in the single-process nca (grow)" test -s fa/frame_00020.png
"$NCA" grow --model a/ranks/rank1_000006.pt --steps 20 --out fb --gif fb.gif >/dev/null 2>&1
"$NCA" grow --model a/model.pt --steps 20 --out fc --gif fc.gif >/dev/null 2>&1
check "rank 1's weights are rank 0's (the same 20 frames, byte for byte)" \
  diff -r fb fc

timeout 300 "$NCA" train "${args[@]}" --iters 6 --nproc 2 --run-dir b >/dev/null 2>&1
check "--nproc 2 twice: the same loss.csv" cmp <(losses a) <(losses b)

# --- plain environment variables (any launcher) -------------------------------------------------
p=$(port)
pids=()
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
    timeout 300 "$NCA" train "${args[@]}" --iters 6 --run-dir e >"elog$r" 2>&1 &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
check "RANK/WORLD_SIZE: both ranks exit 0" test $rc -eq 0 || cat elog0 elog1 >&2
check "RANK/WORLD_SIZE: the same loss.csv as --nproc 2" cmp <(losses a) <(losses e)
check "RANK/WORLD_SIZE: rank 1 logs nothing but warnings" test ! -s elog1

# --- resume ---------------------------------------------------------------------------------------
timeout 300 "$NCA" train "${args[@]}" --iters 10 --nproc 2 --run-dir whole >/dev/null 2>&1
timeout 300 "$NCA" train "${args[@]}" --iters 10 --nproc 2 --run-dir a --resume >log 2>&1
rc=$?
check "--resume --nproc 2: exit 0 (got $rc)" test $rc -eq 0 || cat log >&2
check "--resume --nproc 2: says where it starts" grep -q "resuming a at iteration 6" log
check "--resume --nproc 2: the losses of an uninterrupted 10-iteration run" \
  cmp <(losses whole) <(losses a)
check "--resume --nproc 2: rank 1's older state removed" test ! -e a/ranks/rank1_000006.pt
expect 2 "'a' was trained by 2 processes .*resume it with --nproc 2" -- \
  train "${args[@]}" --iters 12 --run-dir a --resume
expect 2 "'whole' was trained by 2 processes .*--nproc 2" -- \
  train "${common[@]}" --save-every 0 --iters 12 --nproc 3 --batch 6 --pool 12 --damage 2 \
  --run-dir whole --resume
check "a refused resume leaves loss.csv as it was" cmp <(losses whole) <(losses a)
# A rank's file removed: the line names it, and the number of processes stays right.
cp -r a lost && rm lost/ranks/rank1_000010.pt
missing="'lost/ranks/rank1_000010.pt' is missing: 'lost' was trained by 2 processes, and rank 1's state"
expect 2 "^nca train: error: $missing" -- \
  train "${args[@]}" --iters 12 --nproc 2 --run-dir lost --resume
expect 2 "^nca train: error: $missing" -- train "${args[@]}" --iters 12 --run-dir lost --resume
rm lost/ranks/pool1_000010.pt  # ranks/ empty: model.pt's share of the batch still tells
expect 2 "^nca train: error: $missing" -- train "${args[@]}" --iters 12 --run-dir lost --resume
cp -r a gone && rm -r gone/ranks
expect 2 "^nca train: error: 'gone/ranks/rank1_000010.pt' is missing: 'gone' was trained by 2 processes" \
  -- train "${args[@]}" --iters 12 --run-dir gone --resume
cp -r a nopool && rm nopool/ranks/pool1_000010.pt
expect 2 "^nca train: error: 'nopool/ranks/pool1_000010.pt' is missing: the run's sample pool" -- \
  train "${args[@]}" --iters 12 --nproc 2 --run-dir nopool --resume
check "refused resumes leave loss.csv as it was" cmp <(losses a) <(losses lost)

# --- Ctrl-C to the launcher ------------------------------------------------------------------
# wait_lines DIR N: until DIR/loss.csv has N lines (60 s at most).
wait_lines() {
  for _ in $(seq 600); do
    [[ -f $1/loss.csv ]] && [[ $(wc -l <"$1/loss.csv") -ge $2 ]] && return 0
    sleep 0.1
  done
  return 1
}
"$NCA" train "${args[@]}" --iters 100000 --nproc 2 --run-dir c >clog 2>&1 &
launcher=$!
wait_lines c 8
kill -INT "$launcher"
timeout 120 tail --pid="$launcher" -f /dev/null
wait "$launcher"
rc=$?
check "Ctrl-C: --nproc saves and exits 0 (got $rc)" test $rc -eq 0 || cat clog >&2
n=$(sed -nE 's/.*stopped at iteration ([0-9]+): saved.*/\1/p' clog)
check "Ctrl-C: says where it stopped (iteration ${n:-none})" test -n "$n"
n=${n:-0}
check "Ctrl-C: loss.csv holds iterations 0..$((n - 1)), each once" \
  cmp <(tail -n +2 c/loss.csv | cut -d, -f1) <(seq 0 $((n - 1)))
check "Ctrl-C: rank 1's state saved at the same iteration" \
  test -s "c/ranks/rank1_$(printf %06d "$n").pt"
timeout 300 "$NCA" train "${args[@]}" --iters $((n + 3)) --nproc 2 --run-dir c --resume \
  >log 2>&1
check "Ctrl-C: --resume continues to $((n + 3))" \
  cmp <(tail -n +2 c/loss.csv | cut -d, -f1) <(seq 0 $((n + 2)))

# --- a rank killed with -9 ------------------------------------------------------------------------
"$NCA" train "${base[@]}" --iters 100000 --save-every 3 --nproc 2 --run-dir k >klog 2>&1 &
launcher=$!
wait_lines k 8
# The launcher's children, in rank order (it starts rank 0 first).
mapfile -t ranks < <(pgrep -P "$launcher" | sort -n)
check "kill: the launcher runs 2 ranks" test "${#ranks[@]}" -eq 2
kill -9 "${ranks[1]}"
t0=$SECONDS
timeout 120 tail --pid="$launcher" -f /dev/null
wait "$launcher"
rc=$?
echo "--nproc after rank 1 was killed: exit $rc after $((SECONDS - t0)) s"
check "kill: --nproc exits non-zero (got $rc)" test "$rc" -ne 0
check "kill: within the 30 s timeout" test $((SECONDS - t0)) -le 35
check "kill: rank 0 says in one line that rank 1 was lost" \
  test "$(grep -c 'failed on rank 0: rank 1 was lost' klog)" -eq 1
# The last save is at most the newest state rank 1 kept, K (rank 1 writes its state before
# rank 0 commits model.pt): K + 5 iterations always leave some to train after the resume.
K=$(find k/ranks -name 'rank1_*.pt' | sed -E 's/.*rank1_0*([0-9]+)\.pt/\1/' | sort -n | tail -1)
check "kill: a save was made before the kill (iteration ${K:-none})" test "${K:-0}" -ge 3
K=${K:-0}
timeout 300 "$NCA" train "${base[@]}" --iters $((K + 5)) --save-every 3 --nproc 2 --run-dir k \
  --resume >log 2>&1
rc=$?
check "kill: --resume --nproc 2 continues (exit $rc)" test $rc -eq 0 || cat log >&2
resumed=$(sed -nE 's/.*resuming k at iteration ([0-9]+)$/\1/p' log)
check "kill: ... from a save (iteration ${resumed:-none}, saves every 3)" \
  test "${resumed:-0}" -gt 0 -a $((${resumed:-1} % 3)) -eq 0
check "kill: loss.csv holds iterations 0..$((K + 4)), each once" \
  cmp <(tail -n +2 k/loss.csv | cut -d, -f1) <(seq 0 $((K + 4)))
grow_ok() { "$NCA" grow --model "$1" --steps 5 --out "$2" --gif "$2.gif" >/dev/null 2>&1; }
check "kill: the resumed model.pt loads" grow_ok k gk

# --- the launcher killed with -9: its ranks do not go on as orphans ---------------------------------
"$NCA" train "${base[@]}" --iters 100000 --save-every 0 --nproc 2 --run-dir orphan >olog 2>&1 &
launcher=$!
wait_lines orphan 4
mapfile -t ranks < <(pgrep -P "$launcher" | sort -n)
kill -9 "$launcher"
t0=$SECONDS
for p in "${ranks[@]}"; do timeout 60 tail --pid="$p" -f /dev/null; done
check "launcher killed: both ranks end (in $((SECONDS - t0)) s)" \
  bash -c "! kill -0 ${ranks[*]} 2>/dev/null"
check "launcher killed: the ranks saved as on Ctrl-C" test -s orphan/model.pt

# --- a rank stopped with SIGSTOP: rank 0 times out, and the launcher does not wait forever --------
short=()  # base with a 5 s timeout
for ((i = 0; i < ${#base[@]}; i++)); do
  if [[ ${base[i]} == --dist-timeout ]]; then
    short+=(--dist-timeout 5) && i=$((i + 1))
  else
    short+=("${base[i]}")
  fi
done
"$NCA" train "${short[@]}" --iters 100000 --save-every 0 --nproc 2 --run-dir frozen >flog 2>&1 &
launcher=$!
wait_lines frozen 4
mapfile -t ranks < <(pgrep -P "$launcher" | sort -n)
kill -STOP "${ranks[1]}"
t0=$SECONDS
timeout 120 tail --pid="$launcher" -f /dev/null
wait "$launcher"
rc=$?
echo "--nproc after rank 1 was stopped: exit $rc after $((SECONDS - t0)) s"
check "stopped rank: --nproc exits non-zero (got $rc)" test "$rc" -ne 0
check "stopped rank: within the 5 s timeout and the stopped rank's own" test $((SECONDS - t0)) -le 30
check "stopped rank: no rank left" bash -c "! kill -0 ${ranks[*]} 2>/dev/null"

# --- a launcher's restart (torchrun --max_restarts) ---------------------------------------------
# torchrun starts the workers again with TORCHELASTIC_RESTART_COUNT=1 and the same command line
# (no --resume): they continue the run in their run directory by themselves. (No working
# torchrun here: Debian's is broken on both platforms; the environment is what it sets.)
m=$((K + 5))
p=$(port)
pids=()
for r in 0 1; do
  TORCHELASTIC_RESTART_COUNT=1 RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r LOCAL_WORLD_SIZE=2 \
    MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
    timeout 300 "$NCA" train "${base[@]}" --iters $((m + 3)) --save-every 3 --run-dir k \
    >"rlog$r" 2>&1 &
  pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
check "restart: both ranks exit 0" test $rc -eq 0 || cat rlog0 rlog1 >&2
check "restart: resumes by itself" grep -q "resuming k at iteration $m\$" rlog0
check "restart: loss.csv holds iterations 0..$((m + 2)), each once" \
  cmp <(tail -n +2 k/loss.csv | cut -d, -f1) <(seq 0 $((m + 2)))

# --- processes started with other settings ---------------------------------------------------
# Compared with rank 0's before anything is trained or written: every rank exits 2, and the rank
# that differs says how, in one line.
p=$(port)
pids=()
for r in 0 1; do
  extra=()
  [[ $r == 1 ]] && extra=(--hidden 64 --lr 0.01)
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
    timeout 120 "$NCA" train "${args[@]}" "${extra[@]}" --iters 4 --run-dir mixed >"mlog$r" 2>&1 &
  pids+=($!)
done
codes=()
for pid in "${pids[@]}"; do wait "$pid"; codes+=($?); done
check "other settings: both ranks exit 2 (got ${codes[*]})" test "${codes[*]}" = "2 2"
check "other settings: rank 1 names each setting" grep -qx \
  "nca train: error: rank 1 was started with other settings than rank 0: lr = 0.01, not 0.002; hidden = 64, not 128 (start every process of a run with the same flags and config)" mlog1
check "other settings: rank 0 stops without a line of its own" bash -c '! grep -q error mlog0'
check "other settings: no run directory" test ! -e mixed

# --- usage errors -----------------------------------------------------------------------------
p=$(port)
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
  expect 2 "^nca train: error: --nproc starts its own processes" -- \
  train "${args[@]}" --iters 2 --nproc 2 --run-dir u
expect 2 "batch 4 does not split evenly over 3 processes" -- \
  train "${args[@]}" --iters 2 --nproc 3 --run-dir u
expect 2 "pool 9 does not split evenly over 2 processes" -- \
  train "${common[@]}" --batch 4 --pool 9 --iters 2 --nproc 2 --run-dir u
expect 2 "damage 3 over 2 processes damages 2 of a process's 2 samples, leaving none to reseed" -- \
  train "${common[@]}" --batch 4 --pool 8 --damage 3 --iters 2 --nproc 2 --run-dir u
expect 2 "--dist-backend nccl works between GPUs: add --device cuda" -- \
  train "${args[@]}" --iters 2 --nproc 2 --device cpu --dist-backend nccl --run-dir u
(ulimit -n 40 && exec timeout 60 "$NCA" train "${args[@]}" --iters 2 --nproc 2 --run-dir u) \
  >/dev/null 2>"$WORK/stderr"
rc=$?
check "ulimit -n 40: --nproc 2 exits 2 (got $rc)" test $rc -eq 2
check "ulimit -n 40: one line saying what to raise" grep -qx \
  "nca train: error: the open-file limit is 40 (ulimit -n): a data-parallel run of 2 processes needs 80; raise it with ulimit -n 80" "$WORK/stderr"
RANK=1 WORLD_SIZE=2 MASTER_ADDR=no-such-host.invalid MASTER_PORT=$p \
  expect 2 "^nca train: error: MASTER_ADDR 'no-such-host.invalid' is not an address this machine can find" -- \
  train "${args[@]}" --iters 2 --run-dir u
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 expect 2 "MASTER_PORT is not set" -- \
  train "${args[@]}" --iters 2 --run-dir u
check "no run directory left by usage errors" test ! -e u
finish
