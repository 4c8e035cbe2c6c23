//! Copies uPlot's built files, fetched from npm by `scripts/fetch-deps.sh` into the folder named
//! by `KEYLENS_UPLOT_DIR`, next to the build's outputs, where `src/assets.rs` embeds them. The
//! dashboard then works offline with no front-end build step, and uPlot is never copied into the
//! repository. It also bakes the prebuilt DuckDB's folder into the rpath, as build/rpath.rs.
use std::path::PathBuf;

const FILES: &[&str] = &["uPlot.iife.min.js", "uPlot.min.css"];

fn main() {
    // The server's own tests open the embedded store: the prebuilt DuckDB's folder goes into
    // their rpath, as build/rpath.rs does for the crates whose build script it is.
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=KEYLENS_UPLOT_DIR");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let Some(dir) = std::env::var_os("KEYLENS_UPLOT_DIR") else {
        panic!(
            "\n\nKEYLENS_UPLOT_DIR is not set: the dashboard embeds uPlot (npm package uplot), \
             fetched by scripts/fetch-deps.sh.\nBuild through the scripts (scripts/test.sh, \
             scripts/demo.sh) or run `source scripts/env.sh` first.\n\n"
        );
    };
    let dir = PathBuf::from(dir);
    for f in FILES {
        let from = dir.join(f);
        println!("cargo:rerun-if-changed={}", from.display());
        if let Err(e) = std::fs::copy(&from, out.join(f)) {
            panic!(
                "\n\ncannot read {} ({e}): KEYLENS_UPLOT_DIR must hold uPlot's dist files; \
                 run scripts/fetch-deps.sh to fetch them.\n\n",
                from.display()
            );
        }
    }
}
