#!/usr/bin/env bash
# Installs tests/export/node_modules (playwright-core, exactly as package-lock.json pins it) when
# it is missing or older than the lock file. Used by test_export_web.sh and
# scripts/screenshot-web.sh; node_modules/ is not committed.
set -euo pipefail
cd "$(dirname "$0")"
# npm leaves node_modules/.package-lock.json behind: older than the lock file means stale.
if [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
