#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each; scripts/fuzz.sh 10 for a short
# run). Needs cargo-fuzz (cargo install cargo-fuzz). A crash leaves its input under
# fuzz/artifacts/<target>/: turn it into a regression test, then fix.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# The stable toolchain runs cargo-fuzz's instrumentation when told to accept its flags.
export RUSTC_BOOTSTRAP=1
# Its own target folder outside the clone, kept between runs.
export CARGO_TARGET_DIR="${KEYLENS_CACHE_DIR:-$HOME/.cache/keylens}/fuzz-target"
for target in event_body query_params; do
  mkdir -p "corpus/$target"
  work=$(mktemp -d)
  cp -r "corpus/$target/." "$work/"
  echo "== fuzz $target for ${secs}s"
  # KEYLENS_FUZZ_SEED fixes libFuzzer's seed (CI uses 1, so its short run is repeatable); 0 = random.
  cargo fuzz run --sanitizer none "$target" "$work" -- -max_total_time="$secs" -max_len=65536 -seed="${KEYLENS_FUZZ_SEED:-0}"
  rm -rf "$work"
done
