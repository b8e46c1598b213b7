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
# bench takes only the flags of train that it uses: none about the run directory, its files,
# logging, data-parallel processes or the model's settings (those come from --model).
"$NCA" bench --help >bench-help.txt
for flag in --resume --force --run-dir --new-pool --save-every --snapshot-every --log-every \
  --nproc --dist-timeout --dist-backend --hidden --fire-rate --alive-threshold --perception; do
  check "bench --help does not list $flag" bash -c "! grep -q -- '$flag\b' bench-help.txt"
done
for flag in --resume --force --run-dir --save-every --snapshot-every --nproc --hidden; do
  expect 2 "unknown argument '$flag' \(see --help\)" -- bench "$flag"
done
expect 2 "unknown argument '--force=1' \(see --help\)" -- bench --force=1
for flag in --config --target --experiment --iters --batch --pool --min-steps --max-steps --lr \
  --damage --seed --device --threads --backend --model --warmup --grow-steps --json; do
  check "bench --help lists $flag" grep -q -- "$flag\b" bench-help.txt
done

# A flag that several commands take has the same help line in each (the option column's width
# and the shipped default model aside).
for c in train bench grow regen export; do "$NCA" $c --help >"$c-help.txt"; done
check "shared flags: one help line each" python3 - train bench grow regen export <<'PY'
import re, sys
lines = {}  # flag -> {command: help line}
for command in sys.argv[1:]:
    text = open(command + "-help.txt").read()
    # An option's entry: its line and the description CLI11 wraps onto the next one.
    for entry in re.split(r"\n(?=  -)|\n\n", text):
        m = re.match(r"  (--[a-z-]+)(.*)", entry, re.S)
        if m:
            words = " ".join(m.group(2).split())
            words = re.sub(r"data/models/[a-z-]+\.pt", "data/models/M.pt", words)
            if m.group(1) == "--out":  # frames for grow, regen for regen
                # CLI11 2.1 writes a default as TEXT=frames, 2.4 (Debian 13) as TEXT [frames].
                words = re.sub(r"^TEXT(=\S+| \[\S+\])", "TEXT=DIR", words)
            lines.setdefault(m.group(1), {})[command] = words
shared = ["--model", "--grid", "--angle", "--seed", "--device", "--threads", "--backend",
          "--out", "--gif", "--video", "--every", "--scale", "--gif-delay", "--step-counter"]
bad = 0
for flag in shared:
    seen = lines.get(flag, {})
    if len(seen) < 2 or len(set(seen.values())) != 1:
        bad += 1
        print(f"{flag}: " + "; ".join(f"{c}: {h}" for c, h in seen.items()), file=sys.stderr)
expected = {"--model": 4, "--grid": 3, "--angle": 2, "--seed": 4, "--device": 4, "--threads": 4,
            "--backend": 4}
for flag, n in expected.items():
    if len(lines.get(flag, {})) != n:
        bad += 1
        print(f"{flag} in {sorted(lines.get(flag, {}))}, expected {n} commands", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
check "grid defaults come from the model" grep -q -- "--grid.*default: the model's training grid" \
  regen-help.txt

# Captured, not piped into grep -q: grep leaving early would kill nca with SIGPIPE (exit 141).
usage=$("$NCA" 2>&1 >/dev/null)
rc=$?
check "no command: exit 2 (got $rc)" test $rc -eq 2
check "no command: usage on stderr" grep -q 'usage: nca' <<<"$usage"
finish
