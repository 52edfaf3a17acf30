#!/usr/bin/env bash
# Valgrind memcheck of Node running the native test files once (slow: not part of `npm test`).
#   scripts/valgrind-memcheck.sh [test files...]
# The addon is build/Release/rope_simd.node (ROPE_SIMD_ADDON overrides). Valgrind's virtual CPU has
# no AVX-512, so dispatch picks AVX2 there; the run repeats with ROPE_SIMD_ISA=scalar to cover that
# table too. vitest runs its tests in worker threads of the one traced process (--pool=threads), so
# memcheck sees every call into the addon. Errors are counted from the XML log per ISA; only errors
# with a frame in rope_simd.node are ours (V8's JIT code confuses memcheck in ways that are not).
# Prints one summary line per ISA; exits non-zero when an error touches rope_simd.node or a test fails.
set -uo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
command -v valgrind >/dev/null || { echo "valgrind-memcheck: valgrind not installed (apt-get install valgrind)"; exit 1; }
src=$(realpath "${ROPE_SIMD_ADDON:-build/Release/rope_simd.node}")
[ -f "$src" ] || { echo "valgrind-memcheck: $src not built (npx node-gyp rebuild)"; exit 1; }
out=build-valgrind
mkdir -p "$out"
# A copy: a rebuild of build/ during the long run must not pull the file away.
addon=$PWD/$out/rope_simd.node
cp "$src" "$addon"
if [ "$#" -gt 0 ]; then files=("$@"); else files=(test/native-binding.test.ts test/edge-values.test.ts); fi

status=0
for isa in avx2 scalar; do
  xml=$out/memcheck-$isa.xml
  t0=$(date +%s)
  cmd=(valgrind --tool=memcheck --error-limit=no --track-origins=no --xml=yes "--xml-file=$xml"
    node --max-old-space-size=2048 node_modules/vitest/vitest.mjs run --pool=threads --no-file-parallelism
    --typecheck.enabled=false --reporter=dot "${files[@]}")
  echo "== ROPE_SIMD_ISA=$isa ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON=$addon ${cmd[*]}"
  ROPE_SIMD_ISA=$isa ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON=$addon "${cmd[@]}" >"$out/vitest-$isa.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - t0 ))
  total=$(grep -c '<error>' "$xml" || true)
  # An error is ours when any frame of its stack lies in the addon.
  ours=$(awk '/<error>/{e=1; hit=0} e && /rope_simd\.node/{hit=1} /<\/error>/{if (hit) n++; e=0} END{print n+0}' "$xml")
  tests=$(grep -E '^ +Tests ' "$out/vitest-$isa.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g; s/^ *//')
  echo "== $isa: vitest exit $rc ($tests), memcheck errors: $total total, $ours in rope_simd.node, ${secs}s"
  [ "$rc" -eq 0 ] && [ "$ours" -eq 0 ] || status=1
  if [ "$ours" -gt 0 ]; then grep -A30 '<error>' "$xml" | head -80; fi
done
exit "$status"
