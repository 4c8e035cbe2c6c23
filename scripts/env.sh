# Sourced by the other scripts: the environment every build of keylens uses.
# DUCKDB_LIB_DIR tells libduckdb-sys where the prebuilt library is; build/rpath.rs bakes the same
# folder into each binary's rpath so it runs without LD_LIBRARY_PATH. KEYLENS_UPLOT_DIR is where
# crates/server/build.rs finds the chart library it embeds in the dashboard.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${DUCKDB_LIB_DIR:-}" ] || [ -z "${KEYLENS_UPLOT_DIR:-}" ]; then
  deps="$("$here/fetch-deps.sh")" || { echo "env: could not fetch libduckdb and uPlot" >&2; return 1 2>/dev/null || exit 1; }
  eval "$deps"
fi
export DUCKDB_LIB_DIR KEYLENS_UPLOT_DIR
# One target folder outside the clone, kept between runs (never cargo clean it).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}/target}"
