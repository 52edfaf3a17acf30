#!/usr/bin/env bash
# Deno and Bun run the wasm engine through the built package (dist/index.js) and give Node's
# results bit for bit: scripts/test/smoke-wasm.mjs under each, with ROPE_SIMD_BACKEND=wasm; then a
# package with no native build at all (a copy of package.json + dist) runs wasm by default under
# each, with Node's ROPE_SIMD_FALLBACK warning. Runtimes come from the npm registry into
# $HOME/.cache/rope-simd-runtimes (scripts/test/runtimes.sh where present; pinned as there).
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${ROPE_SIMD_RUNTIMES:-$HOME/.cache/rope-simd-runtimes}
bun=$cache/bun/node_modules/@oven/bun-linux-x64/bin/bun
deno=$cache/deno/node_modules/@deno/linux-x64-glibc/deno
if [ -x scripts/test/runtimes.sh ]; then
  scripts/test/runtimes.sh >/dev/null
  bun=$(scripts/test/runtimes.sh path bun); deno=$(scripts/test/runtimes.sh path deno)
else
  for spec in "bun @oven/bun-linux-x64@1.4.5 $bun" "deno @deno/linux-x64-glibc@2.9.6 $deno"; do
    set -- $spec
    [ -x "$3" ] && continue
    mkdir -p "$cache/$1"
    (cd "$cache/$1" && echo '{"private":true}' >package.json &&
      npm install --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "$2" >/dev/null)
    chmod +x "$3"
  done
fi
[ -f dist/index.js ] || npm run build:ts >/dev/null
unset ROPE_SIMD_ADDON ROPE_SIMD_ISA

want=$(ROPE_SIMD_BACKEND=wasm node scripts/test/smoke-wasm.mjs)
echo "node: $want"
fail=0
check() { # name output
  echo "$1: $2"
  [ "$2" = "$want" ] || { echo "test-wasm-runtimes: $1 differs from Node"; fail=1; }
}
check bun "$(ROPE_SIMD_BACKEND=wasm "$bun" scripts/test/smoke-wasm.mjs)"
check deno "$(ROPE_SIMD_BACKEND=wasm "$deno" run --allow-env --allow-read scripts/test/smoke-wasm.mjs)"

# No native build anywhere: wasm by default, with the warning (stderr), in each runtime.
bare=$(mktemp -d); trap 'rm -rf "$bare"' EXIT
mkdir -p "$bare/node_modules/rope-simd"
cp package.json "$bare/node_modules/rope-simd/" && cp -r dist "$bare/node_modules/rope-simd/"
ln -s "$PWD/node_modules/node-gyp-build" "$bare/node_modules/node-gyp-build"
cp scripts/test/smoke-wasm.mjs "$bare/smoke.mjs"
entry="$bare/node_modules/rope-simd/dist/index.js"
for rt in node bun deno; do
  case $rt in
    node) cmd=(node "$bare/smoke.mjs" "$entry");;
    bun) cmd=("$bun" "$bare/smoke.mjs" "$entry");;
    deno) cmd=("$deno" run --allow-env --allow-read --allow-ffi "$bare/smoke.mjs" "$entry");;
  esac
  out=$(cd "$bare" && env -u ROPE_SIMD_BACKEND "${cmd[@]}" 2>"$bare/err") || { cat "$bare/err"; fail=1; continue; }
  echo "$rt, no native build: $out"
  grep -q '"backend":"wasm"' <<<"$out" || { echo "test-wasm-runtimes: $rt did not fall back to wasm"; fail=1; }
  grep -q 'ROPE_SIMD_FALLBACK' "$bare/err" || { echo "test-wasm-runtimes: $rt printed no ROPE_SIMD_FALLBACK warning: $(cat "$bare/err")"; fail=1; }
done
[ $fail = 0 ] && echo "test-wasm-runtimes: ok (Bun and Deno run the wasm engine with Node's results)"
exit $fail
