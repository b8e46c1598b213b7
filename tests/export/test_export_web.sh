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
finish
