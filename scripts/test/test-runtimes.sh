#!/usr/bin/env bash
# The runtime-matrix stage: the whole vitest suite on Node 18, 22, 24 and 26 (the main
# stages run it on Node 20), and scripts/test/smoke-runtime.mjs (sync, async, workers, errors) under Bun and Deno,
# whose output must equal Node's byte for byte. Runtimes come from the npm registry into a cache
# outside the repository (scripts/test/runtimes.sh). The addon: build/Release (native ABI-stable:
# Node-API 8, one binary for every runtime).
#   scripts/test/test-runtimes.sh [node18 node22 node24 node26 bun deno]   (default: all)
set -uo pipefail
cd "$(dirname "$0")/../.."
scripts/test/runtimes.sh >/dev/null || exit 1
addon=${ROPE_SIMD_ADDON:-$PWD/build/Release/rope_simd.node}
[ -f "$addon" ] || { echo "test-runtimes: no addon at $addon (npx node-gyp rebuild)"; exit 1; }
export ROPE_SIMD_ADDON=$addon
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
which=${*:-node18 node22 node24 node26 bun deno}

# lib/ as one ES module for the smoke runs (Bun and Deno run it as plain JavaScript).
node -e "require('esbuild').buildSync({stdin:{contents:\"export * from './lib/index.ts'\",resolveDir:'$PWD',loader:'ts'},bundle:true,platform:'node',format:'esm',outfile:'$tmp/rope-simd.mjs',external:['node-gyp-build'],logLevel:'error',banner:{js:\"import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);\"}})" || exit 1
node scripts/test/smoke-runtime.mjs "$tmp/rope-simd.mjs" >"$tmp/node.json" || { echo "smoke: Node $(node --version) failed"; exit 1; }
grep -q '"backend":"native"' "$tmp/node.json" || { echo "smoke: Node did not load the addon: $(cat "$tmp/node.json")"; exit 1; }
grep -q '"workerSame":true' "$tmp/node.json" || { echo "smoke: worker results differ on Node"; exit 1; }

for r in $which; do
  bin=$(scripts/test/runtimes.sh path "$r")
  s=$(date +%s)
  case $r in
    node*)
      # Native backend (vitest-js covers the JS engine on Node 20), the whole suite: on a quiet
      # 2-core machine ~20-60 s per Node.
      files=()
      if ROPE_SIMD_BACKEND=native "$bin" node_modules/vitest/vitest.mjs run --reporter=dot "${files[@]}" >"$tmp/$r.log" 2>&1; then
        echo "runtimes: $r ($("$bin" --version)) vitest ok ($(( $(date +%s) - s ))s)"
      else
        echo "runtimes: $r ($("$bin" --version)) vitest FAILED"; grep -E "FAIL|Tests " "$tmp/$r.log" | sort -u | head -40; fail=1
      fi
      continue ;;
    bun) out=$(timeout 120 "$bin" scripts/test/smoke-runtime.mjs "$tmp/rope-simd.mjs" 2>"$tmp/$r.err") ;;
    deno) out=$(DENO_NO_UPDATE_CHECK=1 timeout 120 "$bin" run -A --quiet scripts/test/smoke-runtime.mjs "$tmp/rope-simd.mjs" 2>"$tmp/$r.err") ;;
  esac
  if [ "$out" = "$(cat "$tmp/node.json")" ]; then
    echo "runtimes: $r ($("$bin" --version | head -1)) smoke = Node's ($(( $(date +%s) - s ))s)"
  else
    echo "runtimes: $r smoke differs from Node's"; echo " node: $(cat "$tmp/node.json")"; echo " $r: $out"; head -20 "$tmp/$r.err"; fail=1
  fi
done
exit $fail
