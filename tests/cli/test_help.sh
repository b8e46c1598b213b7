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
check "no command: usage on stderr, exit 2" bash -c "'$NCA' 2>&1 >/dev/null | grep 'usage: nca' >/dev/null; test \${PIPESTATUS[0]} -eq 2"
finish
