#!/usr/bin/env bash
# Runs every libFuzzer target of BUILD_DIR for SECONDS each, starting from the
# seed corpus in tests/fuzz/corpus (new inputs go to BUILD_DIR/corpus, never
# into the repository). Fails on the first target that finds a crash; the
# input is left in BUILD_DIR/artifacts. Add it to tests/fuzz/corpus/<target>/
# once fixed, so that `make test` replays it for good.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-60}
cd "$(dirname "$0")/.."
mkdir -p "$build/artifacts"
for target in order_decoder pipeline_config time_format money; do
  work="$build/corpus/$target"
  mkdir -p "$work"
  echo "== fuzzing $target for ${seconds}s"
  "$build/tests/fuzz/${target}_fuzzer" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
    "$work" "tests/fuzz/corpus/$target" 2>"$build/$target.log" || {
      tail -40 "$build/$target.log"
      echo "fuzz: $target FAILED; the input is in $build/artifacts/"
      exit 1
    }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$target.log" | sed "s/^/  /"
done
echo "fuzz: every target ran ${seconds}s clean"
