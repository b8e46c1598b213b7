#!/usr/bin/env bash
# Process limits and where results go: a file-size limit (ulimit -f) makes a save fail with one
# line and exit 1, never SIGXFSZ in the middle of it (which left a temporary file and no model);
# the previous model.pt stays, and the line says what to do next (after a failed first save, or a
# failed growth picture at the end). Results printed to a full standard output (/dev/full) are an
# error, exit 1 with one line; a reader that stops early (| head) is not. A LOCAL_WORLD_SIZE
# alone does not change a single process's run. A stack limit too small is one line (a soft one
# is raised), and memory that runs out is said as such.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
args=("${TINY[@]}" --experiment regenerating --damage 1)

# limited KB CMD...: nca CMD under `ulimit -f KB`, its stderr in $WORK/stderr; prints the exit code.
limited() {
  local kb=$1
  shift
  (ulimit -f "$kb" && exec timeout 60 "$NCA" "$@") 2>"$WORK/stderr" >/dev/null
  echo $?
}
# one_error REGEX WHAT: stderr holds exactly one non-log line, matching REGEX.
one_error() {
  check "$2: one error line" test "$(error_lines "$WORK/stderr" | grep -c .)" -eq 1
  check "$2: the line says why" grep -Eq -- "$1" "$WORK/stderr"
}
no_temporaries() {
  check "$1: no temporary file left" test -z "$(find "$1" -name '*.tmp*' -o -name '.*tmp-*')"
}

# The first save: model.pt (143 KB) does not fit under 100 KB.
rc=$(limited 100 train --target "$LIZ" "${args[@]}" --iters 3 --run-dir first)
check "train under ulimit -f 100 exits 1 (was 153: SIGXFSZ), got $rc" test "$rc" -eq 1
one_error "cannot write 'first/model.pt': File too large; no model was saved yet: once that is fixed, run the same command with --force to start again" "first save"
no_temporaries first
# The same command again says what is there and what to do; --force then starts it again.
expect 2 "^nca train: error: run directory 'first' already exists and holds no model.pt \(the run that made it ended before its first save, so there is nothing to resume\): --force starts it again" \
  -- train --target "$LIZ" "${args[@]}" --iters 3 --run-dir first
timeout 60 "$NCA" train --target "$LIZ" "${args[@]}" --iters 3 --run-dir first --force \
  >/dev/null 2>&1
check "after a failed first save, --force trains (exit $?)" test -s first/model.pt

# A later save: the run's model.pt at iteration 3 stays as it was.
"$NCA" train --target "$LIZ" "${args[@]}" --iters 3 --run-dir later >/dev/null 2>&1
rc=$(limited 100 train --run-dir later --resume --iters 6 --threads 1)
check "resume under ulimit -f 100 exits 1, got $rc" test "$rc" -eq 1
one_error "File too large" "later save"
no_temporaries later
check "model.pt still loads at iteration 3" test "$("$PROBE" model later/model.pt)" = 3

# grow's frames and GIF.
rc=$(limited 20 grow --steps 40 --out frames --threads 1)
check "grow under ulimit -f 20 exits 1, got $rc" test "$rc" -eq 1
one_error "File too large" "grow"
no_temporaries frames

# A LOCAL_WORLD_SIZE left in the environment is not a count of this process's run: a single
# process trains as without it (the memory check counted 100000 processes; abc was refused).
for v in 100000 abc; do
  LOCAL_WORLD_SIZE=$v timeout 60 "$NCA" train --target "$LIZ" "${args[@]}" --iters 1 \
    --run-dir "lws-$v" >/dev/null 2>"$WORK/stderr"
  rc=$?
  check "LOCAL_WORLD_SIZE=$v alone: a single process trains (exit $rc)" test "$rc" -eq 0
done

# Under the sanitizers' shadow memory neither a stack nor an address-space limit can be tried.
if [[ -z ${ASAN_OPTIONS:-} ]]; then
  # A stack limit (ulimit -s) too small for LibTorch's threads: one line, where it was SIGSEGV;
  # a soft limit alone is raised, and the run goes on.
  (ulimit -s 128 && exec timeout 60 "$NCA" train --target "$LIZ" "${args[@]}" --iters 1 \
    --run-dir stack) >/dev/null 2>"$WORK/stderr"
  rc=$?
  check "ulimit -s 128 exits 2 (was 139: SIGSEGV), got $rc" test "$rc" -eq 2
  one_error "^nca: error: the stack size limit is 128 KB \(ulimit -s\), below the 512 KB nca needs" \
    "ulimit -s 128"
  (ulimit -Ss 128 && exec timeout 60 "$NCA" train --target "$LIZ" "${args[@]}" --iters 1 \
    --run-dir stack) >/dev/null 2>&1
  rc=$?
  check "ulimit -Ss 128 (soft only): trains, exit $rc" test "$rc" -eq 0 -a -s stack/model.pt
  # Memory that runs out (ulimit -v): said as such, not in LibTorch's words for its developers
  # ("err == 0. DefaultCPUAllocator: can't allocate memory: ...").
  (ulimit -v 3000000 && exec timeout 60 "$NCA" grow --grid 8192 --scale 1 --steps 1 --out oom \
    --threads 1) >/dev/null 2>"$WORK/stderr"
  rc=$?
  check "ulimit -v: a 4.3 GB grid exits 1, got $rc" test "$rc" -eq 1
  one_error "^nca grow: error: out of memory \(4.3 GB at once; a smaller pool, batch, size or grid needs less\)$" \
    "ulimit -v"
fi

# Results on a full standard output, and on a reader that stops early.
regen=(regen --at 5 --steps 5 --out regen --threads 1)
timeout 60 "$NCA" "${regen[@]}" >/dev/full 2>"$WORK/stderr"
rc=$?
check "regen > /dev/full exits 1, got $rc" test "$rc" -eq 1
one_error "regen: error: cannot write the results to standard output: No space left on device" \
  "regen > /dev/full"
timeout 60 "$NCA" bench --json --iters 1 --size 8 --pad 2 --batch 4 --pool 8 --min-steps 4 \
  --max-steps 6 --threads 1 >/dev/full 2>"$WORK/stderr"
rc=$?
check "bench --json > /dev/full exits 1, got $rc" test "$rc" -eq 1
one_error "^nca bench: error: cannot write the results to standard output" "bench --json > /dev/full"
timeout 60 "$NCA" "${regen[@]}" 2>"$WORK/stderr" | head -c 1 >/dev/null
rc=${PIPESTATUS[0]}
check "regen | head -c 1 exits 0 (the reader asked for no more), got $rc" test "$rc" -eq 0
check "regen | head -c 1: no error line" test "$(error_lines "$WORK/stderr" | grep -c .)" -eq 0
# The growth picture, written after the last save: the run is complete without it, and the line
# says so rather than to --resume (which would not draw it). growth.gif made immutable (root:
# FS_IOC_SETFLAGS, from python3, as chattr +i does) cannot be replaced.
"$NCA" train --target "$LIZ" "${args[@]}" --iters 2 --run-dir pictures >/dev/null 2>&1
# immutable FILE 0|1: clears or sets the file's immutable flag.
immutable() {
  python3 - "$@" <<'EOF'
import array, fcntl, os, sys
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10
fd = os.open(sys.argv[1], os.O_RDONLY)
flags = array.array("l", [0])
fcntl.ioctl(fd, FS_IOC_GETFLAGS, flags, True)
flags[0] = flags[0] | FS_IMMUTABLE_FL if sys.argv[2] == "1" else flags[0] & ~FS_IMMUTABLE_FL
fcntl.ioctl(fd, FS_IOC_SETFLAGS, flags, True)
EOF
}
if [[ $(id -u) -eq 0 ]] && immutable pictures/growth.gif 1 2>/dev/null; then
  timeout 60 "$NCA" train --run-dir pictures --resume --iters 3 >/dev/null 2>"$WORK/stderr"
  rc=$?
  immutable pictures/growth.gif 0
  check "a growth.gif that cannot be replaced exits 1, got $rc" test "$rc" -eq 1
  one_error "cannot write 'pictures/growth.gif': Operation not permitted; training is finished and pictures/model.pt holds iteration 3: only the picture is missing \($NCA grow --model pictures --out DIR draws the growth\)$" \
    "growth.gif"
  check "growth.gif: model.pt holds the finished run" test "$("$PROBE" model pictures/model.pt)" = 3
else
  skip "growth.gif that cannot be replaced: needs root and a file system with the immutable flag"
fi

finish
