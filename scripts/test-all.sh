#!/usr/bin/env bash
# `npm test`: every test of the package, in stages, with one summary line at the end.
# A stage whose tools are missing FAILS (naming what to install); nothing is skipped.
#   ROPE_SIMD_TEST_ONLY="vitest-native vitest-js"  runs just those stages (for development).
set -u
cd "$(dirname "$0")/.."
export npm_config_update_notifier=false
passed=0; failed=0; failures=()
t0=$(date +%s)
# One temp dir per run, removed at exit: every script and test below (mktemp, os.tmpdir()) writes
# under it, so two runs never collide and nothing is left behind.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/rope-simd-test.XXXXXX")
trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR="$run_tmp"

stage() { # stage NAME command...
  local name=$1; shift
  if [ -n "${ROPE_SIMD_TEST_ONLY:-}" ] && ! [[ " $ROPE_SIMD_TEST_ONLY " == *" $name "* ]]; then return; fi
  local s; s=$(date +%s)
  echo
  echo "=== [$name] $*"
  if "$@"; then
    passed=$((passed + 1)); echo "=== [$name] ok ($(( $(date +%s) - s ))s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== [$name] FAILED ($(( $(date +%s) - s ))s)"
  fi
}

vitest_with() { env "$@" npx vitest run --reporter=dot; }
# The files that reach the addon's code: what a second build of the same sources must pass (the
# whole suite already ran on the installed addon in vitest-native).
native_files=(test/native-binding.test.ts test/parity.test.ts test/hostile.test.ts test/edge-values.test.ts
  test/async.test.ts test/async-memory.test.ts test/step.test.ts test/threads.test.ts test/conformance.test.ts)
vitest_build() { env "$@" npx vitest run --reporter=dot "${native_files[@]}"; }
build_gyp() { npx node-gyp rebuild >"$run_tmp/gyp.log" 2>&1 || { tail -30 "$run_tmp/gyp.log"; return 1; }; }
build_cmake() { npx cmake-js compile -O build-cmake >"$run_tmp/cmake.log" 2>&1 || { tail -30 "$run_tmp/cmake.log"; return 1; }; }

# 0. The type-level tests (test/*.test-d.ts) and every source, compiled by TypeScript 5.
stage types node node_modules/typescript/bin/tsc --noEmit -p .
# 1. The TypeScript suite on the backend `npm install` set up (the prebuild or build/), then on JS.
stage vitest-native vitest_with ROPE_SIMD_BACKEND=native
stage vitest-js vitest_with ROPE_SIMD_BACKEND=js
stage vitest-wasm vitest_with ROPE_SIMD_BACKEND=wasm
# The wasm engine (docs/wasm.md) in Deno and Bun, and bundled for a page in headless Chromium.
stage wasm-runtimes bash -c 'npm run build:ts >/dev/null && scripts/test-wasm-runtimes.sh'
stage browser-wasm bash -c '{ [ -f dist/browser.js ] || npm run build:ts >/dev/null; } && node scripts/test-browser.mjs'
# 2. Both build systems, the whole suite against each freshly built addon.
stage build-node-gyp build_gyp
stage vitest-node-gyp vitest_build ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON="$PWD/build/Release/rope_simd.node"
stage build-cmake-js build_cmake
stage vitest-cmake-js vitest_build ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON="$PWD/build-cmake/Release/rope_simd.node"
# 3. C++ kernels: every ISA against scalar (x86 here, NEON under qemu-aarch64), then sanitized.
stage kernels bash -c 'source scripts/lib-need.sh && need g++ aarch64-linux-gnu-g++ qemu-aarch64 && scripts/test-kernels.sh'
stage kernels-sanitized bash -c 'source scripts/lib-need.sh && need clang-14 && scripts/test-kernels.sh --sanitize'
stage fuzz bash -c 'source scripts/lib-need.sh && need clang-14 && scripts/fuzz-kernels.sh 60'
# 4. The Node suite against an ASan+UBSan build of the addon.
stage asan bash -c 'scripts/test-asan.sh'
# 4b. Other runtimes: the suite on Node 18/22/24/26, the smoke test under Bun and Deno = Node's.
stage runtimes bash scripts/test-runtimes.sh
# 5. Prebuilds: fresh for these sources, glibc <= 2.28 / PE imports, arm64 runs under qemu, win32-x64
#    under wine, the packed package installs.
stage prebuilds-fresh node scripts/check-prebuilds.mjs
stage prebuild-binaries bash -c 'source scripts/lib-need.sh && need objdump && node scripts/check-prebuilds.mjs --binaries'
stage win32-prebuild bash -c 'source scripts/lib-need.sh && need wine && scripts/test-win32-prebuild.sh'
stage wasm-fresh bash scripts/build-wasm.sh --check
stage arm64-prebuild bash -c 'source scripts/lib-need.sh && need qemu-aarch64 && scripts/test-arm64-prebuild.sh'
stage package bash scripts/test-package.sh

echo
echo "npm test: ${#failures[@]} stage(s) failed${failures:+: ${failures[*]}} ($(( $(date +%s) - t0 ))s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
