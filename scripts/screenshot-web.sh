#!/usr/bin/env bash
# Takes the picture of the web demo in docs/usage.md (docs/web-demo.png): exports the page, runs the
# browser test on it in headless Chromium (tests/export/web_test.mjs) and, at its end, grows the
# shape, bites a piece out of it and screenshots the page while it regrows.
#   scripts/screenshot-web.sh [MODEL] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-data/models/lizard-regenerating.pt}
out=${2:-docs/web-demo.png}
build=${NCA_BUILD_DIR:-build}
scripts/build.sh >/dev/null
tests/export/ensure-node-modules.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/nca" export --model "$model" --web "$tmp/page"
"$build/tests/nca_reference" "$model" "$tmp/ref.json" 72 120 220 1
mkdir -p "$(dirname "$out")"
node tests/export/web_test.mjs "$tmp/page/index.html" "$tmp/ref.json" --screenshot "$out"
