#!/usr/bin/env bash
# Fetches DuckDB's official prebuilt libduckdb.so (the one DuckDB ships inside its npm package)
# into a cache folder outside the clone, once per version, and prints the folder.
# Compiling DuckDB from source takes about an hour on a 2-core machine; linking this takes seconds.
set -euo pipefail
DUCKDB_NPM_VERSION="1.5.6-r.1" # DuckDB 1.5.6, matching the duckdb crate pinned at =1.10506.1
cache="${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}"
dir="$cache/libduckdb-$DUCKDB_NPM_VERSION"
if [ ! -f "$dir/libduckdb.so" ] || [ "$(cat "$dir/VERSION" 2>/dev/null)" != "$DUCKDB_NPM_VERSION" ]; then
  if ! command -v npm >/dev/null; then
    echo "fetch-duckdb: installing npm (needed once to fetch libduckdb)" >&2
    { apt-get update -qq && apt-get install -y -qq npm >/dev/null; } ||
      { echo "fetch-duckdb: npm is needed to fetch libduckdb; install it (apt-get install -y npm)" >&2; exit 1; }
  fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch-duckdb: fetching @duckdb/node-bindings-linux-x64@$DUCKDB_NPM_VERSION" >&2
  (cd "$tmp" && npm pack --silent "@duckdb/node-bindings-linux-x64@$DUCKDB_NPM_VERSION" >/dev/null)
  tar -xzf "$tmp"/duckdb-node-bindings-linux-x64-*.tgz -C "$tmp" package/libduckdb.so
  mkdir -p "$dir"
  mv "$tmp/package/libduckdb.so" "$dir/libduckdb.so"
  echo "$DUCKDB_NPM_VERSION" > "$dir/VERSION"
fi
echo "$dir"
