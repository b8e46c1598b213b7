#!/usr/bin/env bash
# The process survives its environment: stdout read by `| head -1` (the reader leaves at once),
# stdout and stderr closed (">&- 2>&-"), and Ctrl-C sent to a whole `nca train | tee` pipeline
# (tee dies first). Each time nca saves, exits 0, model.pt loads, and a closed stdout never
# sends log lines into the run's files.
source "$(dirname "$0")/lib.sh"
PROBE=${NCA_PROBE:?set by ctest}
LIZ=$SRC/data/lizard.png
args=("${TINY[@]}" --log-every 1)

# good_run DIR ITERS: model.pt loads at ITERS and loss.csv holds 0..ITERS-1 once.
good_run() {
  check "$1: model.pt loads at iteration $2" test "$("$PROBE" model "$1/model.pt")" = "$2"
  check "$1: loss.csv holds iterations 0..$(($2 - 1)) once" \
    cmp -s <(tail -n +2 "$1/loss.csv" | cut -d, -f1) <(seq 0 $(($2 - 1)))
}

# --- | head -1: the reader leaves after the first line --------------------------------------
timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --iters 20 --run-dir head 2>&1 | head -1 >/dev/null
check "| head -1: exit 0 (got ${PIPESTATUS[0]})" test "${PIPESTATUS[0]}" -eq 0
good_run head 20

# --- stdout and stderr closed ---------------------------------------------------------------
timeout 120 "$NCA" train --target "$LIZ" "${args[@]}" --iters 5 --run-dir closed >&- 2>&-
check "closed stdout and stderr: exit 0 (got $?)" test $? -eq 0
good_run closed 5
check "the lock file holds only a pid" grep -Eqx '[0-9]+ *' closed/.nca.lock
check "config.toml holds no log line" test -z "$(grep -E '\] (info|warn)' closed/config.toml)"

# --- Ctrl-C to a `nca train | tee log` pipeline ----------------------------------------------
# setsid: a process group of its own, as a terminal's foreground job is; kill -INT -PGID is
# what Ctrl-C does to it.
# A background job of a script starts with SIGINT ignored, and tee would then outlive the
# Ctrl-C: env --default-signal=INT starts it as a terminal starts a foreground job.
# The shell traps INT (its children still get the default) so that it lives to record the exits.
if ! env --default-signal=INT true 2>/dev/null; then
  skip "env --default-signal (coreutils 8.31) is needed to start a job as a terminal does"
fi
setsid env --default-signal=INT bash -c 'trap true INT; "$1" train --target "$2" "${@:4}" --iters 100000 --run-dir tee 2>&1 | tee "$3/tee.log" >/dev/null
  echo "${PIPESTATUS[0]} ${PIPESTATUS[1]}" >"$3/tee.rc"' _ "$NCA" "$LIZ" "$WORK" "${args[@]}" &
group=$!
for _ in $(seq 600); do
  [[ -f tee/loss.csv ]] && [[ $(wc -l <tee/loss.csv) -ge 4 ]] && break
  sleep 0.1
done
kill -INT -- -"$group"
wait "$group"
read -r nca_rc tee_rc <"$WORK/tee.rc"
check "Ctrl-C on | tee: tee ended by SIGINT, as on a terminal (got $tee_rc)" test "$tee_rc" = 130
check "Ctrl-C on | tee: nca exit 0 (got $nca_rc)" test "$nca_rc" = 0
it=$("$PROBE" model tee/model.pt)
check "Ctrl-C on | tee: model.pt loads (iteration $it)" test -n "$it"
good_run tee "$it"
timeout 120 "$NCA" train --run-dir tee --resume --iters $((it + 2)) >/dev/null 2>&1
check "Ctrl-C on | tee: --resume continues (exit $?)" test $? -eq 0
good_run tee $((it + 2))
finish
