#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build, run every test with CTest.
# When CI=true, first the formatting check (scripts/lint.sh: clang-format, a few seconds) and
# clang-tidy on the sources the last commit changed (scripts/tidy.sh); after the suite, the Debian
# package made, installed, run and removed (scripts/package.sh --check); after the sanitizers, the
# GPU check rehearsed on the CPU (scripts/gpu-check.sh --dry-run) and the kernels built for 64-bit
# Arm and tested under qemu (scripts/aarch64.sh).
# With --sanitize, or when CI=true, then also: the suite again under ASan + UBSan
# (scripts/sanitize.sh) and a short run of each fuzz target (scripts/fuzz.sh, NCA_FUZZ_SECONDS
# each, default 30, with a fixed seed so that what it tries can be tried here first: NCA_FUZZ_SEED,
# default 1).
# With --mutations, or when CI=true: the mutation table (scripts/mutations.sh --first, each
# planted training bug until the first regression test that catches it; docs/testing.md).
# With --debian13, or when CI=true, then also: the same tree built and tested on Debian 13 with
# LibTorch 2.6, the cross-version checks, and the CUDA LibTorch build (scripts/debian13.sh, in
# chroots it makes once and reuses; needs root). Making the chroots is mostly downloading and
# unpacking, so it runs in the background beside the Debian 12 stages (its log is printed when
# they are done).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=false
mutations=false
debian13=false
[[ "${CI:-}" == true ]] && sanitize=true && mutations=true && debian13=true
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=true ;;
    --mutations) mutations=true ;;
    --debian13) debian13=true ;;
    *) echo "test.sh: unknown option '$arg' (--sanitize, --mutations, --debian13)" >&2; exit 2 ;;
  esac
done

# stage NAME COMMAND...: runs one part and says how long it took (docs/development.md quotes these).
stage() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  echo "test.sh: $name took $((SECONDS - t0)) s"
}

# Everything the later stages install on this machine, at once: apt must not run twice at a time,
# and the chroots below are made while the other stages run.
deps=()
# The plain PyTorch reference's PIL, for the GPU check's rehearsal below.
# The linters, and the Arm cross compiler with qemu for the kernels' Arm check.
[[ "${CI:-}" == true ]] && deps+=(--reference --lint --aarch64)
$sanitize && deps+=(--sanitize)
$debian13 && deps+=(--debian13)
stage "installing (Debian 12)" scripts/deps.sh "${deps[@]}"
if $debian13; then
  chroot_log=$(mktemp)
  # A process group of its own, so that a failed stage ends debootstrap and apt with it.
  setsid -w scripts/debian13.sh chroots >"$chroot_log" 2>&1 &
  chroot_pid=$!
  trap 'kill -- -"$chroot_pid" 2>/dev/null || true' EXIT
fi
# The formatting check and clang-tidy on the last commit's sources: first, so that a change they
# refuse fails at once.
if [[ "${CI:-}" == true ]]; then
  stage "the formatting check" scripts/lint.sh
  stage "clang-tidy (the sources the last commit changed)" scripts/tidy.sh
fi
stage "the build (Debian 12, LibTorch 1.13)" scripts/build.sh
stage "the suite (Debian 12)" bash -c 'cd "${NCA_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)"'
if [[ "${CI:-}" == true ]]; then
  # The .deb, installed with apt-get, run from an empty folder, and removed again.
  stage "the Debian package" scripts/package.sh --check
fi
if $sanitize; then
  # Under the sanitizers, what exercises code of nca's that the rest does not reach again: the unit
  # tests, the fuzz corpora, the replay and data-parallel checks, and the command-line tests of
  # grow and regen, faults, signals, special files, run directories and loading. Left out, as
  # they drive the same code once more with other data (kept within CI's time): the export
  # tests (Chromium, Python), the shipped models' 1000-step grow, the loss-curve goldens, bench,
  # determinism, help texts, the first-hour walkthrough, bad input (its hostile images, configs
  # and checkpoints are seeds of the fuzz corpora, which run here), the limits table (fuzz_config
  # reads the same numbers), full disks and file-size limits (test_faults fails the same writes;
  # under the sanitizers no stack or address-space limit can be tried), closed pipes
  # (test_signals), --nproc (distributed.data_parallel) and the signal matrix.
  # Nor the three longest unit tests (nca_tests.slow: the fast step on grown states and its
  # training curve for every kernel target, as every command-line test here trains and grows
  # with the fast step, and the kernels' own tests run every target; and all 31 of Distill's
  # models, which cli.test_distill, distill.first_step and the Distill fuzz corpus stand for).
  # scripts/sanitize.sh alone runs them all. The command-line tests run without LeakSanitizer
  # (NCA_CLI_DETECT_LEAKS=0, tests/cli/lib.sh says why); the rest keep it.
  stage "the sanitized build and suite" env NCA_CLI_DETECT_LEAKS=0 scripts/sanitize.sh -E \
    '^export\.|^nca_tests\.slow$|cli\.test_(export|shipped_models|loss_[a-z]+|bench|determinism|help|first_hour|bad_input|limits|process_limits|disk|pipes|nproc|signal_matrix|install)$'
  stage "fuzzing" scripts/fuzz.sh --seed "${NCA_FUZZ_SEED:-1}" "${NCA_FUZZ_SECONDS:-30}"
fi
if [[ "${CI:-}" == true ]]; then
  # The GPU machine's one script, rehearsed on the CPU (its own build in build-gpu/, with the
  # carried headers and without FFmpeg, as there), so that its first GPU run is not its first run.
  stage "the GPU check, dry run" scripts/gpu-check.sh --dry-run
  # The fast step's kernels built for 64-bit Arm and tested under qemu (NEON, SVE, scalar).
  stage "the kernels on Arm (qemu)" scripts/aarch64.sh
fi
if $mutations; then
  stage "the mutation table" scripts/mutations.sh --first
fi
if $debian13; then
  status=0
  t0=$SECONDS
  wait "$chroot_pid" || status=$?
  trap - EXIT
  cat "$chroot_log"  # with the time each chroot took, beside the stages above
  echo "test.sh: waited $((SECONDS - t0)) s more for the Debian 13 chroots"
  [[ $status -eq 0 ]] || { echo "test.sh: making the Debian 13 chroots failed" >&2; exit 1; }
  stage "Debian 13 (LibTorch 2.6 suite, cross-version, CUDA build)" scripts/debian13.sh all
fi
