#!/usr/bin/env bash
# The fast step's kernels on 64-bit Arm, without an Arm machine: cross-compiles the kernels and
# their LibTorch-free tests (tests/test_fast_kernels.cpp: every Highway target the CPU runs
# against a plain implementation, and targets that both fuse multiply-adds bit for bit against
# each other) with Debian's aarch64 cross compiler and Highway for arm64 (multiarch), and runs them
# under qemu-user, once with 128-bit and once with 256-bit SVE vectors: NEON, SVE, SVE2, the
# fixed-width SVE targets where their vector length is the CPU's, and the scalar fallback.
#   scripts/aarch64.sh          (root or sudo: installs what is missing, scripts/deps.sh --aarch64)
# Builds in build-aarch64/. Its last line says what passed.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-aarch64
die() { echo "aarch64: $*" >&2; exit 1; }

scripts/deps.sh --aarch64
# The definitions and options of CMakeLists.txt's nca_kernels, and the tests' Catch2 entry point
# (Catch2 2's single header, which Debian 12 ships; Catch2 3 brings a library instead).
mkdir -p "$build"
t0=$SECONDS
# Each source compiled on its own, through ccache where installed (as CMakeLists.txt does for the
# other builds), so that a second run of an unchanged tree takes seconds.
cxx=(aarch64-linux-gnu-g++)
command -v ccache >/dev/null && cxx=(ccache aarch64-linux-gnu-g++)
objects=()
for src in src/fast_kernels.cpp tests/test_fast_kernels.cpp tests/main.cpp; do
  obj=$build/$(basename "$src" .cpp).o
  "${cxx[@]}" -std=c++17 -O2 -Wall -Wextra -DHWY_COMPILE_ALL_ATTAINABLE \
    -DHWY_DISABLED_TARGETS=HWY_SSSE3 -ffp-contract=off -Isrc -Itests -c "$src" -o "$obj" ||
    die "the cross build of $src failed"
  objects+=("$obj")
done
aarch64-linux-gnu-g++ "${objects[@]}" -lhwy -o "$build/nca_kernel_tests" || die "linking failed"
echo "aarch64: built $build/nca_kernel_tests in $((SECONDS - t0)) s"

# qemu's "max" CPU has NEON, SVE and SVE2; the vector length is chosen per run.
passed=()
for vl in 128 256; do
  t0=$SECONDS
  log=$build/test-sve$vl.log
  if QEMU_LD_PREFIX=/usr/aarch64-linux-gnu LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu \
    qemu-aarch64-static -cpu "max,sve$vl=on" "$build/nca_kernel_tests" >"$log" 2>&1; then
    targets=$(grep -oE 'targets this CPU runs, best first: [a-z0-9_,]+' "$log" | sed 's/.*: //')
    passed+=("SVE at $vl bits (targets $targets)")
    echo "aarch64: SVE at $vl bits: passed in $((SECONDS - t0)) s: $(tail -n 2 "$log" | head -n 1)"
  else
    tail -n 30 "$log" >&2
    die "the kernel tests failed under qemu with SVE at $vl bits (see $log)"
  fi
done
echo "aarch64: passed: ${passed[*]}"
