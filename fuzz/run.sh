#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded time (FUZZ_SECONDS, default 60).
# Inputs that reach new code are kept in a corpus outside the clone
# (FUZZ_CORPUS_DIR, default ~/.cache/gatelog-fuzz-corpus), seeded from fuzz/corpus,
# so each run on a machine starts where the last one stopped. A crash stops the run,
# prints the input and where it is, and fails: fix it and add it as a regression test.
#
# cargo-fuzz needs nightly-only compiler flags; a stable toolchain accepts them with
# RUSTC_BOOTSTRAP=1. No sanitizer: the code is safe Rust (unsafe_code is denied), so
# the fuzzer looks for panics, overflows (debug assertions are on) and broken invariants.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"
corpus_root="${FUZZ_CORPUS_DIR:-$HOME/.cache/gatelog-fuzz-corpus}"
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/gatelog-fuzz-target}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
fuzz=(cargo fuzz)
flags=(-s none --debug-assertions --codegen-units 16 --target-dir "$target_dir")
"${fuzz[@]}" build "${flags[@]}"
for target in $("${fuzz[@]}" list); do
  mkdir -p "$corpus_root/$target" "artifacts/$target"
  before=$(find "$corpus_root/$target" -type f | wc -l)
  echo "fuzzing $target for ${seconds}s (corpus: $before kept inputs + $(find "corpus/$target" -type f | wc -l) seeds)"
  "${fuzz[@]}" run "${flags[@]}" "$target" "$corpus_root/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    2>"artifacts/$target/log.txt" || {
      tail -n 40 "artifacts/$target/log.txt"
      echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
      exit 1
    }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "artifacts/$target/log.txt" | sed "s/^/  $target /"
  kept=$(find "$corpus_root/$target" -type f | wc -l)
  echo "  $target corpus: $kept inputs"
  # Keep the corpus from growing without end over many runs: past FUZZ_CORPUS_MAX inputs
  # (default 20,000), keep only a smallest set with the same coverage.
  if [ "$kept" -gt "${FUZZ_CORPUS_MAX:-20000}" ]; then
    "${fuzz[@]}" cmin "${flags[@]}" "$target" "$corpus_root/$target" >"artifacts/$target/cmin.txt" 2>&1 || true
    echo "  $target corpus minimised: $(find "$corpus_root/$target" -type f | wc -l) inputs"
  fi
done
