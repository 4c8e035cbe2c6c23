#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as on a developer's: fetches the prebuilt
# DuckDB library and uPlot once (installing npm for that if needed), and chromium and
# playwright-core for the browser test (scripts/browser-deps.sh), runs every test, and ends with one
# line totalling them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The dashboard's browser test drives Debian's chromium with playwright-core.
eval "$(scripts/browser-deps.sh)"
export KEYLENS_CHROMIUM KEYLENS_NODE_PATH
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
