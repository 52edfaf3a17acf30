#!/usr/bin/env bash
# The Node test suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the addon.
#   scripts/test/test-asan.sh [vitest file filters...]     (default: the WHOLE vitest suite, async, thread
#                                                     pool, worker_threads and cache tests included)
# Builds build-asan/rope_simd.node from binding.gyp's source list with g++ (a plain command line:
# node-gyp cannot put the sanitizer runtime first in an unsanitized node), then runs vitest with
# ROPE_SIMD_ADDON pointing at it and the ASan runtime LD_PRELOADed into every node process.
# Reports go to build-asan/logs/ (log_path): any report file, or any failing test, fails the script.
# Before trusting a clean run it proves the plumbing catches a planted heap overflow (canary).
# Child processes the tests spawn inherit LD_PRELOAD and ROPE_SIMD_SANITIZED=1: the worker_threads
# example then keeps ROPE_SIMD_ADDON (the sanitized build); only package-entry's children, which
# test the loader's own choice of file, load the unsanitized one (under the ASan runtime still).
# Time-bounded: the build and the run each have a timeout (the run: ROPE_SIMD_ASAN_TIMEOUT, 900 s).
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
t0=$(date +%s)
out=build-asan
logs=$out/logs
mkdir -p "$logs"
rm -f "$logs"/*

# clang: one runtime holds ASan and UBSan, so both honour log_path. g++ also works (its libubsan
# prints to stderr, which the vitest output capture below greps), given CXX=g++.
if [ -z "${CXX:-}" ]; then
  if command -v clang++-14 >/dev/null; then CXX=clang++-14; else CXX=g++; fi
fi
cxx=$CXX
case "$("$cxx" --version | head -1)" in
  *clang*) asan_rt=$("$cxx" -print-file-name=libclang_rt.asan-x86_64.so) ;;
  *) asan_rt=$("$cxx" -print-file-name=libasan.so) ;;
esac
[ -f "$asan_rt" ] || { echo "test-asan: no ASan runtime for $cxx ($asan_rt)"; exit 1; }

read -ra sources <<< "$(node native/sources.cjs addon)"  # what binding.gyp builds
[ "${#sources[@]}" -gt 0 ] || { echo "test-asan: no sources in native/sources.json"; exit 1; }
addon_inc=$(node -p "require('node-addon-api').include_dir")
node_inc=${NODE_INCLUDE:-/usr/include/node}
[ -f "$node_inc/node_api.h" ] || { echo "test-asan: node_api.h not found in $node_inc (set NODE_INCLUDE)"; exit 1; }

san=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# No exceptions: the addon reaches no V8 internals (Node-API only), so every UBSan check applies.
flags=(-std=c++17 -fexceptions -fPIC -O1 -g -fvisibility=hidden "${san[@]}"
  -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED -DBUILDING_NODE_EXTENSION
  -I"$addon_inc" -I"$node_inc" -Inative)

echo "== build $out/rope_simd.node ($cxx ${san[*]}) from ${#sources[@]} sources"
objdir=$out/obj-$(basename "$cxx")
mkdir -p "$objdir"
objs=()
for s in "${sources[@]}"; do objs+=("$objdir/$(basename "${s%.cc}").o"); done
# Two compilers at a time (the machine is shared); each object rebuilt only when stale.
for i in "${!sources[@]}"; do
  s=${sources[$i]} o=${objs[$i]}
  if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$self" -nt "$o" ] || find native \( -name '*.h' -o -name '*.def' \) -newer "$o" | grep -q .; then
    echo "$cxx ${flags[*]} -c $s -o $o"
  fi
done | timeout 150 xargs -P 2 -I{} sh -c '{}'
timeout 30 "$cxx" -shared "${san[@]}" -o "$out/rope_simd.node" "${objs[@]}"
syms=$(nm -D --undefined-only "$out/rope_simd.node")
grep -q __asan_report <<<"$syms" || { echo "test-asan: $out/rope_simd.node is not instrumented"; exit 1; }
grep -q __ubsan_handle <<<"$syms" || { echo "test-asan: $out/rope_simd.node has no UBSan checks"; exit 1; }

export LD_PRELOAD=$asan_rt
# V8 keeps its heap to exit by design: leak checking would only report Node itself.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:halt_on_error=1:log_path=$PWD/$logs/asan:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$PWD/$logs/ubsan"

# Canary: a sanitized object with a heap overflow in a static constructor, dlopen'ed by node the way
# the addon is. If this leaves no report, a clean run below would prove nothing.
cat >"$out/canary.cc" <<'EOF'
#include <cstdlib>
__attribute__((constructor)) static void overflow() {
  volatile char* p = static_cast<char*>(std::malloc(16));
  p[16] = 1;  // one past the end
  std::free(const_cast<char*>(p));
}
EOF
timeout 30 "$cxx" -shared -fPIC -O1 "${san[@]}" -o "$out/canary.node" "$out/canary.cc"
node -e "try { process.dlopen({ exports: {} }, '$PWD/$out/canary.node'); } catch {}" >"$logs/canary.out" 2>&1 || true
# (UBSan's object-size check or ASan's heap-buffer-overflow, whichever sees it first.)
if ! grep -qsE 'heap-buffer-overflow|insufficient space' "$logs"/*; then
  echo "test-asan: the canary overflow was NOT reported: the sanitizer plumbing does not work"; exit 1
fi
rm -f "$logs"/*
echo "== canary: a planted heap overflow is reported (plumbing works)"

files=("$@")  # none: vitest's own include list, i.e. every test file
echo "== vitest against $out/rope_simd.node: ${files[*]:-the whole suite}"
set +e
ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON="$PWD/$out/rope_simd.node" ROPE_SIMD_SANITIZED=1 \
  timeout "${ROPE_SIMD_ASAN_TIMEOUT:-900}" npx vitest run --reporter=dot "${files[@]}" 2>&1 | tee "$out/vitest.log"
status=${PIPESTATUS[0]}
set -e

reports=$(find "$logs" -type f | sort)
if [ -n "$reports" ]; then
  echo "== sanitizer findings:"
  for r in $reports; do echo "--- $r"; head -60 "$r"; done
  [ "$status" -ne 0 ] || status=1
fi
if grep -qE 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$out/vitest.log"; then
  echo "== sanitizer output in the vitest log ($out/vitest.log)"
  [ "$status" -ne 0 ] || status=1
fi
echo "== test-asan: vitest exit $status, $(echo -n "$reports" | grep -c . || true) sanitizer report(s), $(( $(date +%s) - t0 ))s"
exit "$status"
