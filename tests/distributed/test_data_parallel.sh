#!/usr/bin/env bash
# Data-parallel training's library parts over c10d (Gloo on 127.0.0.1 only), two ranks started
# here with torchrun's environment:
#   - the averaged gradient of 2 ranks equals the gradient of one process on the union of their
#     batches, within 1e-6, for fixed states and fire masks;
#   - after 6 training iterations the weights of both ranks are bit-identical, and a second
#     run with the same seed and world size gives the same losses;
#   - a rank whose peer is killed (kill -9) stops with one line within the collective timeout.
# Usage: test_data_parallel.sh NCA_DP_PROBE SOURCE_DIR
source "$(dirname "$0")/../cli/lib.sh" "$1" "$2"
PROBE=$1
TARGET=$SRC/data/lizard.png

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# two MODE ARGS...: runs ranks 0 and 1 of the probe, bounded in time; rank R's output in outR.
two() {
  local p pids=() rc=0
  p=$(port)
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$p \
      timeout 120 "$PROBE" "$@" >"out$r" 2>"err$r" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  [[ $rc -eq 0 ]] || { cat err0 err1 >&2; return 1; }
}

# The reduction against one process.
check "gradient: the two ranks ran" two gradient "$TARGET"
diff=$(sed -n 's/^largest gradient difference \([^ ]*\) .*/\1/p' out0)
echo "2 ranks against 1 process: $(cat out0)"
check "gradient: 2 ranks within 1e-6 of one process (got '$diff')" \
  awk -v d="$diff" 'BEGIN { exit !(d != "" && d + 0 <= 1e-6) }'

# Training: identical weights on both ranks, and the same run twice.
check "train: the two ranks ran" two train "$TARGET" w
check "train: both ranks hold bit-identical weights" cmp w.rank0 w.rank1
check "train: both ranks report the same global losses" cmp out0 out1
check "train: 6 iterations reported" test "$(grep -c . out0)" -eq 6
cp out0 first.txt
check "train: a second run ran" two train "$TARGET" w2
check "train: the same seed and world size give the same losses" cmp first.txt out0
check "train: ... and the same weights" cmp w.rank0 w2.rank0

# What one all-reduce of the gradients costs here (reported, not asserted: docs/performance.md).
check "allreduce: the two ranks ran" two allreduce 200
cat out0

# A lost rank: rank 1 killed with SIGKILL once training runs; rank 0 must stop by itself.
p=$(port)
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p timeout 120 "$PROBE" train "$TARGET" k 100000 \
  >kout0 2>kerr0 &
r0=$!
# Rank 1 without timeout's wrapper, so that the kill reaches the probe itself; it is killed
# below in any case.
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$p "$PROBE" train "$TARGET" k 100000 \
  >kout1 2>kerr1 &
r1=$!
for _ in $(seq 600); do [[ -s kout1 ]] && break; sleep 0.1; done
kill -9 "$r1" 2>/dev/null
wait "$r1" 2>/dev/null
t0=$SECONDS
wait "$r0"
rc=$?
echo "rank 0 after its peer was killed: exit $rc after $((SECONDS - t0)) s: $(cat kerr0)"
check "lost rank: rank 0 exits with a failure" test "$rc" -eq 1
check "lost rank: rank 0 says which rank was lost, in one line" \
  grep -Eq '^nca_dp_probe: error: distributed .* failed on rank 0: rank 1 was lost' kerr0
check "lost rank: one line" test "$(grep -c . kerr0)" -eq 1
finish
