# Sourced by the other scripts: the environment every build of keylens uses.
# DUCKDB_LIB_DIR tells libduckdb-sys where the prebuilt library is; build/rpath.rs bakes the same
# folder into each binary's rpath so it runs without LD_LIBRARY_PATH.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DUCKDB_LIB_DIR="${DUCKDB_LIB_DIR:-$("$here/fetch-duckdb.sh")}"
# One target folder outside the clone, kept between runs (never cargo clean it).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}/target}"
