#!/usr/bin/env bash
# A model trained on a GPU, on a machine without one: a CUDA run's model.pt tags its storages
# cuda:0 (a rank's cuda:K), and the CPU build must load it as Python's map_location='cpu' does.
# The file is made here from a CPU run's by tests/tools/retag_storages.py (the same records as a
# GPU run writes, with other location strings; Python's zipfile lays the zip out without torch's
# alignment padding, which torch's reader does not need); then grow, regen, export and
# train --resume on it must do exactly what they do on the CPU run it came from. Each run
# directory is named run, in a folder named for its device, as the web page names the run.
source "$(dirname "$0")/lib.sh"
LIZ=$SRC/data/lizard.png
RETAG=$SRC/tests/tools/retag_storages.py
args=("${TINY[@]}" --experiment regenerating --damage 1 --seed 5)

"$NCA" train --target "$LIZ" "${args[@]}" --iters 4 --run-dir cpu/run >/dev/null 2>&1 ||
  { echo "FAIL: the CPU run did not train" >&2; exit 1; }
for device in cuda:0 cuda:1; do
  mkdir "$device"
  cp -r cpu/run "$device/run"
  check "$device: the storages are retagged" \
    bash -c "python3 '$RETAG' cpu/run/model.pt '$device/run/model.pt' $device >/dev/null"
  check "$device: model.pt names $device" python3 -c '
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sys.exit(0 if any(sys.argv[2].encode() in z.read(n) for n in z.namelist() if n.endswith(".pkl")) else 1)
' "$device/run/model.pt" "$device"
done

# grow and regen: the same frames and the same figures as from the CPU run.
for run in cpu cuda:0 cuda:1; do
  check "grow --model $run" bash -c "'$NCA' grow --model '$run/run' --steps 30 --every 10 --out 'grow-$run' --threads 1 >'grow-$run.txt' 2>/dev/null"
  check "regen --model $run" bash -c "'$NCA' regen --model '$run/run' --at 20 --steps 20 --out 'regen-$run' --threads 1 >'regen-$run.txt' 2>/dev/null"
done
for run in cuda:0 cuda:1; do
  check "$run: grow's GIF is the CPU run's" cmp -s grow-cpu/growth.gif "grow-$run/growth.gif"
  check "$run: grow prints what the CPU run's does" cmp -s grow-cpu.txt "grow-$run.txt"
  check "$run: regen prints what the CPU run's does" cmp -s regen-cpu.txt "regen-$run.txt"
done
check "regen printed a recovery" grep -q "recovered" regen-cpu.txt

# export: the web page and the TorchScript module, as from the CPU run.
check "export --web from cuda:0" bash -c "'$NCA' export --model cuda:0/run --web page >/dev/null 2>&1"
check "export --torch from cuda:0" bash -c "'$NCA' export --model cuda:0/run --torch m.pt >/dev/null 2>&1"
"$NCA" export --model cpu/run --web page-cpu >/dev/null 2>&1
check "the page is the CPU run's" cmp -s page/index.html page-cpu/index.html

# train --resume: weights, Adam's moments and the generator come back, and the run goes on
# exactly as the CPU run does.
for run in cpu cuda:0; do
  check "train --resume $run" bash -c "'$NCA' train --run-dir '$run/run' --resume --iters 7 --threads 1 >/dev/null 2>&1"
done
cut -d, -f1-5 cpu/run/loss.csv >loss-cpu.txt
cut -d, -f1-5 cuda:0/run/loss.csv >loss-gpu.txt
check "the resumed run's loss.csv is the CPU run's" cmp -s loss-cpu.txt loss-gpu.txt
check "loss.csv holds 7 iterations" test "$(($(wc -l <loss-gpu.txt) - 1))" -eq 7
finish
