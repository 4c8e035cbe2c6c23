# Sourced by the benchmark scripts that compare with ClickHouse, after `n` (licenses) is set:
# builds the release keylens ($bin), picks the work folder ($work: KEYLENS_BENCH_DIR, or a new
# temporary one), generates $work/events.ndjson for n licenses unless it is there already
# ($events: its number of lines), and prints the machine.
cargo build --release --locked --bin keylens >&2
bin="$CARGO_TARGET_DIR/release/keylens"
work="${KEYLENS_BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
if [ ! -s "$work/events.ndjson" ]; then
  "$bin" generate --licenses "$n" --seed 1 --end 2026-11-01 > "$work/events.ndjson"
fi
events=$(wc -l < "$work/events.ndjson")
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
