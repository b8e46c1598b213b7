#!/usr/bin/env bash
# The whole test suite, as CI runs it: install dependencies, build, run every test with CTest.
# With --sanitize, or when CI=true, then also: the suite again under ASan + UBSan
# (scripts/sanitize.sh) and a short run of each fuzz target (scripts/fuzz.sh, NCA_FUZZ_SECONDS
# each, default 45, with a fixed seed so that what it tries can be tried here first: NCA_FUZZ_SEED,
# default 1), and the mutation table (scripts/mutations.sh, docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=false
[[ "${CI:-}" == true || "${1:-}" == --sanitize ]] && sanitize=true
scripts/deps.sh
scripts/build.sh
(cd "${NCA_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)")
if $sanitize; then
  # Under the sanitizers, everything but the long runs that only repeat code the other tests
  # already drive (kept within CI's time): the export tests (Chromium, Python), the shipped
  # models' 1000-step grow, the three loss-curve goldens, the bench and determinism runs, and
  # the fast step's second and third kernel sets. scripts/sanitize.sh alone runs them all.
  scripts/sanitize.sh -E \
    '^export\.|cli\.test_(export|shipped_models|loss_|bench|determinism)|fast_step_kernels'
  scripts/fuzz.sh --seed "${NCA_FUZZ_SEED:-1}" "${NCA_FUZZ_SECONDS:-45}"
  scripts/mutations.sh  # every planted training bug must fail a regression test
fi
