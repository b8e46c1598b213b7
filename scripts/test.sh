#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build, run every test with CTest.
# With --sanitize, or when CI=true, then also: the suite again under ASan + UBSan
# (scripts/sanitize.sh) and a short run of each fuzz target (scripts/fuzz.sh, NCA_FUZZ_SECONDS
# each, default 45, with a fixed seed so that what it tries can be tried here first: NCA_FUZZ_SEED,
# default 1).
# With --debian13, or when CI=true, then also: the same tree built and tested on Debian 13 with
# LibTorch 2.6, the cross-version checks, and the CUDA LibTorch build (scripts/debian13.sh, in
# chroots it makes once and reuses; needs root).
# The mutation table (scripts/mutations.sh, docs/testing.md) is not run here: at about 3 min a
# mutation it would take CI past its time with the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=false
debian13=false
[[ "${CI:-}" == true ]] && sanitize=true && debian13=true
for arg in "$@"; do
  case $arg in
    --sanitize) sanitize=true ;;
    --debian13) debian13=true ;;
    *) echo "test.sh: unknown option '$arg' (--sanitize, --debian13)" >&2; exit 2 ;;
  esac
done

# stage NAME COMMAND...: runs one part and says how long it took (the README quotes these).
stage() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  echo "test.sh: $name took $((SECONDS - t0)) s"
}

stage "installing (Debian 12)" scripts/deps.sh
stage "the build (Debian 12, LibTorch 1.13)" scripts/build.sh
stage "the suite (Debian 12)" bash -c 'cd "${NCA_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)"'
if $sanitize; then
  # Under the sanitizers, everything but the long runs that only repeat code the other tests
  # already drive (kept within CI's time): the export tests (Chromium, Python), the shipped
  # models' 1000-step grow, the three loss-curve goldens, the bench and determinism runs, and
  # the fast step's second and third kernel sets. scripts/sanitize.sh alone runs them all.
  stage "the sanitized build and suite" scripts/sanitize.sh -E \
    '^export\.|cli\.test_(export|shipped_models|loss_|bench|determinism)|fast_step_kernels'
  stage "fuzzing" scripts/fuzz.sh --seed "${NCA_FUZZ_SEED:-1}" "${NCA_FUZZ_SECONDS:-45}"
fi
if $debian13; then
  stage "Debian 13 (LibTorch 2.6 suite, cross-version, CUDA build)" scripts/debian13.sh all
fi
