#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as on a developer's: installs what it needs
# (npm to fetch libduckdb), fetches the prebuilt DuckDB library once, runs every test, and ends
# with one line totalling them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "test: installing npm (needed once to fetch libduckdb)" >&2
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi
source scripts/env.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
