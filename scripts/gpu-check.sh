#!/usr/bin/env bash
# The one prepared check for a GPU machine (a pip PyTorch with CUDA, nvcc, cmake and ninja, none of
# Debian's packages, nothing to download, minutes of time). It builds nca against that PyTorch's
# LibTorch, runs the CUDA tests (test_cuda.cpp), a command-line smoke test on the GPU (train, the same seed twice,
# resume, grow on the GPU and on the CPU, regen, export), `nca bench --device cuda` against the
# plain PyTorch reference on the GPU, eager and --compile, in alternating rounds, and times as many
# iterations of configs/regenerating.toml as fit. Every figure goes to one file, OUT/gpu-check.md,
# with each command's log under OUT/logs/.
#
#   scripts/gpu-check.sh --bundle            here, on Debian: gathers what the GPU machine lacks into
#                                            build-gpu-bundle/ (headers, giflib, Highway, the
#                                            reference script; a few MB), to be carried there with
#                                            the tree
#   scripts/gpu-check.sh [--dry-run] [OUT]   OUT default: $OUT, else build-gpu/out
#
# --dry-run rehearses every step on this machine: the same bundle and build options against the CPU
# LibTorch (nca and the unit tests built; the CUDA tests skip without a GPU), every
# device step on the CPU, one short bench round, a shorter timing. CI runs it, so the GPU
# run is never the script's first. It also checks that the build took none of the bundled
# libraries' headers from /usr/include, as the GPU machine has none there.
# On the GPU machine it should take about 7 minutes: the build about 2 (16 cores), the bench about
# 3 (torch.compile compiles again in every round's fresh process), the timing 1.
# Environment: REF (the reference script, default tests/training/reference.py, read by
# --bundle), ROUNDS (bench rounds; default 2, dry run 1), TIMING_SECONDS (default 60, dry run 5),
# PYTHON (default: the first of python3 and /usr/bin/python3 that imports torch).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
repo=$PWD
bundle=$repo/build-gpu-bundle
build=build-gpu

die() { echo "gpu-check: $*" >&2; exit "${2:-1}"; }

make_bundle() {
  local ref=${REF:-tests/training/reference.py} lib hwy arch
  [[ -f $ref ]] || die "no reference script at '$ref' (set REF)"
  # This machine's own libraries (another architecture's may be installed beside them, as
  # scripts/aarch64.sh installs Highway for arm64).
  arch=$(gcc -print-multiarch)
  lib=$(ls "/usr/lib/$arch/libgif.so.7" 2>/dev/null | head -n 1)
  [[ -n $lib ]] || die "giflib is missing: run scripts/deps.sh"
  # Highway: its headers and its small runtime library (which targets the CPU runs), so that the
  # fast CPU step keeps its kernels there.
  hwy=$(ls "/usr/lib/$arch/libhwy.so.1" 2>/dev/null | head -n 1)
  [[ -n $hwy ]] || die "Highway is missing: run scripts/deps.sh"
  for h in /usr/include/CLI /usr/include/spdlog /usr/include/fmt /usr/include/stb \
    /usr/include/catch2/catch.hpp /usr/include/gif_lib.h /usr/include/nlohmann /usr/include/hwy; do
    [[ -e $h ]] || die "$h is missing: run scripts/deps.sh"
  done
  rm -rf "$bundle"
  mkdir -p "$bundle/include/catch2" "$bundle/lib"
  cp -r /usr/include/CLI /usr/include/spdlog /usr/include/fmt /usr/include/stb \
    /usr/include/nlohmann /usr/include/gif_lib.h /usr/include/hwy "$bundle/include/"
  cp /usr/include/catch2/catch.hpp "$bundle/include/catch2/"
  # Two plain files rather than a link: the linker reads libgif.so, the loader wants the soname.
  cp -L "$lib" "$bundle/lib/libgif.so"
  cp -L "$lib" "$bundle/lib/libgif.so.7"
  cp -L "$hwy" "$bundle/lib/libhwy.so"
  cp -L "$hwy" "$bundle/lib/libhwy.so.1"
  cp "$ref" "$bundle/reference_nca.py"
  echo "gpu-check: bundle in $bundle: $(du -sh "$bundle" | cut -f1) (carry it with the tree)"
}

dry=false
out=${OUT:-}
for arg in "$@"; do
  case $arg in
    --bundle) make_bundle; exit ;;
    --dry-run) dry=true ;;
    -*) die "unknown option '$arg' (--bundle, --dry-run)" 2 ;;
    *) out=$arg ;;
  esac
done
[[ -n $out ]] || out=$build/out
mkdir -p "$out/logs" || die "cannot make '$out'"
out=$(cd "$out" && pwd)
report=$out/gpu-check.md
logs=$out/logs
$dry && [[ ! -d $bundle ]] && make_bundle
[[ -d $bundle ]] || die "no $bundle: run scripts/gpu-check.sh --bundle on the development machine and carry it"

if $dry; then
  # A rehearsal: each step once, short (the CPU reference takes 5 s an iteration, its first
  # untimed: one timed iteration each is enough to see that the bench's table is made).
  device=cpu rounds=${ROUNDS:-1} timing=${TIMING_SECONDS:-5} peers="ref-cpu nca-cpu"
  nca_iters=2 ref_iters=2 smoke_iters=20
else
  device=cuda rounds=${ROUNDS:-2} timing=${TIMING_SECONDS:-60} nca_iters=10 ref_iters=6 smoke_iters=50
  peers="ref-cuda ref-cuda-compile nca-cuda"
fi
python=${PYTHON:-}
if [[ -z $python ]]; then
  for p in python3 /usr/bin/python3; do
    "$p" -c 'import torch' 2>/dev/null && { python=$p; break; }
  done
fi
[[ -n $python ]] || die "no Python with torch (set PYTHON)"
threads=$(nproc)
failures=0
t_start=$SECONDS

say() { printf '%s\n' "$*" >>"$report"; }
# step NAME COMMAND...: runs COMMAND with its output in logs/NAME.log, and says in the report how
# it went and how long it took; the last lines of a failure's log go into the report too.
step() {
  local name=$1 t0=$SECONDS rc
  shift
  "$@" >"$logs/$name.log" 2>&1
  rc=$?
  if [[ $rc -eq 0 ]]; then
    say "- $name: passed ($((SECONDS - t0)) s)"
  else
    failures=$((failures + 1))
    say "- **$name: FAILED** (exit $rc, $((SECONDS - t0)) s); the end of logs/$name.log:"
    say '```'
    tail -n 25 "$logs/$name.log" >>"$report"
    say '```'
  fi
  echo "gpu-check: $name: exit $rc ($((SECONDS - t0)) s)"
  return "$rc"
}

: >"$report"
say "# nca gpu-check$($dry && echo ' (dry run: every device step on the CPU)')"
say ""
say "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
say "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p'), $threads cores"
say "- GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo none)"
say "- Python torch: $("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version() if torch.cuda.is_available() else None)' 2>&1 | tail -n 1)"
say ""
say "## Build"

configure() {
  local args=(-S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNCA_BUNDLE_DIR="$bundle"
    -DNCA_WITH_VIDEO=OFF -DCMAKE_EXE_LINKER_FLAGS=-Wl,--no-as-needed)
  if ! $dry; then
    local prefix site
    prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') || return 1
    site=$("$python" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
    args+=(-DCMAKE_PREFIX_PATH="$prefix")
    # NCCL's header comes with its own wheel, not in torch/include.
    [[ -d $site/nvidia/nccl/include ]] && args+=(-DCMAKE_CXX_FLAGS="-isystem $site/nvidia/nccl/include")
    command -v nvcc >/dev/null && args+=(-DCMAKE_CUDA_COMPILER="$(command -v nvcc)")
  fi
  command -v ninja >/dev/null || die "ninja is missing"
  cmake "${args[@]}"
}
# nca and the unit tests, test_cuda.cpp among them (compiled in batches: NCA_UNITY's default).
build_nca() { cmake --build "$build" -j "$threads" --target nca nca_tests; }
# What the bundle stands for must come from it: the GPU machine has no /usr/include copies.
no_system_headers() {
  local found
  found=$(ninja -C "$build" -t deps | grep -E '^ +/usr/include/(CLI|spdlog|fmt|stb|catch2|nlohmann|hwy)/|/usr/include/gif_lib\.h' |
    sort -u)
  [[ -z $found ]] || { echo "headers taken from /usr/include, not the bundle:"; echo "$found"; return 1; }
  echo "no bundled library's header came from /usr/include"
}
step configure configure && step build build_nca && step bundle-only no_system_headers ||
  { say ""; say "The build failed: nothing else ran."; echo "gpu-check: see $report"; exit 1; }
nca=$repo/$build/nca

say ""
say "## Tests"
step cuda-tests "$build/tests/nca_tests" "[cuda]" --durations yes
say ""
say "## Smoke test on $device"
work=$out/smoke
rm -rf "$work"
mkdir -p "$work"
train=(train --target data/lizard.png --config configs/regenerating.toml --seed 1 --device "$device"
  --threads "$threads" --log-every 10)
step train "$nca" "${train[@]}" --iters "$smoke_iters" --run-dir "$work/a"
step train-again "$nca" "${train[@]}" --iters "$smoke_iters" --run-dir "$work/b"
same_curve() { cmp <(cut -d, -f1-5 "$work/a/loss.csv") <(cut -d, -f1-5 "$work/b/loss.csv"); }
if same_curve >/dev/null 2>&1; then
  say "- the same seed gave the same loss curve twice (loss.csv, $smoke_iters iterations, every column but the time)"
else
  say "- **the same seed gave two different loss curves** (loss.csv of runs a and b differ)"
fi
step resume "$nca" train --run-dir "$work/a" --resume --iters $((smoke_iters + 10)) --device "$device" --threads "$threads"
grown_on=("$device")
[[ $device == cpu ]] || grown_on+=(cpu)
for d in "${grown_on[@]}"; do
  step "grow-$d" "$nca" grow --model "$work/a" --steps 200 --device "$d" --threads "$threads" \
    --out "$work/grow-$d"
done
for d in "${grown_on[@]}"; do
  say "- grow on $d: $(grep -h "loss to the target" "$logs/grow-$d.log" | tail -n 1)"
done
step regen "$nca" regen --model "$work/a" --device "$device" --out "$work/regen"
say "- regen: $(grep -h "recovered" "$logs/regen.log" | tail -n 1)"
step export "$nca" export --model "$work/a" --web "$work/page" --torch "$work/model-ts.pt"
say "- a model trained on $device: $(grep -h "summary\|done:" "$logs/train.log" | tail -n 1)"

say ""
say "## nca bench against the plain PyTorch reference ($rounds rounds, alternating)"
bench() {
  REF=$bundle/reference_nca.py PYTHON=$python PEERS=$peers THREADS=$threads NCA_BUILD_DIR=$build \
    NCA_ITERS=$nca_iters REF_ITERS=$ref_iters scripts/bench-vs-reference.sh "$rounds" data/models/lizard-regenerating.pt
}
if step bench bench; then
  say '```'
  grep -E '^(machine|contenders|round|median|\||ref-|nca-)' "$logs/bench.log" >>"$report"
  say '```'
fi

say ""
say "## Training time: configs/regenerating.toml for ${timing} s"
timed_run() {
  timeout --signal=INT --kill-after=60 "$timing" "$nca" "${train[@]}" --iters 8000 \
    --run-dir "$work/timed"
  [[ -f $work/timed/model.pt ]]
}
if step timing timed_run; then
  rows=$(($(wc -l <"$work/timed/loss.csv") - 1))
  say "- $rows iterations in ${timing} s: $(awk -F, -v n="$rows" 'NR > 1 {t += $6} END {if (n > 0) printf "%.3f s an iteration (the sum of loss.csv'"'"'s seconds over them); at that rate 8000 iterations would take %.0f min, but early iterations are cheaper than those of a grown pool", t / n, t / n * 8000 / 60}' "$work/timed/loss.csv")"
  say "- the cost line: $(grep -h "about .* for 8000 iterations\|for 8000 iterations" "$logs/timing.log" | head -n 1)"
fi

say ""
say "Total: $((SECONDS - t_start)) s, $failures step(s) failed."
echo "gpu-check: $failures step(s) failed; the figures are in $report"
[[ $failures -eq 0 ]]
