#!/usr/bin/env bash
# Installs the Debian packages nca needs, when any is missing. Used by test.sh, demo.sh and CI.
#   scripts/deps.sh              build + test dependencies
#   scripts/deps.sh --reference  also PIL, for the Python reference benchmark, and what its
#                                --compile needs on PyTorch 2.x (Python headers, setuptools)
#   scripts/deps.sh --sanitize   also clang and its sanitizer/libFuzzer runtimes (sanitize.sh,
#                                fuzz.sh)
#   scripts/deps.sh --lint       also clang-format and clang-tidy (scripts/lint.sh, tidy.sh)
#   scripts/deps.sh --debian13   also debootstrap, which scripts/debian13.sh makes its chroots with
#   scripts/deps.sh --aarch64    also the 64-bit Arm cross compiler, Highway for arm64 (multiarch:
#                                adds the arm64 architecture to dpkg) and qemu-user
#                                (scripts/aarch64.sh)
#   scripts/deps.sh --cuda       Debian 13 only: the CUDA LibTorch (libtorch-cuda-dev, contrib), its
#                                Gloo and NCCL (libgloo-cuda-dev, libnccl-dev) and
#                                nvcc (nvidia-cuda-toolkit, non-free) instead of libtorch-dev, and
#                                only what building needs (no GPU here, so nothing is run). cuDNN
#                                is not in Debian: its installer package (nvidia-cudnn) is told
#                                not to download it, so a CUDA build links with cuDNN left open.
# The export tests need Chromium (the web page, driven headless), Node.js with npm (playwright-core,
# installed by the test itself with npm ci) and python3-torch (loading the TorchScript export);
# the check of the Distill importer needs python3-numpy.
set -euo pipefail

# nlohmann-json3-dev: reads Distill's model files (src/distill_format.cpp); also carried to the
# GPU machine by scripts/gpu-check.sh --bundle (a pip PyTorch's c10d headers include it too).
# libhwy-dev: Google Highway, the fast step's SIMD kernels (1.0.3 in Debian 12, 1.2.0 in 13).
# dpkg-dev and file: the .deb of scripts/package.sh (CPack asks dpkg-shlibdeps for its dependencies).
build=(cmake g++ ninja-build ccache pkg-config dpkg-dev file libcli11-dev libspdlog-dev libfmt-dev libstb-dev catch2 libgif-dev
  libavcodec-dev libavformat-dev libswscale-dev libavutil-dev nlohmann-json3-dev libhwy-dev)
# Gloo (c10d's CPU transport) for the CPU LibTorch only: in Debian 13, libgloo-dev and
# libtorch-cuda-dev cannot be installed together (apt removed libtorch-cuda-dev to install it).
packages=("${build[@]}" libgloo-dev libtorch-dev chromium python3-torch python3-numpy)
need_node=true
cuda=false
arm64=false
for arg in "$@"; do
  case $arg in
    --reference) packages+=(python3-pil python3-dev python3-setuptools) ;;
    --sanitize) packages+=(clang libclang-rt-14-dev) ;;
    --lint) packages+=(clang-format clang-tidy clang) ;;
    --debian13) packages+=(debootstrap) ;;
    --aarch64) packages+=(g++-aarch64-linux-gnu qemu-user-static libhwy-dev:arm64); arm64=true ;;
    --cuda)
      packages=("${build[@]}" libtorch-cuda-dev libgloo-cuda-dev libnccl-dev nvidia-cuda-toolkit)
      need_node=false
      cuda=true ;;
    *) echo "deps: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere than Debian (a nodesource build bundles its own npm, and
# Debian's npm package conflicts with it): ask for the commands, not the packages.
if $need_node; then
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Answered before nvidia-cudnn is unpacked, so that its configure step downloads nothing.
if $cuda; then
  echo "nvidia-cudnn nvidia-cudnn/question select I Decline" | "${sudo[@]}" debconf-set-selections
fi
# An install that was stopped half-way (a CI run ended early) would make apt refuse the next one.
"${sudo[@]}" dpkg --configure -a
if $arm64 && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${sudo[@]}" dpkg --add-architecture arm64
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
