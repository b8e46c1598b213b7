# Shared by the command-line tests: sourced with the nca binary and the source dir as $1 and $2.
# Each test script runs in its own scratch directory, removed at exit.
set -uo pipefail
NCA=$1
SRC=$2
# The CPU, whatever the machine has: --device auto (the default) would otherwise take a visible
# GPU and change what every test here runs. GPU behaviour is tested by test_cuda.cpp and
# scripts/gpu-check.sh only.
export CUDA_VISIBLE_DEVICES=
# Under the sanitizers, NCA_CLI_DETECT_LEAKS=0 (scripts/test.sh's sanitized stage) turns
# LeakSanitizer off for the processes these tests start: its scan of LibTorch's heap and globals
# at every exit costs about 0.4 s of CPU a process, and these tests start hundreds. AddressSanitizer
# and UBSan still check every one; the unit tests, the replay and the fuzz corpora keep the leak
# check for the library's code (a leak per iteration or per file read shows there).
if [[ ${NCA_CLI_DETECT_LEAKS:-} == 0 && -n ${ASAN_OPTIONS:-} ]]; then
  export ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nca-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
failures=0
checks=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# CTest's SKIP_RETURN_CODE for these tests.
SKIP=77

# skip WHY: marks the test skipped, except in CI (CI=true, set by .ci/run), where a missing tool
# or privilege is a failure: CI installs everything with scripts/deps.sh and runs as root, so a
# skip there would hide a broken install step.
skip() {
  if [[ ${CI:-} == true ]]; then
    echo "FAIL: $* (CI=true: CI must run this test, with the tools of scripts/deps.sh, as root)" >&2
    exit 1
  fi
  echo "SKIP: $*"
  exit $SKIP
}

# A training run small enough to take about a second.
TINY=(--size 8 --pad 2 --batch 4 --pool 8 --min-steps 4 --max-steps 6 --threads 1 --snapshot-every 0)

# The lines of stderr text (a file, or stdin) that are not log lines ("[12:00:00] info ..."): the
# error a user reads. Logs go to stderr too, and a failure after some work follows its log lines.
error_lines() {
  grep -Ev '^\[[0-9]{2}:[0-9]{2}:[0-9]{2}\] ' "$@"
}

# expect CODE REGEX -- ARGS...: nca ARGS exits with CODE and prints exactly one line on stderr,
# besides log lines, matching REGEX (extended grep).
expect() {
  local code=$1 regex=$2
  shift 3
  checks=$((checks + 1))
  local out err rc
  out=$(timeout 60 "$NCA" "$@" 2>"$WORK/stderr")
  rc=$?
  err=$(cat "$WORK/stderr")
  if [[ $rc -ne $code ]]; then
    fail "nca $* exited $rc, expected $code; stderr: $err"
    return
  fi
  if [[ $(printf '%s\n' "$err" | error_lines | grep -c .) -ne 1 ]] && [[ $code -ne 0 ]]; then
    fail "nca $*: expected one error line, got:"$'\n'"$err"
  fi
  if ! printf '%s\n' "$err" | grep -Eq -- "$regex"; then
    fail "nca $*: stderr does not match /$regex/: $err"
  fi
}

# check DESCRIPTION COMMAND...: COMMAND must succeed.
check() {
  local what=$1
  shift
  checks=$((checks + 1))
  "$@" || fail "$what"
}

finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [[ $failures -eq 0 ]]
}
