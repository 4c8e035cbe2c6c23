#!/usr/bin/env bash
# Fetches the two prebuilt third-party pieces the build links or embeds, from the npm registry,
# into a cache folder outside the clone, once per version, and prints them as shell assignments
# (scripts/env.sh evaluates them):
#   DUCKDB_LIB_DIR     DuckDB's official libduckdb.so, from its npm package. Compiling DuckDB from
#                      source takes about an hour on a 2-core machine; linking this takes seconds.
#   KEYLENS_UPLOT_DIR  uPlot's built files (uPlot.iife.min.js, uPlot.min.css), which the server
#                      embeds in the dashboard at build time (crates/server/build.rs).
# Nothing fetched here is copied into the repository.
set -euo pipefail
DUCKDB_NPM_VERSION="1.5.6-r.1" # DuckDB 1.5.6, matching the duckdb crate pinned at =1.10506.1
UPLOT_VERSION="1.6.32"
cache="${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}"

need_npm() {
  if ! command -v npm >/dev/null; then
    echo "fetch-deps: installing npm (needed once to fetch libduckdb and uPlot)" >&2
    { apt-get update -qq && apt-get install -y -qq npm >/dev/null; } ||
      { echo "fetch-deps: npm is needed; install it (apt-get install -y npm)" >&2; exit 1; }
  fi
}

# npm_pack PACKAGE@VERSION DEST FILE...: unpacks the named files of the package into DEST.
npm_pack() {
  local spec="$1" dest="$2"; shift 2
  need_npm
  local tmp
  tmp=$(mktemp -d)
  echo "fetch-deps: fetching $spec" >&2
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" "${@/#/package/}"
  mkdir -p "$dest"
  for f in "$@"; do mv "$tmp/package/$f" "$dest/$(basename "$f")"; done
  rm -rf "$tmp"
}

duckdb="$cache/libduckdb-$DUCKDB_NPM_VERSION"
if [ ! -f "$duckdb/libduckdb.so" ] || [ "$(cat "$duckdb/VERSION" 2>/dev/null)" != "$DUCKDB_NPM_VERSION" ]; then
  npm_pack "@duckdb/node-bindings-linux-x64@$DUCKDB_NPM_VERSION" "$duckdb" libduckdb.so
  echo "$DUCKDB_NPM_VERSION" > "$duckdb/VERSION"
fi

uplot="$cache/uplot-$UPLOT_VERSION"
if [ ! -f "$uplot/uPlot.iife.min.js" ] || [ ! -f "$uplot/uPlot.min.css" ]; then
  npm_pack "uplot@$UPLOT_VERSION" "$uplot" dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE
fi

printf 'DUCKDB_LIB_DIR=%q\nKEYLENS_UPLOT_DIR=%q\n' "$duckdb" "$uplot"
