#!/usr/bin/env bash
# Configures (once) and builds nca in build/ (Release). Extra arguments go to CMake's configure,
# e.g. scripts/build.sh -DTorch_DIR=/opt/libtorch/share/cmake/Torch for a CUDA LibTorch.
# NCA_BUILD_TARGET=nca builds the binary only (demo.sh: the tests are not needed there); several
# targets are separated by spaces.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NCA_BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null && [[ ! -f "$build/CMakeCache.txt" ]] && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
targets=()
[[ -n ${NCA_BUILD_TARGET:-} ]] && read -ra targets <<<"$NCA_BUILD_TARGET"
cmake --build "$build" -j "$(nproc)" ${targets[@]+--target "${targets[@]}"}
