#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as on a developer's: installs what it needs
# (npm to fetch libduckdb), fetches the prebuilt DuckDB library once, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  echo "test: installing npm (needed once to fetch libduckdb)" >&2
  apt-get update -qq && apt-get install -y -qq npm >/dev/null
fi
source scripts/env.sh
cargo test --workspace --locked "$@"
