#!/usr/bin/env bash
# docs/highlighting.png: the acme rules rendered with the extension's grammar
# (scripts/render-highlighting.js), photographed by headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
chromium=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chromium" ]; then
  echo "screenshot.sh: Chromium is not installed" >&2
  exit 1
fi
mkdir -p build
node scripts/render-highlighting.js tests/snapshots/acme.score.sample build/highlighting.html
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size=980,1650 --screenshot="$PWD/../../docs/highlighting.png" \
  "file://$PWD/build/highlighting.html"
