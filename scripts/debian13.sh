#!/usr/bin/env bash
# nca on Debian 13 (trixie), in chroots made with debootstrap from the Debian registry this
# machine already uses, so that one Debian 12 machine checks both LibTorch generations:
#   cpu   LibTorch 2.6 (libtorch-dev), Catch2 3, CLI11 2.4, spdlog 1.15: build and run the whole
#         suite (ctest), then the cross-version checks against the Debian 12 build in build/
#         (tests/cross/test_cross_version.sh; skipped with a line when build/nca is missing)
#   cuda  the CUDA LibTorch 2.6 (libtorch-cuda-dev) and nvcc 12.4: build nca and nca_tests, run
#         nothing (no GPU here; Debian has no cuDNN, so the link leaves its symbols to run time)
# Usage:
#   scripts/debian13.sh [cpu|cuda|all]      (default all)
#   scripts/debian13.sh shell cpu|cuda      a shell in that chroot, the tree at /nca
#   scripts/debian13.sh chroots             make (or top up) both chroots, build and run nothing:
#                                           downloads and unpacking, which scripts/test.sh runs
#                                           beside its Debian 12 stages
# Needs root (debootstrap, chroot, mounts). The chroots live in $NCA_CHROOT_DIR (default
# /var/lib/nca/chroots: trixie/ and trixie-cuda/), outside the tree so that a fresh clone reuses
# them; one is made when missing (a minute or two, then the packages) and otherwise only topped up
# with what scripts/deps.sh asks for. The builds go to build-debian13/ and build-debian13-cuda/
# in the tree. Mounts are made in a private mount namespace and go away with it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
chroots=${NCA_CHROOT_DIR:-/var/lib/nca/chroots}

die() { echo "debian13: $*" >&2; exit "${2:-1}"; }
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot and mounts)"

# The Debian mirror this machine's apt uses, for trixie too: from its apt sources only (a mirror
# named here could be one this machine cannot reach).
mirror() {
  local uri
  uri=$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list 2>/dev/null | head -n 1 | awk '{print $2}') || true
  local where="/etc/apt/sources.list or /etc/apt/sources.list.d/*.sources"
  [[ -n $uri ]] || die "no Debian mirror in this machine's apt sources ($where): add the one this machine uses, then run this again"
  echo "$uri"
}

# run_in DIR COMMAND: COMMAND under bash in the chroot DIR with the tree at /nca.
run_in() {
  local root=$1 cmd=$2
  mkdir -p "$root/nca"
  unshare --mount --propagation private bash -euc '
    root=$1 repo=$2
    # The root a mount point of its own, so that tests can make mount namespaces inside.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t sysfs sys "$root/sys"
    mount --bind "$repo" "$root/nca"
    # The model files of Distill, which the tests of the importer read (NCA_DISTILL_MODELS), read-only.
    distill=
    if [[ -n ${NCA_DISTILL_MODELS:-} && -d $NCA_DISTILL_MODELS ]]; then
      mkdir -p "$root/distill-models"
      mount --bind "$NCA_DISTILL_MODELS" "$root/distill-models"
      mount -o remount,bind,ro "$root/distill-models"
      distill=/distill-models
    fi
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
      LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" NCA_DISTILL_MODELS="$distill" \
      bash -euc "cd /nca && $3"
  ' _ "$root" "$repo" "$cmd"
}

# ensure FLAVOUR: the chroot for FLAVOUR exists and has what scripts/deps.sh asks for.
ensure() {
  local flavour=$1 root deps_args=()
  root=$(chroot_dir "$flavour")
  [[ $flavour == cuda ]] && deps_args=(--cuda)
  if [[ ! -f $root/.nca-chroot ]]; then
    command -v debootstrap >/dev/null || scripts/deps.sh --debian13
    local m
    m=$(mirror) || exit 1
    echo "debian13: making $root (debootstrap trixie from $m)"
    rm -rf "$root.partial"
    mkdir -p "$chroots"
    debootstrap --variant=minbase trixie "$root.partial" "$m" >"$chroots/debootstrap-$flavour.log" 2>&1 ||
      die "debootstrap failed; see $chroots/debootstrap-$flavour.log"
    echo "deb $m trixie main contrib non-free" >"$root.partial/etc/apt/sources.list"
    rm -rf "$root"
    mv "$root.partial" "$root"
    touch "$root/.nca-chroot"
  fi
  run_in "$root" "scripts/deps.sh ${deps_args[*]}"
}

chroot_dir() { [[ $1 == cuda ]] && echo "$chroots/trixie-cuda" || echo "$chroots/trixie"; }

timed() {
  local what=$1 t0=$SECONDS
  shift
  "$@"
  echo "debian13: $what took $((SECONDS - t0)) s"
}

cpu() {
  local root
  root=$(chroot_dir cpu)
  timed "the trixie chroot (make or top up)" ensure cpu
  # The unit tests as one process (NCA_UNIT_TESTS_PER_FILE=OFF: each start loads LibTorch). The suite
  # leaves out the command-line tests of how nca meets the operating system, which run the same
  # code of nca's on the same kernel whichever Debian it is (full disks, device nodes and FIFOs,
  # ulimit, closed pipes, the 25 interrupted runs of the signal matrix; test_signals stays), and
  # the web page's test in Chromium (the page is nca's own text around the weights, which the
  # TorchScript export and the cross-version checks read on both versions).
  timed "the LibTorch 2.6 build" run_in "$root" \
    "NCA_BUILD_DIR=build-debian13 scripts/build.sh -DNCA_UNIT_TESTS_PER_FILE=OFF"
  timed "the suite on LibTorch 2.6" run_in "$root" \
    "cd build-debian13 && ctest --output-on-failure -j \$(nproc) \
     -E '^export\\.test_export_web\$|cli\\.test_(disk|special_files|process_limits|pipes|signal_matrix)\$'"
  if [[ -x build/nca ]]; then
    timed "the cross-version checks" bash tests/cross/test_cross_version.sh "$repo/build" \
      "$root" "$0"
  else
    echo "debian13: cross-version checks skipped: build/nca (the Debian 12 build) is missing"
  fi
}

cuda() {
  local root
  root=$(chroot_dir cuda)
  timed "the trixie-cuda chroot (make or top up)" ensure cuda
  # cuDNN's symbols are left to run time (no libcudnn.so.9 here). The binary and the unit tests,
  # test_cuda.cpp among them, compiled and linked against the CUDA LibTorch: they cannot start
  # without cuDNN, so scripts/gpu-check.sh runs them on a GPU machine.
  timed "the CUDA LibTorch 2.6 build" run_in "$root" \
    "NCA_BUILD_DIR=build-debian13-cuda NCA_BUILD_TARGET='nca nca_tests' scripts/build.sh \
     -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined"
  # Data-parallel training's NCCL path (src/distributed.cpp under USE_C10D_NCCL) must be in it.
  local nccl
  nccl=$(nm -C build-debian13-cuda/libnca_core.a |
    grep -c 'ProcessGroupNCCL' || true)
  [[ $nccl -gt 0 ]] || die "the CUDA build left out the NCCL path (no ProcessGroupNCCL in libnca_core.a)"
  echo "debian13: the CUDA build holds the NCCL path ($nccl ProcessGroupNCCL symbols in libnca_core.a)"
  [[ -x build-debian13-cuda/tests/nca_tests ]] || die "the CUDA build has no tests/nca_tests"
  echo "debian13: CUDA tests not run: no GPU on this machine (nca and nca_tests are compiled and linked only)"
}

case ${1:-all} in
  cpu) cpu ;;
  cuda) cuda ;;
  all) cpu; cuda ;;
  chroots)
    timed "the trixie chroot (make or top up)" ensure cpu
    timed "the trixie-cuda chroot (make or top up)" ensure cuda ;;
  shell)
    [[ ${2:-} == cpu || ${2:-} == cuda ]] || die "usage: scripts/debian13.sh shell cpu|cuda" 2
    ensure "$2"
    run_in "$(chroot_dir "$2")" "exec bash -i" ;;
  # Used by tests/cross: one command in the cpu chroot, from the tree's root.
  exec)
    shift
    [[ -f $(chroot_dir cpu)/.nca-chroot ]] || die "no trixie chroot yet: run scripts/debian13.sh cpu"
    run_in "$(chroot_dir cpu)" "$*" ;;
  *) die "usage: scripts/debian13.sh [cpu|cuda|all|chroots] | shell cpu|cuda" 2 ;;
esac
