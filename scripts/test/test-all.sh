#!/usr/bin/env bash
# `npm test` and `npm run test:all`: the package's tests in stages, one summary line at the end.
#   npm test            (scripts/test/test-all.sh)        what a machine with only Node, npm and g++ runs:
#                       types, the vitest suite on every engine, the x86 kernel tests, the install
#                       script and the packed package. Stages that need more are listed as not run,
#                       with the line that installs their tools.
#   npm run test:all    (scripts/test/test-all.sh --all)  every stage; a missing tool FAILS its stage.
#   ROPE_SIMD_TEST_ONLY="vitest-native vitest-js"   runs just those stages (either mode).
set -u
cd "$(dirname "$0")/../.."
export npm_config_update_notifier=false
all=0
[ "${1:-}" = --all ] && all=1
export ROPE_SIMD_TEST_ALL=$all
passed=0; failed=0; failures=(); not_run=()
t0=$(date +%s)
# One temp dir per run, removed at exit: every script and test below (mktemp, os.tmpdir()) writes
# under it, so two runs never collide and nothing is left behind.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/rope-simd-test.XXXXXX")
trap 'rm -rf "$run_tmp"' EXIT
export TMPDIR="$run_tmp"
apt_line="apt-get install -y $(tr '\n' ' ' < .ci/apt-packages)"

missing_tools() { # prints the tools of "$@" that are not on PATH
  local t out=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || out+=("$t"); done
  echo "${out[*]}"
}

# stage TIER NAME "TOOLS" command...   TIER: core (npm test) or full (test:all only)
stage() {
  local tier=$1 name=$2 tools=$3; shift 3
  if [ -n "${ROPE_SIMD_TEST_ONLY:-}" ] && ! [[ " $ROPE_SIMD_TEST_ONLY " == *" $name "* ]]; then return; fi
  if [ "$all" = 0 ] && [ "$tier" = full ] && [ -z "${ROPE_SIMD_TEST_ONLY:-}" ]; then not_run+=("$name"); return; fi
  local miss; miss=$(missing_tools $tools)
  echo
  if [ -n "$miss" ]; then
    if [ "$all" = 1 ]; then
      failed=$((failed + 1)); failures+=("$name")
      echo "=== [$name] FAILED: missing $miss ($apt_line; CONTRIBUTING.md)"
    else
      not_run+=("$name (needs $miss)")
      echo "=== [$name] not run: missing $miss"
    fi
    return
  fi
  local s; s=$(date +%s)
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
native_files=(test/safety/native-binding.test.ts test/engines/parity.test.ts test/safety/hostile.test.ts test/engines/edge-values.test.ts
  test/engines/async.test.ts test/safety/async-memory.test.ts test/unit/step.test.ts test/engines/threads.test.ts test/engines/conformance.test.ts)
vitest_build() { env "$@" npx vitest run --reporter=dot "${native_files[@]}"; }
build_gyp() { npx node-gyp rebuild >"$run_tmp/gyp.log" 2>&1 || { tail -30 "$run_tmp/gyp.log"; return 1; }; }
build_cmake() { npx cmake-js compile -O build-cmake >"$run_tmp/cmake.log" 2>&1 || { tail -30 "$run_tmp/cmake.log"; return 1; }; }

# --- npm test: Node, npm and g++ -----------------------------------------------------------------
# The type-level tests (test/package/types.test-d.ts) and every source, compiled by TypeScript 5.
stage core types "" node node_modules/typescript/bin/tsc --noEmit -p .
# The TypeScript suite on the backend `npm ci` set up (the prebuild or build/), then on JS and wasm.
stage core vitest-native "" vitest_with ROPE_SIMD_BACKEND=native
# The js and wasm stages skip the files that name every engine they test (vitest.config.ts): the
# native stage already ran those on every engine.
stage core vitest-js "" vitest_with ROPE_SIMD_BACKEND=js ROPE_SIMD_DEFAULT_ENGINE_ONLY=1
stage core vitest-wasm "" vitest_with ROPE_SIMD_BACKEND=wasm ROPE_SIMD_DEFAULT_ENGINE_ONLY=1
# C++ kernels: every ISA this CPU runs against scalar, bit for bit where promised.
stage core kernels "g++" scripts/test/test-kernels.sh --no-qemu
stage core prebuilds-fresh "" node scripts/prebuild/check-prebuilds.mjs
# The packed package installed offline: prebuild used, wasm fallback, --ignore-scripts, and the
# install script's node-gyp build (stale manifest) and its time limit where g++/make/python3 exist.
stage core package "" bash scripts/test/test-package.sh

# --- test:all: cross toolchains, sanitizers, qemu, wine, browsers, other runtimes ----------------
# NEON kernels under qemu (the x86 ones ran in `kernels`).
stage full kernels-neon "aarch64-linux-gnu-g++ qemu-aarch64" scripts/test/test-kernels.sh --qemu-only
stage full kernels-sanitized "clang-14" scripts/test/test-kernels.sh --sanitize
stage full fuzz "clang-14" scripts/test/fuzz-kernels.sh 60
# The wasm engine in Deno and Bun (downloaded into a cache: scripts/test/runtimes.sh), and bundled for a
# page in headless Chromium.
stage full wasm-runtimes "" bash -c 'npm run build:ts >/dev/null && scripts/test/test-wasm-runtimes.sh'
stage full browser-wasm "chromium" bash -c '{ [ -f dist/browser.js ] || npm run build:ts >/dev/null; } && node scripts/test/test-browser.mjs'
# Both build systems, the native-facing tests against each freshly built addon.
stage full build-node-gyp "g++ make python3" build_gyp
stage full vitest-node-gyp "" vitest_build ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON="$PWD/build/Release/rope_simd.node"
stage full build-cmake-js "cmake g++" build_cmake
stage full vitest-cmake-js "" vitest_build ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON="$PWD/build-cmake/Release/rope_simd.node"
# The Node suite against an ASan+UBSan build of the addon.
stage full asan "clang-14" scripts/test/test-asan.sh
# The suite on Node 18/22/24/26, the smoke test under Bun and Deno = Node's (downloaded, ~900 MB cache).
stage full runtimes "" bash scripts/test/test-runtimes.sh
# Prebuilds: glibc <= 2.28 / PE imports, arm64 under qemu, win32-x64 under wine; the wasm module
# is a fresh, reproducible build of the sources.
stage full prebuild-binaries "objdump" node scripts/prebuild/check-prebuilds.mjs --binaries
stage full win32-prebuild "wine" scripts/test/test-win32-prebuild.sh
stage full wasm-fresh "clang-16 wasm-ld-16" bash scripts/build/build-wasm.sh --check
stage full arm64-prebuild "qemu-aarch64" scripts/test/test-arm64-prebuild.sh

echo
if [ "${#not_run[@]}" -gt 0 ]; then
  echo "not run here (npm run test:all runs them; their tools: $apt_line):"
  for n in "${not_run[@]}"; do echo "  - $n"; done
fi
mode="npm test"; [ "$all" = 1 ] && mode="npm run test:all"
echo "$mode: ${#failures[@]} stage(s) failed${failures:+: ${failures[*]}} ($(( $(date +%s) - t0 ))s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
