#!/usr/bin/env bash
# Valgrind memcheck of Node running the native test files once (slow: not part of `npm test`).
#   scripts/test/valgrind-memcheck.sh [test files...]   (default: native-binding, edge-values, hostile)
# The addon is a copy of build/Release/rope_simd.node (ROPE_SIMD_ADDON overrides), so a rebuild
# during the long run cannot pull it away. Valgrind's virtual CPU has no AVX-512, so dispatch picks
# AVX2 there; the run repeats with ROPE_SIMD_ISA=scalar for that table. vitest's worker processes
# (--pool=forks) run under memcheck, one XML log each (the main process too; esbuild, a Go binary,
# is not traced; one worker, so the traced main process keeps up with its RPC). --keep-debuginfo keeps frames of the addon readable after a worker unloads it.
# Only errors with a frame in rope_simd.node are ours: V8's JIT and conservative GC stack scans
# produce reports memcheck cannot understand. Prints one summary line per ISA; exits non-zero when
# an error touches rope_simd.node or a test fails.
set -uo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../.."
command -v valgrind >/dev/null || { echo "valgrind-memcheck: valgrind not installed (apt-get install valgrind)"; exit 1; }
src=$(realpath "${ROPE_SIMD_ADDON:-build/Release/rope_simd.node}")
[ -f "$src" ] || { echo "valgrind-memcheck: $src not built (npx node-gyp rebuild)"; exit 1; }
out=build-valgrind
mkdir -p "$out"
addon=$PWD/$out/rope_simd.node
cp "$src" "$addon"
if [ "$#" -gt 0 ]; then files=("$@"); else files=(test/safety/native-binding.test.ts test/engines/edge-values.test.ts test/safety/hostile.test.ts); fi

status=0
for isa in avx2 scalar; do
  rm -f "$out"/memcheck-$isa.*.xml
  t0=$(date +%s)
  cmd=(valgrind --tool=memcheck --error-limit=no --num-callers=30 --keep-debuginfo=yes --trace-children=yes
    "--trace-children-skip=*esbuild*" --xml=yes "--xml-file=$PWD/$out/memcheck-$isa.%p.xml"
    node node_modules/vitest/vitest.mjs run --pool=forks --maxWorkers=1 --minWorkers=1 --typecheck.enabled=false
    --reporter=dot "${files[@]}")
  echo "== ROPE_SIMD_ISA=$isa ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON=$addon ${cmd[*]}"
  ROPE_SIMD_ISA=$isa ROPE_SIMD_BACKEND=native ROPE_SIMD_ADDON=$addon "${cmd[@]}" >"$out/vitest-$isa.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - t0 ))
  xmls=("$out"/memcheck-$isa.*.xml)
  total=$(cat "${xmls[@]}" | grep -c '<error>' || true)
  # An error is ours when any frame of its stack lies in the addon.
  ours=$(cat "${xmls[@]}" | awk '/<error>/{e=1; hit=0} e && /rope_simd\.node/{hit=1} /<\/error>/{if (hit) n++; e=0} END{print n+0}')
  tests=$(grep -E '^ +Tests ' "$out/vitest-$isa.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g; s/^ *//')
  echo "== $isa: vitest exit $rc ($tests), ${#xmls[@]} processes traced, memcheck errors: $total total, $ours in rope_simd.node, ${secs}s"
  # Under memcheck the main vitest process can miss its 60 s RPC deadline ("Timeout calling
  # onTaskUpdate"): a harness error, not a test result. Failing tests and our errors decide.
  if grep -q 'Timeout calling "onTaskUpdate"' "$out/vitest-$isa.log"; then echo "   (vitest RPC timeout under valgrind: harness only)"; fi
  failed=$(grep -o '[0-9]* failed' <<<"$tests" | head -1 | cut -d' ' -f1)
  [ -n "$tests" ] && [ "${failed:-0}" -eq 0 ] && [ "$ours" -eq 0 ] || status=1
  kinds=$(cat "${xmls[@]}" | awk '/<error>/{e=1; hit=0; k=""} e && /<kind>/{k=$0} e && /rope_simd\.node/{hit=1} /<\/error>/{if (hit) print k; e=0}' |
    sed 's/.*<kind>\(.*\)<\/kind>.*/\1/' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
  [ -n "$kinds" ] && echo "   ours by kind:$kinds"
  if [ "$ours" -gt 0 ]; then
    cat "${xmls[@]}" | awk '/<error>/{e=1; buf=""} e{buf=buf"\n"$0} /<\/error>/{if (buf ~ /rope_simd\.node/) print buf; e=0}' |
      grep -E '<kind>|<text>|<fn>|<file>|<line>' | head -60
  fi
done
exit "$status"
