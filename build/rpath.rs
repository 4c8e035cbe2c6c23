//! Shared build script of every crate that links DuckDB: bakes the folder of the prebuilt
//! `libduckdb.so` (`DUCKDB_LIB_DIR`, set by `scripts/env.sh`) into the rpath of the crate's
//! binaries and tests, so they find the library at run time without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
