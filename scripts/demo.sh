#!/usr/bin/env bash
# The main job on the embedded store: fetch the prebuilt DuckDB library once, build keylens,
# and run `keylens demo` (a realistic synthetic data set in a fresh store, then the headline
# metrics). Extra arguments go to `keylens demo`, e.g. scripts/demo.sh --licenses 20000.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --release --locked --bin keylens
exec "$CARGO_TARGET_DIR/release/keylens" demo "$@"
