#!/usr/bin/env bash
# Fuzzes the kernels (test/native/fuzz_kernels.cc) with libFuzzer + ASan + UBSan (clang-14 and
# libclang-rt-14-dev): every ISA this CPU runs vs scalar, on exact-size buffers.
# Usage: scripts/fuzz-kernels.sh [seconds]   (default 60; CI runs the default, longer runs:
#        scripts/fuzz-kernels.sh 3600). Seeds come from test/native/corpus/ (read only: new
#        inputs go to a temp dir, crashes to $FUZZ_DIR/crash-*). Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cxx="${CXX_FUZZ:-clang++-14}"
dir="${FUZZ_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/rope-fuzz.XXXXXX")}"
mkdir -p "$dir/corpus"

echo "== build $dir/fuzz_kernels ($cxx -fsanitize=fuzzer,address,undefined)"
"$cxx" -std=c++17 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -fno-omit-frame-pointer -o "$dir/fuzz_kernels" \
  test/native/fuzz_kernels.cc native/dispatch.cc native/kernels/scalar.cc \
  native/kernels/avx2.cc native/kernels/avx512.cc native/kernels/neon.cc

echo "== fuzz for ${seconds}s"
status=0
(cd "$dir" && ./fuzz_kernels -max_total_time="$seconds" -print_final_stats=1 \
   -artifact_prefix="$dir/" corpus "$OLDPWD/test/native/corpus") > "$dir/fuzz.log" 2>&1 || status=$?
grep -E '^(INFO: Seed|#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|MISMATCH)' "$dir/fuzz.log" || true
runs=$(grep -oE 'Done [0-9]+ runs' "$dir/fuzz.log" | grep -oE '[0-9]+' || echo 0)
if [ "$status" -ne 0 ]; then
  echo "== fuzzing FAILED (exit $status); log: $dir/fuzz.log; reproducer: $(ls "$dir"/crash-* 2>/dev/null | head -1)"
  exit "$status"
fi
echo "== $runs executions ran clean in ${seconds}s (log: $dir/fuzz.log)"
