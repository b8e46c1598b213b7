#!/usr/bin/env bash
# Fetch Noto emoji PNGs (64x64 RGBA) used as NCA training targets.
#
# The images come from the npm package emoji-datasource-google, which ships
# Google's Noto Emoji artwork (Apache License 2.0) as img/google/64/<cp>.png.
# See data/NOTICE for attribution.
#
# Usage: scripts/fetch-emoji.sh [OUT_DIR] [NAME=CODEPOINT ...]
#   OUT_DIR    defaults to <repo>/data
#   NAME=CP    e.g. lizard=1f98e; defaults: lizard=1f98e microbe=1f9a0 smiley=1f600
# Env: EMOJI_DATASOURCE_VERSION overrides the pinned package version.
set -euo pipefail

VERSION="${EMOJI_DATASOURCE_VERSION:-16.0.0}"
PACKAGE="emoji-datasource-google"
SIZE=64

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out_dir="$(dirname "$script_dir")/data"
if [[ $# -gt 0 && "$1" != *=* ]]; then
  out_dir="$1"
  shift
fi
if [[ $# -eq 0 ]]; then
  set -- lizard=1f98e microbe=1f9a0 smiley=1f600
fi

die() { echo "fetch-emoji: error: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found (install Node.js/npm)"
command -v tar >/dev/null 2>&1 || die "tar not found"

# Validate arguments and build the list of tarball members to extract.
names=() members=()
for pair in "$@"; do
  name="${pair%%=*}"
  code="$(echo "${pair#*=}" | tr 'A-FU' 'a-fu')"
  code="${code#u+}"
  [[ "$pair" == *=* && "$name" =~ ^[A-Za-z0-9_.-]+$ \
     && "$code" =~ ^[0-9a-f]{4,6}(-[0-9a-f]{4,6})*$ ]] \
    || die "bad argument '${pair}', expected NAME=CODEPOINT (e.g. lizard=1f98e)"
  names+=("$name")
  members+=("package/img/google/${SIZE}/${code}.png")
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tarball="$(cd "$tmp" && npm pack "${PACKAGE}@${VERSION}" --silent)" \
  || die "npm pack ${PACKAGE}@${VERSION} failed"
# Missing members are reported individually below, so ignore tar's status here.
tar -xzf "${tmp}/${tarball}" -C "$tmp" "${members[@]}" 2>/dev/null || true

for m in "${members[@]}"; do
  [[ -f "${tmp}/${m}" ]] \
    || die "${m#package/} not in ${PACKAGE}@${VERSION} (unknown code point?)"
done

mkdir -p "$out_dir"
for i in "${!names[@]}"; do
  cp "${tmp}/${members[$i]}" "${out_dir}/${names[$i]}.png"
  echo "wrote ${out_dir}/${names[$i]}.png (${members[$i]#package/})"
done
