#!/usr/bin/env bash
# nca export --web in a real browser: Debian's headless Chromium, driven by playwright-core
# (tests/export/package.json, installed by npm ci when missing or stale).
source "$(dirname "$0")/lib.sh"
CHROMIUM=${NCA_CHROMIUM:-/usr/bin/chromium}
[[ -x $CHROMIUM ]] || skip "no Chromium at $CHROMIUM: install Debian's chromium (scripts/deps.sh does)"
command -v node >/dev/null && command -v npm >/dev/null ||
  skip "node and npm are needed: install Debian's nodejs and npm (scripts/deps.sh does)"

"$EXPORT_DIR/ensure-node-modules.sh" || { echo "FAIL: npm ci in $EXPORT_DIR" >&2; exit 1; }

check "export --web" "$NCA" export --model "$MODEL" --web page
# The state after 120 steps for the step cases, and a 220-step coverage curve.
check "C++ reference" "$REFERENCE" "$MODEL" ref.json 72 120 220 1
export NCA_CHROMIUM=$CHROMIUM
check "the page in headless Chromium" \
  timeout 120 node "$EXPORT_DIR/web_test.mjs" page/index.html ref.json

# A model of Distill's (its last layer has a bias), imported from its file, when the folder of
# Distill's files is here (NCA_DISTILL_MODELS; in CI it must be).
DISTILL=${NCA_DISTILL_MODELS:-}
if [[ -n $DISTILL && -f $DISTILL/ex3_lizard.json ]]; then
  check "export --web of Distill's ex3_lizard" "$NCA" export --model "$DISTILL/ex3_lizard.json" \
    --web distill-page
  check "C++ reference of ex3_lizard" "$REFERENCE" "$DISTILL/ex3_lizard.json" distill-ref.json 72 \
    120 220 1
  check "Distill's lizard's page in headless Chromium" \
    timeout 120 node "$EXPORT_DIR/web_test.mjs" distill-page/index.html distill-ref.json
elif [[ ${CI:-} == true ]]; then
  fail "NCA_DISTILL_MODELS does not name Distill's model files (CI=true)"
else
  echo "note: NCA_DISTILL_MODELS unset: the page of a Distill model is not tested"
fi
finish
