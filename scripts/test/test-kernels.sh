#!/usr/bin/env bash
# Builds and runs the standalone C++ kernel tests (test/native/kernels_test.cc, and
# test/native/cache_rows_test.cc: the KV-cache write's rows):
#   1. natively with g++ for baseline x86-64/armv8-a (-O2 -Wall -Wextra -Werror): every ISA this
#      CPU can run against the scalar kernels and the test's own references;
#   2. if aarch64-linux-gnu-g++ and qemu-aarch64 exist, a static aarch64 build under qemu (NEON);
#   --no-qemu runs only 1, --qemu-only only 2 (and fails without the cross tools);
#   or, with --sanitize, ONLY an ASan+UBSan build (clang-14 if present, else g++): the `kernels`
#   stage has already run 1 and 2, `kernels-sanitized` adds just the sanitized run.
# Usage: scripts/test/test-kernels.sh [--sanitize | --no-qemu | --qemu-only] [seed]
# Builds go to $KERNELS_TEST_DIR (default: a fresh temp dir). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

sanitize=0
qemu=1
host=1
seed=""
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    --no-qemu) qemu=0 ;;
    --qemu-only) host=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) seed="$arg" ;;
  esac
done

out="${KERNELS_TEST_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/rope-kernels-test.XXXXXX")}"
mkdir -p "$out"
# native/sources.json's kernelTests list (the kernel files: one per line of native/kernels/isas.def).
read -ra native_src <<< "$(node native/sources.cjs kernelTests)"
src=(test/native/kernels_test.cc "${native_src[@]}")
cache_src=(test/native/cache_rows_test.cc "${native_src[@]}")
flags=(-std=c++17 -O2 -Wall -Wextra -Werror)

run() {  # label, command...
  local label="$1"; shift
  echo "== $label"
  "$@"
}

if [ "$sanitize" = 0 ] && [ "$host" = 1 ]; then
  echo "== build native (g++; both tests at once)"
  g++ "${flags[@]}" -o "$out/cache_rows_test" "${cache_src[@]}" & cache_build=$!
  g++ "${flags[@]}" -o "$out/kernels_test" "${src[@]}"
  wait "$cache_build"
  run "run native" "$out/kernels_test" $seed
  run "run native (cache rows)" "$out/cache_rows_test" $seed
fi

if [ "$sanitize" = 0 ] && [ "$qemu" = 1 ] && command -v aarch64-linux-gnu-g++ >/dev/null && command -v qemu-aarch64 >/dev/null; then
  echo "== build aarch64 (aarch64-linux-gnu-g++ -static)"
  aarch64-linux-gnu-g++ "${flags[@]}" -static -o "$out/kernels_test_aarch64" "${src[@]}"
  run "run aarch64 under qemu-aarch64" qemu-aarch64 "$out/kernels_test_aarch64" $seed
  aarch64-linux-gnu-g++ "${flags[@]}" -static -o "$out/cache_rows_test_aarch64" "${cache_src[@]}"
  run "run aarch64 under qemu-aarch64 (cache rows)" qemu-aarch64 "$out/cache_rows_test_aarch64" $seed
elif [ "$sanitize" = 0 ] && [ "$host" = 0 ]; then
  echo "== aarch64-linux-gnu-g++ or qemu-aarch64 not found"; exit 1
elif [ "$sanitize" = 0 ]; then
  echo "== skipping aarch64/NEON: aarch64-linux-gnu-g++ or qemu-aarch64 not found (or --no-qemu)"
fi

if [ "$sanitize" = 1 ]; then
  cxx=clang++-14
  command -v "$cxx" >/dev/null || cxx=g++
  echo "== build sanitized ($cxx -fsanitize=address,undefined)"
  "$cxx" "${flags[@]}" -g -fsanitize=address,undefined -fno-sanitize-recover=all \
    -fno-omit-frame-pointer -o "$out/kernels_test_asan" "${src[@]}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run "run sanitized" "$out/kernels_test_asan" $seed
  "$cxx" "${flags[@]}" -g -fsanitize=address,undefined -fno-sanitize-recover=all \
    -fno-omit-frame-pointer -o "$out/cache_rows_test_asan" "${cache_src[@]}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run "run sanitized (cache rows)" "$out/cache_rows_test_asan" $seed
fi
echo "== kernel tests passed"
