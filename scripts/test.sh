#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as on a developer's: fetches the prebuilt
# DuckDB library and uPlot once (installing npm for that if needed), and chromium and
# playwright-core for the browser test (scripts/browser-deps.sh), starts ClickHouse (one server and a
# two-shard cluster, scripts/clickhouse.sh), runs every test, stops ClickHouse, and ends with one
# line totalling them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# The dashboard's browser test drives Debian's chromium with playwright-core.
eval "$(scripts/browser-deps.sh)"
export KEYLENS_CHROMIUM KEYLENS_NODE_PATH
log=$(mktemp)
# The ClickHouse conformance tests need a server and a two-shard cluster: start ours unless the
# caller points at its own (both addresses set).
if [ -z "${KEYLENS_CLICKHOUSE_URL:-}" ] || [ -z "${KEYLENS_CLICKHOUSE_CLUSTER_URL:-}" ]; then
  eval "$(scripts/clickhouse.sh start)"
  trap 'scripts/clickhouse.sh stop "$KEYLENS_CLICKHOUSE_DIR"; rm -f "$log"' EXIT
else
  trap 'rm -f "$log"' EXIT
fi
export KEYLENS_CLICKHOUSE_URL KEYLENS_CLICKHOUSE_CLUSTER_URL
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
