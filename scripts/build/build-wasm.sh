#!/usr/bin/env bash
# Builds prebuilds/wasm/rope-simd.wasm: native/walk.cc + the SIMD128 kernels + native/wasm/entry.cc,
# with Debian's clang/lld 16 for wasm32-wasi (apt: clang-16 lld-16 wasi-libc libc++-16-dev-wasm32
# libc++abi-16-dev-wasm32). Then regenerates lib/generated/wasm-bytes.ts (the module inline, for bundlers)
# and prebuilds/wasm/manifest.json (what `scripts/build/build-wasm.sh --check` compares).
#   scripts/build/build-wasm.sh          build + write both
#   scripts/build/build-wasm.sh --check  build into a temp dir and fail if the committed files differ
set -euo pipefail
cd "$(dirname "$0")/../.."
LLVM=${ROPE_SIMD_LLVM:-/usr/lib/llvm-16/bin}
SYSROOT=/usr  # wasi-libc: /usr/include/wasm32-wasi, /usr/lib/wasm32-wasi
for t in "$LLVM/clang++" "$LLVM/wasm-ld" /usr/lib/wasm32-wasi/libc.a /usr/lib/wasm32-wasi/libc++.a /usr/lib/wasm32-wasi/libc++abi.a; do
  [ -e "$t" ] || { echo "build-wasm: missing $t (apt-get install clang-16 lld-16 wasi-libc libc++-16-dev-wasm32 libc++abi-16-dev-wasm32)"; exit 1; }
done
check=0; [ "${1:-}" = "--check" ] && check=1
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
# -nostdinc++: the wasm32 libc++ headers only (not a host libc++-16-dev the same clang would find).
# -fexceptions only lets cossin_cache.h's try/catch parse: nothing here throws (no -fwasm-exceptions:
# a failed allocation traps, which JS sees as a RuntimeError).
CXXFLAGS=(--target=wasm32-wasi --sysroot=$SYSROOT -nostdinc++ -isystem /usr/lib/llvm-16/include/wasm32-wasi/c++/v1
  -O3 -msimd128 -std=c++17 -fexceptions -fno-rtti -ffp-contract=off -Wall -Werror)
read -ra SOURCES <<< "$(node native/sources.cjs wasm)"  # native/sources.json
objs=()
for f in "${SOURCES[@]}"; do
  o="$out/$(basename "$f" .cc).o"
  "$LLVM/clang++" "${CXXFLAGS[@]}" -c "$f" -o "$o"
  objs+=("$o")
done
# 1 MiB stack: the walk's per-call scratch is 64 KiB; memory grows on demand up to 4 GiB.
"$LLVM/wasm-ld" --no-entry -z stack-size=1048576 --initial-memory=2097152 --max-memory=4294967296 \
  --gc-sections --strip-all -o "$out/rope-simd.wasm" "${objs[@]}" -L/usr/lib/wasm32-wasi -lc++ -lc++abi -lc
node scripts/build/wasm-manifest.mjs "$out/rope-simd.wasm" "$out" "${SOURCES[@]}"
if [ $check = 1 ]; then
  fail=0
  for f in prebuilds/wasm/rope-simd.wasm prebuilds/wasm/manifest.json lib/generated/wasm-bytes.ts; do
    cmp -s "$out/$(basename "$f")" "$f" || { echo "build-wasm --check: $f differs from a fresh build of the sources (run scripts/build/build-wasm.sh and commit)"; fail=1; }
  done
  [ $fail = 0 ] && echo "build-wasm --check: ok (prebuilds/wasm/rope-simd.wasm is a fresh build of the sources)"
  exit $fail
fi
mkdir -p prebuilds/wasm
cp "$out/rope-simd.wasm" "$out/manifest.json" prebuilds/wasm/
cp "$out/wasm-bytes.ts" lib/generated/wasm-bytes.ts
echo "build-wasm: prebuilds/wasm/rope-simd.wasm ($(wc -c < prebuilds/wasm/rope-simd.wasm) bytes), lib/generated/wasm-bytes.ts"
