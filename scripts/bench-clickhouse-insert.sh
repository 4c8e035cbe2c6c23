#!/usr/bin/env bash
# The import target's yardstick: ClickHouse's own JSON insert on this machine, beside
# `keylens import` of the same file. The performance issue asks for a durable import at twice what
# ClickHouse's JSON insert reaches here.
#
# ClickHouse gets the generated NDJSON as it is, `INSERT ... FORMAT JSONEachRow` into a MergeTree
# table with one column per field of the contract (text as Nullable(String), numbers as
# Nullable(Float64), `timestamp` kept as its text: ClickHouse 18.16 cannot read RFC 3339 with a
# fraction into a DateTime, and leaving it text only spares ClickHouse work), sorted by
# (type, timestamp) as keylens sorts each batch; no validation, no dedup, no derived tables, and
# no fsync (18.16 has no setting for one). Both ways of sending it are timed: `clickhouse-client`
# (which parses the JSON itself and sends blocks) and the HTTP interface (the server parses).
# keylens: `keylens import` into a fresh embedded store (validated, deduplicated, durable,
# licenses derived).
#
# Usage: scripts/bench-clickhouse-insert.sh [LICENSES] (default 100000). Starts its own ClickHouse
# (scripts/clickhouse.sh). Runs each of the three twice, alternating. Results go to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
n="${1:-100000}"
source scripts/bench-setup.sh
eval "$(scripts/clickhouse.sh start)"
trap 'scripts/clickhouse.sh stop "$KEYLENS_CLICKHOUSE_DIR"' EXIT
hostport="${KEYLENS_CLICKHOUSE_URL#clickhouse://}"
hostport="${hostport%%/*}"
http_port="${hostport##*:}"
tcp_port=$((http_port + 1000)) # scripts/clickhouse.sh: native port = HTTP port + 1000
ch() { clickhouse-client --host 127.0.0.1 --port "$tcp_port" "$@"; }

echo "== ClickHouse $(ch --query 'SELECT version()'), $n licenses, $events events ($(du -h "$work/events.ndjson" | cut -f1))"

# One column per field of the contract (crates/event/src/validate.rs, FIELDS).
numbers=" lat lon amount seats latency_ms quantity "
columns=""
for f in id type timestamp license_id user_id account_id product tier model region channel \
  machine_id version from_version ip country lat lon amount currency seats term expires_at reason \
  code result latency_ms quantity meter properties source; do
  if [[ "$numbers" == *" $f "* ]]; then t="Nullable(Float64)"; else t="Nullable(String)"; fi
  # The sort key cannot be nullable.
  case "$f" in type | timestamp) t="String" ;; esac
  columns+="${columns:+, }\`$f\` $t"
done

seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$@"; }
rate() { python3 -c "import sys; print(f'{$events / float(sys.argv[1]):,.0f}')" "$1"; }

fresh_table() {
  ch --query "DROP DATABASE IF EXISTS bench_insert"
  ch --query "CREATE DATABASE bench_insert"
  ch --query "CREATE TABLE bench_insert.events ($columns) ENGINE = MergeTree() ORDER BY (type, timestamp)"
}

insert_client() {
  fresh_table
  local s e
  s=$(date +%s.%N)
  ch --query "INSERT INTO bench_insert.events FORMAT JSONEachRow" < "$work/events.ndjson"
  e=$(date +%s.%N)
  check_rows
  seconds "$s" "$e"
}

insert_http() {
  fresh_table
  local s e
  s=$(date +%s.%N)
  python3 - "$http_port" "$work/events.ndjson" <<'PY'
import http.client, os, sys
port, path = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
with open(path, "rb") as f:
    c.request("POST", "/?query=INSERT%20INTO%20bench_insert.events%20FORMAT%20JSONEachRow", body=f,
              headers={"Content-Length": str(os.path.getsize(path))})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"ClickHouse answered {r.status}: {body[:500]!r}")
PY
  e=$(date +%s.%N)
  check_rows
  seconds "$s" "$e"
}

check_rows() {
  local rows
  rows=$(ch --query "SELECT count() FROM bench_insert.events")
  if [ "$rows" != "$events" ]; then
    echo "ClickHouse holds $rows rows of $events" >&2
    exit 1
  fi
}

import_keylens() {
  rm -rf "$work/store"
  local s e
  s=$(date +%s.%N)
  "$bin" import --data "$work/store" "$work/events.ndjson" > /dev/null
  e=$(date +%s.%N)
  seconds "$s" "$e"
}

echo
echo "| run | ClickHouse, clickhouse-client | ClickHouse, HTTP | keylens import |"
echo "|---|---|---|---|"
for run in 1 2; do
  c=$(insert_client)
  h=$(insert_http)
  k=$(import_keylens)
  echo "| $run | $(rate "$c") events/s ($c s) | $(rate "$h") events/s ($h s) | $(rate "$k") events/s ($k s) |"
done
