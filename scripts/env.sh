# Sourced by the other scripts: the environment every build of keylens uses.
# DUCKDB_LIB_DIR tells libduckdb-sys where the prebuilt library is; build/rpath.rs bakes the same
# folder into each binary's rpath so it runs without LD_LIBRARY_PATH.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${DUCKDB_LIB_DIR:-}" ]; then
  DUCKDB_LIB_DIR="$("$here/fetch-duckdb.sh")" || { echo "env: could not fetch libduckdb" >&2; return 1 2>/dev/null || exit 1; }
fi
export DUCKDB_LIB_DIR
# One target folder outside the clone, kept between runs (never cargo clean it).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}/target}"
