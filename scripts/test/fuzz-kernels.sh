#!/usr/bin/env bash
# libFuzzer + ASan + UBSan (clang-14 and libclang-rt-14-dev) over two targets:
#   fuzz_kernels (test/native/fuzz_kernels.cc): single rows, every ISA this CPU runs vs scalar, on
#     exact-size buffers;
#   fuzz_walk (test/native/fuzz_walk.cc): the whole walk (geometry, strides, batch, tokens,
#     positions, M-RoPE sections, threads, cos/sin cache on/off, ISA) against a brute-force model
#     with a bounds model (every byte outside the rotated rows unchanged, poisoned canaries).
# Usage: scripts/test/fuzz-kernels.sh [seconds]   (default 60, split 40% kernels / 60% walk; longer
#        runs: scripts/test/fuzz-kernels.sh 3600). Seeds: test/native/corpus/ for fuzz_kernels (read
#        only: new inputs go to a temp dir), crashes to $FUZZ_DIR/crash-*. Non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
cxx="${CXX_FUZZ:-clang++-14}"
dir="${FUZZ_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/rope-fuzz.XXXXXX")}"
mkdir -p "$dir/corpus-kernels" "$dir/corpus-walk" "$dir/obj"
flags=(-std=c++17 -O1 -g -Wall -Wextra -Werror -fsanitize=fuzzer-no-link,address,undefined
       -fno-sanitize-recover=all -fno-omit-frame-pointer -pthread)
# native/sources.json's fuzz list (the kernel files: one per line of native/kernels/isas.def).
read -ra native_src <<< "$(node native/sources.cjs fuzz)"
read -ra kernels <<< "$(node native/sources.cjs kernels)"
shared=("${native_src[@]}" test/native/fuzz_kernels.cc test/native/fuzz_walk.cc)

echo "== build $dir/fuzz_kernels, $dir/fuzz_walk ($cxx -fsanitize=fuzzer,address,undefined)"
for s in "${shared[@]}"; do echo "$s"; done |
  xargs -P 2 -I{} sh -c "$cxx ${flags[*]} -c {} -o $dir/obj/\$(basename {} .cc).o"
o="$dir/obj"
common=("$o/dispatch.o")
for k in "${kernels[@]}"; do common+=("$o/$(basename "$k" .cc).o"); done
link=(-fsanitize=fuzzer,address,undefined -pthread)
"$cxx" "${link[@]}" -o "$dir/fuzz_kernels" "$o/fuzz_kernels.o" "${common[@]}"
# fuzz_walk: every object of the fuzz list (the walk, the pool and its rule, dispatch, kernels).
walk_objs=()
for s in "${native_src[@]}"; do walk_objs+=("$o/$(basename "$s" .cc).o"); done
"$cxx" "${link[@]}" -o "$dir/fuzz_walk" "$o/fuzz_walk.o" "${walk_objs[@]}"

status=0
run() {  # name, seconds, corpus dirs...
  local name="$1" secs="$2"; shift 2
  echo "== fuzz $name for ${secs}s"
  local st=0
  (cd "$dir" && "./$name" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$dir/$name-" "$@") \
    > "$dir/$name.log" 2>&1 || st=$?
  grep -E '^(INFO: Seed|#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|MISMATCH)' "$dir/$name.log" || true
  local runs
  runs=$(grep -oE 'Done [0-9]+ runs' "$dir/$name.log" | grep -oE '[0-9]+' || echo 0)
  if [ "$st" -ne 0 ]; then
    echo "== $name FAILED (exit $st); log: $dir/$name.log; reproducer: $(ls "$dir/$name"-crash-* 2>/dev/null | head -1)"
    status=$st
  else
    echo "== $name: $runs executions ran clean in ${secs}s"
  fi
}
run fuzz_kernels $(( seconds * 2 / 5 )) corpus-kernels "$PWD/test/native/corpus"
run fuzz_walk $(( seconds - seconds * 2 / 5 )) corpus-walk
exit "$status"
