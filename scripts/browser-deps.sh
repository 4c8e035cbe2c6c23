#!/usr/bin/env bash
# What the dashboard's browser test needs (crates/keylens/tests/dashboard.rs): Debian's Chromium
# (installed with apt when missing, as root like CI) and playwright-core from npm to drive it
# (never its own browser download), cached outside the clone. Prints shell assignments for
# KEYLENS_CHROMIUM and KEYLENS_NODE_PATH; scripts/test.sh evaluates them.
set -euo pipefail
PLAYWRIGHT_VERSION="1.65.1"
cache="${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}"

if ! command -v chromium >/dev/null; then
  echo "browser-deps: installing Debian's chromium (once)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    { echo "browser-deps: the browser test needs chromium; install it (apt-get install -y chromium)" >&2; exit 1; }
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "browser-deps: installing nodejs and npm (once)" >&2
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; } ||
    { echo "browser-deps: the browser test needs node and npm; install them" >&2; exit 1; }
fi
dir="$cache/playwright-core-$PLAYWRIGHT_VERSION"
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
  echo "browser-deps: installing playwright-core@$PLAYWRIGHT_VERSION from npm (once)" >&2
  mkdir -p "$dir"
  # Only the driver: Debian's chromium is the browser, so nothing else is downloaded.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund --prefix "$dir" "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null
fi
printf 'KEYLENS_CHROMIUM=%q\nKEYLENS_NODE_PATH=%q\n' "$(command -v chromium)" "$dir/node_modules"
