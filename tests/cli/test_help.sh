#!/usr/bin/env bash
# Help and usage text.
source "$(dirname "$0")/lib.sh"
check "nca --help lists train" bash -c "'$NCA' --help | grep -q '^  train'"
check "nca train --help lists every flag" bash -c "'$NCA' train --help > help.txt"
for flag in --target --config --experiment --iters --batch --pool --size --pad --min-steps \
  --max-steps --lr --fire-rate --alive-threshold --hidden --seed --device --threads --run-dir \
  --resume --log-every --save-every; do
  check "train --help mentions $flag" grep -q -- "$flag" help.txt
done
# Each command's help speaks of what that command does: grow makes no cut.
"$NCA" grow --help >grow-help.txt
check "grow --seed does not mention a cut" bash -c "! grep -- '--seed' grow-help.txt | grep -qi cut"
"$NCA" regen --help >regen-help.txt
check "regen --help: Distill's 16x16 square" grep -q "16x16" regen-help.txt
# Captured, not piped into grep -q: grep leaving early would kill nca with SIGPIPE (exit 141).
usage=$("$NCA" 2>&1 >/dev/null)
rc=$?
check "no command: exit 2 (got $rc)" test $rc -eq 2
check "no command: usage on stderr" grep -q 'usage: nca' <<<"$usage"
finish
