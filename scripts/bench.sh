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
# The generated stream in tmpfs when it has room for twice its size (about 8.5 KB a license),
# the store on disk: on a machine whose memory reclaim pages cached files out, the import read
# the stream back from disk at 5-20 MB/s and took up to twice as long (BENCHMARKS.md, "Session
# 36"). tmpfs cannot be paged out without swap.
stream="$work"
room_mb=$(df -Pm /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -n "$room_mb" ] && [ "$room_mb" -gt $(( n * 17 / 1000 )) ]; then
  stream=$(mktemp -d /dev/shm/keylens-bench.XXXXXX)
fi
trap 'rm -rf "$work" "$stream"' EXIT
echo "== machine"; nproc; grep -m1 'model name' /proc/cpuinfo || true; free -g | head -2
echo "== generate $n licenses"
/usr/bin/time -f "generate: %e s, max RSS %M KiB" "$bin" generate --licenses "$n" --seed 1 --end 2026-11-01 > "$stream/events.ndjson"
events=$(wc -l < "$stream/events.ndjson"); echo "events: $events ($(du -h "$stream/events.ndjson" | cut -f1), in $stream)"
echo "== import (durable, validated, deduplicated, licenses derived)"
/usr/bin/time -f "import: %e s, max RSS %M KiB" -o "$work/time" env KEYLENS_LOG=info "$bin" import --data "$work/store" "$stream/events.ndjson" > /dev/null
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
