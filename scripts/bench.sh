#!/usr/bin/env bash
# The benchmarks behind BENCHMARKS.md: whole-process import throughput of a generated stream and
# beside the bare-appender floor, then each metric's latency (criterion), the same metrics beside hand-written SQL, the live
# figures under ingest, and HTTP ingest. Usage: scripts/bench.sh [LICENSES] (default 100000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
n="${1:-100000}"
cargo build --release --locked --bin keylens
bin="$CARGO_TARGET_DIR/release/keylens"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo || true; free -g | head -2
echo "== generate $n licenses"
/usr/bin/time -f "generate: %e s, max RSS %M KiB" "$bin" generate --licenses "$n" --seed 1 --end 2026-11-01 > "$work/events.ndjson"
events=$(wc -l < "$work/events.ndjson"); echo "events: $events ($(du -h "$work/events.ndjson" | cut -f1))"
echo "== import (durable, validated, deduplicated, licenses derived)"
/usr/bin/time -f "import: %e s, max RSS %M KiB" -o "$work/time" env KEYLENS_LOG=info "$bin" import --data "$work/store" "$work/events.ndjson" > /dev/null
cat "$work/time"
secs=$(grep -o 'import: [0-9.]*' "$work/time" | cut -d' ' -f2)
echo "import throughput: $(python3 -c "print(round($events / $secs))") events/s"
echo "== import beside the floor a user would hit by hand (bare DuckDB appender)"
KEYLENS_BENCH_LICENSES="$n" cargo bench --locked -p keylens --bench import_floor
echo "== metric latency"
KEYLENS_BENCH_LICENSES="$n" cargo bench --locked -p keylens --bench metrics
echo "== keylens beside hand-written SQL (answers compared first)"
KEYLENS_BENCH_LICENSES="$n" cargo bench --locked -p keylens --bench baseline
echo "== live figures while ingest runs (overview latency, SSE freshness, peak RSS)"
KEYLENS_BENCH_LICENSES="$n" cargo bench --locked -p keylens --bench live
echo "== HTTP ingest and metric latency over HTTP"
cargo bench --locked -p keylens --bench http
