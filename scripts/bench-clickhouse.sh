#!/usr/bin/env bash
# ClickHouse beside the embedded store on the same generated data, one run: whole-process import
# throughput (`keylens import`, validated, deduplicated, licenses derived) into each, then every
# metric's latency through `keylens query` (median of 3 warm runs, process start included) on each.
# Usage: scripts/bench-clickhouse.sh [LICENSES] (default 1000000). Starts its own ClickHouse
# (scripts/clickhouse.sh) unless KEYLENS_CLICKHOUSE_URL is set. Results go to stdout as a table.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
n="${1:-1000000}"
source scripts/bench-setup.sh
if [ -z "${KEYLENS_CLICKHOUSE_URL:-}" ]; then
  eval "$(scripts/clickhouse.sh start)"
  trap 'scripts/clickhouse.sh stop "$KEYLENS_CLICKHOUSE_DIR"' EXIT
fi
url="${KEYLENS_CLICKHOUSE_URL%/*}/bench_$n"
echo "== ClickHouse $(python3 -c "import sys,urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=b'SELECT version()')).read().decode().strip())" "$(echo "${KEYLENS_CLICKHOUSE_URL%/*}" | sed 's#^clickhouse://#http://#; s#,.*##')/")"
echo "== $n licenses, $events events ($(du -h "$work/events.ndjson" | cut -f1))"

import() { # ENGINE ARGS...: prints "events/s seconds"
  local start end
  start=$(date +%s.%N)
  "$bin" import "$@" "$work/events.ndjson" > /dev/null
  end=$(date +%s.%N)
  python3 -c "s=$end-$start; print(f'{$events/s:.0f} {s:.1f}')"
}
echo
echo "| | embedded (DuckDB) | ClickHouse |"
echo "|---|---|---|"
# KEYLENS_BENCH_REUSE=1 keeps the stores of an earlier run in the same folder and measures queries only.
if [ "${KEYLENS_BENCH_REUSE:-}" != 1 ]; then
  rm -rf "$work/store"
  read -r duck_rate duck_secs < <(import --data "$work/store")
  python3 - "$url" <<'PY'
import sys, urllib.request
u = sys.argv[1].replace("clickhouse://", "http://"); host, db = u.rsplit("/", 1)
urllib.request.urlopen(urllib.request.Request(host + "/", data=f"DROP DATABASE IF EXISTS {db}".encode())).read()
PY
  read -r ch_rate ch_secs < <(import --store "$url")
  echo "| import, events/s | $duck_rate ($duck_secs s) | $ch_rate ($ch_secs s) |"
fi

median() { # median wall ms of 3 runs of keylens query ARGS (after one warm-up)
  "$bin" query "$@" > /dev/null
  for _ in 1 2 3; do
    local s e; s=$(date +%s%N); "$bin" query "$@" > /dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | sort -n | sed -n 2p
}
params=(--as-of 2026-11-01 --format json)
metrics="activation_rate time_to_activate activations activation_failures validations renewal_rate renewals churn revenue time_to_expiration expiring mrr cohort_retention trial_conversion_rate versions upgrades survival misuse overview"
for m in $metrics; do
  extra=()
  [ "$m" = compare ] && extra=(--metric renewal_rate --a tier=pro --b tier=basic)
  d=$(median "$m" "${params[@]}" "${extra[@]}" --data "$work/store")
  c=$(median "$m" "${params[@]}" "${extra[@]}" --store "$url")
  echo "| $m, ms | $d | $c |"
done
d=$(median compare "${params[@]}" --metric renewal_rate --a tier=pro --b tier=basic --data "$work/store")
c=$(median compare "${params[@]}" --metric renewal_rate --a tier=pro --b tier=basic --store "$url")
echo "| compare (renewal_rate, tier pro vs basic), ms | $d | $c |"
